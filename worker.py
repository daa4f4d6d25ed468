"""The back control plane: an RQ worker with the application context, plus the
scheduler's tick (periodic tasks: the sweep, CRL and OCSP refresh).

Run: ``python worker.py`` (reads the same settings as the web app, plus the
key-encryption keyring, which only this process loads)."""
import sys

from app import create_app
from app.config import ConfigurationError
from app.gc_tuning import freeze_startup_heap
from app.jobs.scheduler_thread import SchedulerThread
from app.jobs.worker import build_worker
from app.pki import lint
from app.services.keyring import load_keyring
from app.services.pki_urls import check_setting
from app.services.worker_keys import ensure_worker_key

if __name__ == "__main__":
    app = create_app()
    # New certificates point at PKI_BASE_URL for their CRL and OCSP (required in
    # production; must be plain http).
    try:
        check_setting(app.config)
    except ConfigurationError as refusal:
        sys.exit(f"worker: refusing to start: {refusal}")
    with app.app_context():
        # Fail at start, not at the first job, when the key-encryption key is missing or
        # malformed (in production it must come from KEY_ENCRYPTION_KEYS).
        load_keyring()
        # The key pair the web seals secrets to (provider credentials) is the worker's.
        ensure_worker_key()
    # pkilint's validators are built once per process (~2 s): before the first job.
    lint.warm_up()
    freeze_startup_heap()  # the app's and pkilint's objects leave the collector's walks
    # The first tick runs the sweep of this period unless another worker did: it also
    # picks up work recorded while Redis was unreachable.
    SchedulerThread(app).start()
    build_worker(app).work(with_scheduler=True)
