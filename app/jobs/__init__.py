"""RQ job functions (run by ``worker.py``) and the helpers that enqueue them.

Contract for every job function: it takes ids (never objects), re-reads the database, and
returns quietly when the work is already done, so a retry, a duplicate delivery or a job
re-enqueued after a worker crash is harmless. Job ids are derived from the row they act on.
"""
