"""The back control plane: an RQ worker with the application context.

Run: ``python worker.py`` (reads the same settings as the web app, plus the
key-encryption keyring, which only this process loads)."""
from app import create_app
from app.jobs.worker import build_worker

if __name__ == "__main__":
    build_worker(create_app()).work(with_scheduler=True)
