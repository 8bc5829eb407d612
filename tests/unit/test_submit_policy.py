"""The submit policy and tickets asked again (issue 22): a re-asked invalid answer, or a failed ticket back
after its backoff, waits for the next regular batch instead of sending its own 1-2 ticket batch at once."""

from __future__ import annotations

from zdtriage import config as config_mod
from zdtriage import pipeline, store
from zdtriage.stages import submit
from zdtriage.store import tickets as queue
from zdtriage.timeutil import iso

NOW = 1_790_000_000.0
ENV = {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _ctx(tmp_path, clock):
    cfg = config_mod.parse({"zendesk": {"subdomain": "acme", "email": "bot@acme.com"},
                            "state": {"path": str(tmp_path / "state.db")}}, ENV)  # max_wait 10 min, min_batch 1
    db = store.open_db(cfg.state.path)
    store.set_sync(db, "events_complete", str(NOW + 10 * 86400))  # every conversation is known
    return pipeline.Context(config=cfg, db=db, clock=clock)


def _arrived(ctx, ticket_id: int, at: float) -> None:
    queue.insert_new(ctx.db, [{"id": ticket_id, "state": "queued", "subject": "s", "zd_created_at": at,
                               "zd_updated_at": at, "queued_at": iso(at)}])


def _reasked(ctx, ticket_id: int, arrived: float, at: float) -> None:
    _arrived(ctx, ticket_id, arrived)
    queue.submit(ctx.db, arrived + 600, "b1", [(ticket_id, "zt", 10, 0.01)])
    queue.reask(ctx.db, ticket_id, at, reason="invalid answer: priority")


def test_a_reasked_ticket_waits_max_wait_from_its_reask_not_from_its_arrival(tmp_path):
    clock = Clock(NOW)
    ctx = _ctx(tmp_path, clock)
    _reasked(ctx, 1, arrived=NOW - 3600, at=NOW)  # arrived an hour ago, answer invalid just now
    due, why = submit.policy(ctx)
    assert not due and "waited 0 of 10 min" in why  # before: due at once, a batch of one
    clock.now = NOW + 599
    assert not submit.policy(ctx)[0]
    clock.now = NOW + 600  # alone in the queue it still goes, max_wait after it was queued again
    assert submit.policy(ctx)[0]


def test_a_reasked_ticket_joins_the_next_regular_batch(tmp_path):
    clock = Clock(NOW)
    ctx = _ctx(tmp_path, clock)
    _arrived(ctx, 2, NOW - 300)  # a new ticket, due at NOW + 300
    _reasked(ctx, 1, arrived=NOW - 3600, at=NOW)
    assert queue.waiting(ctx.db, NOW + 86400)["oldest"] == NOW - 300  # the new arrival sets the pace
    assert not submit.policy(ctx)[0]
    clock.now = NOW + 300
    assert submit.policy(ctx)[0]
    assert queue.waiting(ctx.db, NOW + 86400)["queued"] == 2  # both go in that one batch


def test_a_failed_ticket_back_from_its_backoff_waits_like_a_reask(tmp_path):
    clock = Clock(NOW)
    ctx = _ctx(tmp_path, clock)
    _arrived(ctx, 3, NOW - 7200)
    queue.submit(ctx.db, NOW - 6000, "b1", [(3, "zt", 10, 0.01)])
    queue.fail(ctx.db, 3, NOW - 3000, reason="overloaded_error", next_attempt_at=NOW - 60)
    assert queue.promote_due(ctx.db, NOW) == 1
    assert not submit.policy(ctx)[0]
    clock.now = NOW + 600
    assert submit.policy(ctx)[0]
