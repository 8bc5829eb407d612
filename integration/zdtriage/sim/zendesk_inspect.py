"""The part of the Zendesk simulator that the real API lacks: seeding, inspection, faults.

``ZendeskInspection`` is mixed into ``ZendeskSim``. Its methods are the Python interface the
tests, the demo and the benchmarks use; the same operations are served over HTTP under
``/_sim/`` (no auth, no rate limits, no injected faults):

| HTTP | Python |
|---|---|
| ``POST /_sim/seed {"n", "seed", "history"}`` | ``seed(n, seed, history=False)`` |
| ``POST /_sim/tickets {fields}`` | ``add_ticket(**fields)`` |
| ``POST /_sim/tickets/{id}/reply {"body", "author_id"}`` | ``add_customer_reply(id, body, author_id=None)`` |
| ``POST /_sim/tickets/{id}/merge {"into", "public"}`` | ``merge(id, into, public=True)`` |
| ``GET /_sim/tickets`` | ``snapshot()`` |
| ``GET /_sim/calls`` | ``call_counts()`` |
| ``GET /_sim/stats`` | ``stats()`` |
| ``PUT /_sim/faults {"rate_429", "rate_500", "rate_503", "seed", "latency_seconds"}`` | ``set_faults(...)`` |
| ``POST /_sim/bulk_update {"ids", "changes", "at"}`` | ``bulk_update(ids, changes, at)`` |
| ``POST /_sim/export_budget {"calls"}`` | ``use_export_budget(calls)`` |
"""

from __future__ import annotations

import contextlib
import gc
import random
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from zdtriage.sim import corpus
from zdtriage.sim import zendesk_shapes as shapes
from zdtriage.sim.server import Handler, Request, Response
from zdtriage.sim.zendesk_store import AGENT_IDS, BOT_USER_ID, ApiError, Store, Ticket, comments_of


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Seeding allocates millions of small objects; the cyclic GC rescanning them all (they hold
    no cycles) made seeding 100,000 tickets several times slower. Process-wide, but only for
    the duration of one seed() call, and the previous state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ZendeskInspection:
    """Seeding and inspection for ``ZendeskSim`` (which provides the attributes declared here)."""

    store: Store
    lock: threading.RLock
    clock: Callable[[], float]
    latency_seconds: float
    _faults: dict[str, float]
    _fault_rng: random.Random
    _counters: dict[str, int]
    _export: Any  # the shared export window (zendesk._Window)
    _account: Any  # the account-wide window (zendesk._Window)

    if TYPE_CHECKING:  # provided by SimServer; declared for type checkers only (MRO!)

        def route(self, method: str, pattern: str, handler: Handler) -> None: ...

        def call_counts(self) -> dict[str, int]: ...

    def _now(self) -> int:
        return int(self.clock())

    def _register_sim_routes(self) -> None:
        self.route("POST", "/_sim/seed", self._sim_seed)
        self.route("POST", "/_sim/tickets", self._sim_add_ticket)
        self.route("GET", "/_sim/tickets", self._sim_tickets)
        self.route("POST", "/_sim/tickets/{id}/reply", self._sim_reply)
        self.route("POST", "/_sim/tickets/{id}/merge", self._sim_merge)
        self.route("GET", "/_sim/calls", lambda r: Response(200, {"calls": self.call_counts()}))
        self.route("GET", "/_sim/stats", lambda r: Response(200, self.stats()))
        self.route("PUT", "/_sim/faults", self._sim_faults)
        self.route("POST", "/_sim/bulk_update", self._sim_bulk_update)
        self.route("POST", "/_sim/export_budget", self._sim_export_budget)

    # -- /_sim/ over HTTP -------------------------------------------------------------------
    def _sim_seed(self, request: Request) -> Response:
        body = request.json() or {}
        return Response(201, {"ids": self.seed(int(body.get("n", 10)), int(body.get("seed", 0)),
                                               history=bool(body.get("history")))})

    def _sim_add_ticket(self, request: Request) -> Response:
        return Response(201, {"ticket": self.add_ticket(**(request.json() or {}))})

    def _sim_reply(self, request: Request) -> Response:
        body = request.json() or {}
        try:
            author = body.get("author_id")
            return Response(
                201,
                {
                    "ticket": self.add_customer_reply(
                        int(request.params["id"]), str(body.get("body", "")), author_id=int(author) if author else None
                    )
                },
            )
        except KeyError:
            return Response(404, shapes.NOT_FOUND)

    def _sim_merge(self, request: Request) -> Response:
        body = request.json() or {}
        try:
            self.merge(int(request.params["id"]), int(body["into"]), public=bool(body.get("public", True)))
        except KeyError:
            return Response(404, shapes.NOT_FOUND)
        except ApiError as exc:
            return Response(exc.status, exc.body)
        return Response(200, {"ticket": self.ticket(int(body["into"]))})

    def _sim_bulk_update(self, request: Request) -> Response:
        body = request.json() or {}
        at = body.get("at")
        updated = self.bulk_update([int(i) for i in body.get("ids") or []], dict(body.get("changes") or {}),
                                   at=int(at) if at is not None else None)
        return Response(200, {"updated": updated})

    def _sim_export_budget(self, request: Request) -> Response:
        body = request.json() or {}
        return Response(200, {"remaining": self.use_export_budget(int(body.get("calls", 1)))})

    def _sim_tickets(self, request: Request) -> Response:
        return Response(200, {"tickets": self.snapshot()})

    def _sim_faults(self, request: Request) -> Response:
        body = request.json() or {}
        if "latency_seconds" in body:
            self.latency_seconds = float(body["latency_seconds"])
        rates = {k: float(body[k]) for k in ("rate_429", "rate_500", "rate_503") if k in body}
        self.set_faults(**{**self._faults, **rates}, seed=body.get("seed"))
        return Response(200, {"faults": dict(self._faults), "latency_seconds": self.latency_seconds})

    # -- Python inspection API --------------------------------------------------------------
    def seed(self, n: int, seed: int, *, history: bool = False) -> list[int]:
        """Add ``n`` tickets from ``corpus.generate(n, seed)`` (``history``: the solved history of
        ``corpus.history(n, seed)``), opened hours to days before the clock's now and last changed at
        least an hour ago, so the next export returns them. Solved tickets carry the agent's native
        priority, type and category field (the corpus's ground truth)."""
        with self.lock, _gc_paused():
            now = self.clock()
            ids = []
            first_id = len(self.store.tickets) + 1
            for offset, spec in enumerate(corpus.history(n, seed) if history else corpus.generate(n, seed)):
                created = int(now - spec["created_offset_seconds"])
                # the thread fills the first half of the ticket's life: all of it is >= 1 h old
                step = spec["created_offset_seconds"] / 2 / (len(spec["comments"]) + 1)
                agent = AGENT_IDS[(first_id + offset) % len(AGENT_IDS)]
                thread = [
                    (
                        c["body"],
                        c["public"],
                        None if c["author"] == "customer" else agent,
                        int(created + (k + 1) * step),
                    )
                    for k, c in enumerate(spec["comments"])
                ]
                t = self.store.create_ticket(
                    subject=spec["subject"],
                    description=spec["description"],
                    created_at=created,
                    status=spec["status"],
                    priority=spec["priority"],
                    tags=spec["tags"],
                    thread=thread,
                    reindex=False,
                    type=spec.get("type"),
                    custom_fields=spec.get("custom_fields"),
                )
                ids.append(t.id)
            self.store.resort()
            return ids

    def add_ticket(self, **fields: Any) -> dict[str, Any]:
        """Add one ticket and return its snapshot.

        Fields: ``subject``, ``description`` (the first, public comment), ``status``, ``tags``,
        ``priority``, ``type``, ``created_at`` (epoch; default now, so it is exported only after
        ``export_exclude_recent_seconds``), ``custom_fields`` ({id: value} or [{id, value}]),
        ``comments`` ([{body, public, author: "customer"|"agent"|"cc"|user id, created_at}]): ``cc`` is an end
        user copied on the ticket (a new one, added to its CCs), ``customer`` the requester."""
        with self.lock:
            now = self._now()
            created = int(fields.get("created_at") or now)
            custom = fields.get("custom_fields") or {}
            if isinstance(custom, list):
                custom = {int(item["id"]): item.get("value") for item in custom}
            thread: list[tuple[str, bool, int | None, int]] = []
            ccs: list[int] = []
            for k, c in enumerate(fields.get("comments") or []):
                author = c.get("author", "customer")
                if author == "cc":
                    ccs.append(self.store.new_end_user())
                author_id = (None if author == "customer" else AGENT_IDS[0] if author == "agent"
                             else ccs[-1] if author == "cc" else int(author))
                at = int(c.get("created_at") or created + k + 1)
                thread.append((str(c["body"]), bool(c.get("public", True)), author_id, at))
            t = self.store.create_ticket(
                subject=str(fields.get("subject", "Sample ticket")),
                description=str(fields.get("description", "")),
                created_at=created,
                status=str(fields.get("status", "new")),
                priority=fields.get("priority"),
                type=fields.get("type"),
                tags=fields.get("tags") or [],
                custom_fields={int(k): v for k, v in custom.items()},
                thread=thread,
                cc_ids=tuple(ccs),
            )
            return self._snapshot_one(t)

    def add_customer_reply(self, ticket_id: int, body: str, author_id: int | None = None) -> dict[str, Any]:
        """A public comment by the requester, or by ``author_id`` (an end user copied on it), bumping
        updated_at / generated_timestamp. A reply to a closed ticket creates a follow-up ticket with the
        closed ticket's tags, as Zendesk does; that ticket is returned."""
        with self.lock:
            t = self.store.tickets[int(ticket_id)]
            return self._snapshot_one(self.store.customer_reply(t, body, self._now(), author_id=author_id))

    def merge(self, source_id: int, target_id: int, *, public: bool = True, author_id: int = AGENT_IDS[0]) -> None:
        """An agent merges ticket ``source_id`` into ``target_id`` in Zendesk (``Store.merge``): the source is
        closed with a comment, the target gets a comment (``public``: the requester can see it)."""
        with self.lock:
            store = self.store
            store.merge(store.get(source_id), store.get(target_id), author_id, self._now(), target_public=public)

    def close(self, ticket_id: int) -> None:
        """An agent (or the automation that closes solved tickets after some days) closes the ticket."""
        with self.lock:
            self.store.update(self.store.get(ticket_id), {"status": "closed"}, AGENT_IDS[0], self._now(),
                              channel="web", api=False)

    def bulk_update(self, ids: list[int], changes: dict[str, Any], at: int | None = None,
                    author_id: int = AGENT_IDS[0]) -> list[int]:
        """Apply the same ``changes`` (a ``PUT /tickets/{id}`` body) to every ticket in ``ids``, all in the
        one second ``at`` (default now): what a macro or a bulk close of 2,000 tickets does. Every ticket
        gets its own audit in that second; closed and deleted tickets are left out. Not counted in
        ``stats()`` as API updates (an agent did it in Zendesk). Returns the ids changed."""
        with self.lock:
            stamp = self._now() if at is None else int(at)
            done = []
            for ticket_id in ids:
                t = self.store.tickets.get(int(ticket_id))
                if t is None or t.deleted or t.status == "closed":
                    continue
                self.store.update(t, dict(changes), author_id, stamp, channel="web", api=False)
                done.append(t.id)
            return done

    def use_export_budget(self, calls: int = 1) -> int:
        """Spend ``calls`` of this minute's incremental-export requests, as another tool of the account
        would (the budget is the account's). Returns what is left this minute."""
        with self.lock:
            now = self.clock()
            for _ in range(max(0, calls)):
                self._export.hit(now)
            return self._export.remaining()

    def delete_ticket(self, ticket_id: int) -> None:
        """Soft-delete a ticket (it then exports with status ``deleted``)."""
        with self.lock:
            self.store.delete(self.store.tickets[int(ticket_id)], BOT_USER_ID, self._now())

    def snapshot(self) -> list[dict[str, Any]]:
        """Every ticket, deleted ones included, with tags, fields and all comments."""
        with self.lock:
            self.store.process_jobs(self.clock(), BOT_USER_ID)
            return [self._snapshot_one(t) for t in self.store.tickets.values()]

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """The snapshot of one ticket."""
        with self.lock:
            self.store.process_jobs(self.clock(), BOT_USER_ID)
            return self._snapshot_one(self.store.tickets[int(ticket_id)])

    @staticmethod
    def _snapshot_one(t: Ticket) -> dict[str, Any]:
        return {
            "id": t.id,
            "subject": t.subject,
            "status": "deleted" if t.deleted else t.status,
            "tags": list(t.tags),
            "priority": t.priority,
            "type": t.type,
            "custom_fields": [{"id": k, "value": v} for k, v in t.custom_fields.items()],
            "requester_id": t.requester_id,
            "created_at": shapes.iso(t.created_at),
            "updated_at": shapes.iso(t.updated_at),
            "generated_timestamp": t.gts,
            "followup_ids": list(t.followup_ids),
            "followup_source": t.followup_source,
            "cc_ids": list(t.cc_ids),
            "comments": [
                {
                    "id": c.id,
                    "body": c.body,
                    "public": c.public,
                    "author_id": c.author_id,
                    "created_at": shapes.iso(c.created_at),
                }
                for c in comments_of(t)
            ],
        }

    def set_faults(
        self, rate_429: float = 0.0, rate_500: float = 0.0, rate_503: float = 0.0, seed: int | None = None
    ) -> None:
        """Answer this share of real-API requests with an injected 429 / 500 / 503 (seeded)."""
        with self.lock:
            self._faults = {"rate_429": float(rate_429), "rate_500": float(rate_500), "rate_503": float(rate_503)}
            if seed is not None:
                self._fault_rng = random.Random(seed)

    def jobs(self) -> list[dict[str, Any]]:
        """Every update_many job, also those whose status has expired: ``{id, status, stuck, results}``, oldest
        first; for tests that follow a stuck job to its late run."""
        with self.lock:
            self.store.process_jobs(self.clock(), BOT_USER_ID)
            return [{"id": j.id, "status": j.status, "stuck": j.stuck, "results": list(j.results or [])}
                    for j in self.store.every_job]

    def stats(self) -> dict[str, Any]:
        """Counters for tests and benchmarks (see the keys)."""
        with self.lock:
            self.store.process_jobs(self.clock(), BOT_USER_ID)
            self._account.accrue(self.clock())  # the other app's calls go on between requests
            return {
                **self._counters,
                "ticket_updates": self.store.ticket_updates,
                "max_ticket_updates_per_minute": self.store.max_ticket_updates_per_minute,
                "jobs_in_flight": self.store.in_flight(),
                "tickets": len(self.store.tickets),
                # the account limit: our requests in the busiest window, the other app's, the least left after ours
                "own_peak_per_minute": self._account.peak_own,
                "other_app_requests": self._account.background_total,
                "other_app_refused": self._account.background_refused,
                "min_remaining_after_own": self._account.min_left,
            }
