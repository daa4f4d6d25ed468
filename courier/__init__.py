"""Reference courier client: gets a certificate from the platform's courier API.

Run ``python -m courier --config courier.yaml``. See ``courier/README.md``."""
