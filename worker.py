"""The back control plane: an RQ worker with the application context.

Run: ``python worker.py`` (reads the same settings as the web app, plus the
key-encryption keyring, which only this process loads)."""
from app import create_app
from app.jobs.worker import build_worker
from app.services.pki import requeue_pending

if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        # Work recorded while Redis was unreachable is still in the database: pick it up.
        requeue_pending()
    build_worker(app).work(with_scheduler=True)
