"""Keep a long-lived process's own startup objects out of the garbage collector's way.

A web or worker process builds tens of thousands of objects once (modules, SQLAlchemy
mappers and compiled statements, Jinja templates, pkilint's validators) and keeps them
until it exits. Python's cyclic collector walks every tracked object on each full
collection, and a request or job allocating thousands of ORM objects triggers those
often: the walk over objects that can never be garbage showed as ~7 % of a courier batch
request's time. ``gc.freeze()`` moves everything alive now into a permanent generation
that later collections skip (what the ``gc`` documentation recommends for long-running
servers); nothing is leaked, these objects were never going to be freed."""
from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect once, then freeze what is left; returns how many objects were frozen.
    Call at the end of a process's start-up, before it serves anything."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
