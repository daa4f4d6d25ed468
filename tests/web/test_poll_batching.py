"""Status polls read in batches (``PollReader.read_many``, ``web/poll_batching.py``): a
batch answers each poll exactly as its own read would, and concurrent greenlets' polls
share one read."""
from __future__ import annotations

import uuid
from datetime import timedelta

import gevent
import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Order, User, UserSession
from app.models.base import utcnow
from app.services import status_fragments
from app.services.sessions import Limits
from app.web.poll_batching import BatchedPollReader, batching
from tests.conftest import login, make_user
from tests.web.test_orders import _submit
from tests.web.test_orders import setup as setup  # the fixture

LIMITS = Limits(idle=timedelta(hours=1), maximum=timedelta(hours=12))


class CountingReader(status_fragments.PollReader):
    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.batches: list[int] = []

    def read_many(self, asks, now, limits):
        self.batches.append(len(asks))
        return super().read_many(asks, now, limits)


def _token_hashes(app, emails: tuple[str, ...]) -> list[str]:
    """A new session's token hash for each login (through the form, a browser each)."""
    hashes = []
    for email in emails:
        login(app.test_client(), email)
        with app.app_context():
            user_id = db.session.scalar(select(User.id).where(User.email == email))
            hashes.append(db.session.scalar(
                select(UserSession.token_hash).where(UserSession.user_id == user_id)
                .order_by(UserSession.id.desc()).limit(1)))
    return hashes


@pytest.fixture
def asks(app, setup) -> list[tuple[str, uuid.UUID]]:
    """Polls of every kind: two users' live sessions on open orders, an ended session, a
    user who must change the password, an unknown token, a missing and a finished order."""
    make_user(app, "u3@example.com", role="user", domains=("example.com",))
    open_1 = uuid.UUID(_submit(app, "u1@example.com", issuer=setup))
    open_2 = uuid.UUID(_submit(app, "u2@example.com", issuer=setup))
    done = uuid.UUID(_submit(app, "u1@example.com", issuer=setup))
    u1, u2, u3, ended = _token_hashes(
        app, ("u1@example.com", "u2@example.com", "u3@example.com", "u1@example.com"))
    with app.app_context():
        db.session.execute(update(UserSession).where(UserSession.token_hash == ended)
                           .values(ended_at=utcnow(), end_reason="logout"))
        db.session.execute(update(User).where(User.email == "u3@example.com")
                           .values(must_change_password=True))
        db.session.execute(update(Order).where(Order.id == done).values(status="complete"))
        db.session.commit()
    return [(u1, open_1), (u2, open_2), (u1, open_2), (ended, open_1), (u3, open_1),
            ("0" * 64, open_1), (u2, uuid.uuid4()), (u1, done), (u2, open_2)]


def test_a_batch_answers_each_poll_as_its_own_read_would(app, asks) -> None:
    with app.app_context():
        reader, now = status_fragments.PollReader(db.engine), utcnow()
        one_by_one = [reader.read(h, o, now, LIMITS) for h, o in asks]
        together = reader.read_many(asks, now, LIMITS)
    assert together == one_by_one
    assert together[5] is None                                     # unknown session
    usable = [p.session_usable for p in together if p is not None]
    assert usable == [True, True, True, False, False, True, True, True]
    fingerprints = [p.fingerprint if p else None for p in together]
    assert fingerprints[0] and fingerprints[1] and fingerprints[1] == fingerprints[2]
    assert fingerprints[0] != fingerprints[1]
    assert fingerprints[6:8] == [None, None]                       # missing, finished order


def test_concurrent_greenlets_share_one_read(app, asks) -> None:
    with app.app_context():
        reader = CountingReader(db.engine)
        expected = reader.read_many(asks, utcnow(), LIMITS)
        reader.batches.clear()
        batched = BatchedPollReader(reader, max_batch=4)
        greenlets = [gevent.spawn(batched.read, h, o, utcnow(), LIMITS) for h, o in asks]
        gevent.joinall(greenlets, raise_error=True)
        assert [g.value for g in greenlets] == expected
        assert reader.batches == [4, 4, 1]   # gathered while none was in flight
        alone = batched.read(*asks[0], utcnow(), LIMITS)  # nothing to gather: one read
        assert alone == expected[0] and reader.batches[-1] == 1


def test_a_failed_read_fails_every_poll_of_its_batch(app, asks) -> None:
    class Broken(status_fragments.PollReader):
        def read_many(self, asks, now, limits):
            raise self.errors[-1]("down")

    with app.app_context():
        batched = BatchedPollReader(Broken(db.engine))
        greenlets = [gevent.spawn(batched.read, h, o, utcnow(), LIMITS) for h, o in asks[:3]]
        gevent.joinall(greenlets)
        assert all(isinstance(g.exception, batched.errors) for g in greenlets)
        assert batched._reading is False  # the next poll reads again


def test_only_a_gevent_worker_batches(app) -> None:
    """This test process has no patched sockets: one read per poll, as before."""
    with app.app_context():
        reader = status_fragments.PollReader(db.engine)
    assert batching(reader) is reader
