"""Outbound network access (to CAs, later webhooks): one guarded HTTP session and the
address checks behind it. No Flask, no models: settings arrive as an ``OutboundPolicy``."""
