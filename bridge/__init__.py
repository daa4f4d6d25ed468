"""The Bridge: an agent near the servers that polls the platform over HTTPS (no inbound
port), deploys the certificates it is given (files written atomically inside its
``allowed_paths``, reload, probe) and reports every step. ``python -m bridge --config
bridge.yaml``; see docs/bridge.md."""

__version__ = "1.0.0"
