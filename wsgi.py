"""WSGI entry point of the web server: ``gunicorn wsgi:app``.

The web process must never hold the key-encryption key (only the worker decrypts private
keys), so in production it refuses to start when KEY_ENCRYPTION_KEYS is in its
environment. ``worker.py`` and the ``flask`` CLI build the same app without this check."""
import os
import sys

from app.services.keyring import kek_in_web_environment

refusal = kek_in_web_environment(os.environ)
if refusal:
    print(f"wsgi: refusing to start: {refusal}", file=sys.stderr, flush=True)
    # 3 is gunicorn's "worker failed to boot": the master stops instead of respawning.
    sys.exit(3)

from app import create_app  # noqa: E402  (only once the environment is acceptable)
from app.gc_tuning import freeze_startup_heap  # noqa: E402

app = create_app()
freeze_startup_heap()  # the app's start-up objects leave the collector's walks
