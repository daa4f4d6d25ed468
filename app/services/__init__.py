"""Use cases: the only layer that commits. Views and CLI commands call these."""
