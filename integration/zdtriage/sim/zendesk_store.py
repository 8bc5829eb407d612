"""State and rules of the Zendesk simulator: tickets, comments, audits, jobs.

No HTTP here. The caller (``zendesk.ZendeskSim``) holds the lock. Rule violations raise
:class:`ApiError` carrying the status and body the real API would send.

Indexes kept for speed with 100,000 tickets: tickets sorted by ``(generated_timestamp, id)``
and audits sorted by ``(timestamp, id)``, both searched with ``bisect`` so an export page
costs O(log n + page size).
"""

from __future__ import annotations

import bisect
import calendar
import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from zdtriage.sim import zendesk_shapes as shapes

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = (None, "low", "normal", "high", "urgent")
TYPES = (None, "problem", "incident", "question", "task")
MAX_BULK = 100
BOT_USER_ID, AGENT_IDS = shapes.BOT_USER_ID, shapes.AGENT_IDS  # where the simulator's callers find them
REQUESTER_BASE = 1_800_000_000_000
CC_BASE = 1_700_000_000_000  # end users copied on a ticket (a requester's colleague): role end-user
_ID_STRIDE = 64  # an audit id leaves room for its child events (comment = id+1, changes = id+2…)


class ApiError(Exception):
    """A rejection with the real API's status and body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


# Comments and audits are *stored* as exact tuples of plain values (``tuple(Comment(...))``):
# CPython's cyclic GC stops tracking those, while it scans every NamedTuple or object. With
# 100,000 tickets that halved export time in-process. ``Comment._make(raw)`` /
# ``audit_view(raw)`` give named access when rendering.
RawComment = tuple
RawAudit = tuple


Comment = shapes.Comment


@dataclass(slots=True)
class Ticket:
    id: int
    subject: str
    status: str
    priority: str | None
    tags: tuple[str, ...]
    requester_id: int
    created_at: int
    updated_at: int
    gts: int
    channel: str = "email"
    type: str | None = None
    assignee_id: int | None = None
    custom_fields: dict[int, Any] = field(default_factory=dict)
    comments: tuple[RawComment, ...] = ()
    followup_ids: tuple[int, ...] = ()
    deleted: bool = False
    followup_source: int | None = None  # the closed ticket this one follows up (via.source.rel "follow_up")
    cc_ids: tuple[int, ...] = ()  # end users copied on the ticket (email_cc_ids / collaborator_ids)


class Audit(NamedTuple):
    """One update of a ticket: field changes ``(field, value, previous)``, maybe a comment, and the
    trigger e-mails it sent (keys of ``zendesk_shapes.TRIGGERS``)."""

    id: int
    ticket_id: int
    created_at: int
    author_id: int
    channel: str
    kind: str  # "Create" | "Change"
    changes: tuple[tuple[str, Any, Any], ...]
    comment: Comment | None = None
    notifications: tuple[str, ...] = ()


# Which standard triggers fire (Zendesk "About the standard Support triggers"): a new ticket e-mails its
# requester and all agents; a public comment by anyone but the requester e-mails the requester. The
# requester-and-CCs e-mail "is suppressed when internal notes are added to a ticket" (Zendesk
# "Customizing default email notifications to CCs and followers"), so a private note sends nothing.
_CREATED = ("received", "agents")
_COMMENT_UPDATE = ("comment_update",)


def comment_raw(*fields: Any) -> RawComment:
    return tuple(Comment(*fields))


def audit_raw(*fields: Any) -> RawAudit:
    return tuple(Audit(*fields))


def audit_view(raw: RawAudit) -> Audit:
    audit = Audit._make(raw)
    return audit if audit.comment is None else audit._replace(comment=Comment._make(audit.comment))


def comments_of(t: Ticket) -> list[Comment]:
    return [Comment._make(raw) for raw in t.comments]


@dataclass(slots=True)
class Job:
    id: str
    created_at: float
    due_at: float
    items: list[tuple[int | None, dict[str, Any]]]
    status: str = "queued"
    progress: int | None = None
    message: str | None = None
    results: list[dict[str, Any]] | None = None
    stuck: bool = False  # stays ``queued`` until ``due_at`` (inf: never runs); no ``working`` phase

    @property
    def total(self) -> int:
        return len(self.items)


def normalize_tags(values: Any) -> list[str]:
    """Zendesk stores tags lower-case and splits a tag containing spaces into several."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        for part in str(value).lower().split():
            if part not in out:
                out.append(part)
    return out


def parse_iso(value: str) -> int:
    value = value.strip().replace("+00:00", "Z")
    if "." in value:
        value = value.split(".")[0] + "Z"
    return calendar.timegm(time.strptime(value, shapes.ISO))


class Store:
    """Every ticket, comment, audit and job of one simulated account."""

    def __init__(self, triggers: bool = True) -> None:
        self.triggers = triggers  # Zendesk's standard triggers are active (every new account has them)
        self.tickets: dict[int, Ticket] = {}
        self._keys: list[tuple[int, int]] = []  # (generated_timestamp, id), sorted
        self._audit_keys: list[tuple[int, int]] = []  # (timestamp, audit id), sorted
        self._audits: list[RawAudit] = []  # parallel to _audit_keys
        self.jobs: dict[str, Job] = {}
        self.every_job: list[Job] = []  # for inspection: jobs whose status expired are here too
        self._pending_jobs: list[Job] = []
        self._next_ticket = 1
        self._next_id = 30_000_000_000
        self._job_seq = 0
        # per-item refusals waiting for their ticket's next job item: ticket id -> [details, ...]
        self.item_failures: dict[int, list[str]] = {}
        self.ticket_updates = 0
        self._update_windows: dict[int, int] = {}  # minute index → ticket modifications
        self.max_ticket_updates_per_minute = 0
        self._per_ticket: dict[int, deque[float]] = {}
        # every user's role (Zendesk Users API: end-user, agent, admin); ids not here are unknown to the account
        self.roles: dict[int, str] = {BOT_USER_ID: "admin", **{a: "agent" for a in AGENT_IDS}}
        self._next_cc = CC_BASE

    # -- ids and indexes --------------------------------------------------------------------
    def _new_id(self) -> int:
        value = self._next_id
        self._next_id += _ID_STRIDE
        return value

    def _index_ticket(self, t: Ticket, old_key: tuple[int, int] | None) -> None:
        if old_key is not None:
            pos = bisect.bisect_left(self._keys, old_key)
            if pos < len(self._keys) and self._keys[pos] == old_key:
                del self._keys[pos]
        key = (t.gts, t.id)
        if not self._keys or self._keys[-1] < key:
            self._keys.append(key)
        else:
            bisect.insort(self._keys, key)

    def _add_audit(self, audit: RawAudit, bulk: bool = False) -> None:
        key = (audit[2], audit[0])  # (created_at, id)
        if bulk or not self._audit_keys or self._audit_keys[-1] < key:
            self._audit_keys.append(key)
            self._audits.append(audit)
        else:
            pos = bisect.bisect_left(self._audit_keys, key)
            self._audit_keys.insert(pos, key)
            self._audits.insert(pos, audit)

    def _notified(self, public: bool, author_id: int, requester_id: int) -> tuple[str, ...]:
        """The trigger e-mails of an update that adds a comment (see ``_COMMENT_UPDATE``)."""
        return _COMMENT_UPDATE if self.triggers and public and author_id != requester_id else ()

    def _touch(self, t: Ticket, now: int) -> None:
        old = (t.gts, t.id)
        t.updated_at = now
        t.gts = now
        self._index_ticket(t, old)

    def count_update(self, now: float) -> None:
        """Record one ticket modification for the stats (any path: PUT, tags, jobs)."""
        self.ticket_updates += 1
        minute = int(now // 60)
        count = self._update_windows.get(minute, 0) + 1
        self._update_windows = {minute: count}  # only the current minute matters
        self.max_ticket_updates_per_minute = max(self.max_ticket_updates_per_minute, count)

    def check_per_ticket_limit(self, ticket_id: int, now: float, limit: int = 30, window: float = 600.0) -> None:
        """30 updates per ticket per 10 minutes (Zendesk rate-limits docs, "Update Ticket")."""
        stamps = self._per_ticket.setdefault(ticket_id, deque())
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        if len(stamps) >= limit:
            retry = max(1, int(stamps[0] + window - now + 0.999))
            raise ApiError(429, shapes.PER_TICKET_RATE_LIMITED, {"retry-after": str(retry)})
        stamps.append(now)

    # -- users ------------------------------------------------------------------------------
    def new_end_user(self) -> int:
        """A new end user (a requester's colleague to copy on a ticket)."""
        self._next_cc += 1
        self.roles[self._next_cc] = "end-user"
        return self._next_cc

    # -- creation ---------------------------------------------------------------------------
    def create_ticket(
        self,
        *,
        subject: str,
        description: str,
        created_at: int,
        status: str = "new",
        priority: str | None = None,
        tags: list[str] | None = None,
        requester_id: int | None = None,
        channel: str = "email",
        custom_fields: dict[int, Any] | None = None,
        thread: list[tuple[str, bool, int | None, int]] | None = None,
        reindex: bool = True,
        type: str | None = None,
        cc_ids: tuple[int, ...] = (),
        followup_source: int | None = None,
    ) -> Ticket:
        """Create a ticket; ``thread`` holds later comments as ``(body, public, author_id, at)``
        where an author of None is the requester."""
        tid = self._next_ticket
        self._next_ticket += 1
        requester = requester_id or REQUESTER_BASE + tid
        t = Ticket(
            id=tid,
            subject=subject,
            status=status,
            priority=priority,
            tags=tuple(normalize_tags(tags)),
            requester_id=requester,
            created_at=created_at,
            updated_at=created_at,
            gts=created_at,
            channel=channel,
            type=type,
            custom_fields=dict(custom_fields or {}),
            cc_ids=tuple(cc_ids),
            followup_source=followup_source,
        )
        self.roles.setdefault(requester, "end-user")
        audit_id = self._new_id()
        comment = comment_raw(audit_id + 1, description, True, requester, created_at, audit_id, channel)
        created = (
            ("subject", subject, None),
            ("status", status, None),
            ("priority", priority, None),
            ("tags", t.tags, None),
        )
        notified = _CREATED if self.triggers else ()
        self._add_audit(audit_raw(audit_id, tid, created_at, requester, channel, "Create", created, comment, notified),
                        bulk=not reindex)
        comments = [comment]
        last = created_at
        for body, public, author_or_none, at in thread or []:
            author = requester if author_or_none is None else author_or_none
            channel_c = "email" if author == requester else "web"
            a_id = self._new_id()
            comment = comment_raw(a_id + 1, body, public, author, at, a_id, channel_c)
            comments.append(comment)
            self._add_audit(audit_raw(a_id, tid, at, author, channel_c, "Change", (), comment,
                                      self._notified(public, author, requester)), bulk=not reindex)
            last = max(last, at)
        t.comments = tuple(comments)
        t.updated_at = t.gts = last
        self.tickets[tid] = t
        if reindex:
            self._index_ticket(t, None)
        else:
            self._keys.append((t.gts, t.id))
        return t

    def resort(self) -> None:
        """Restore index order after a bulk creation with ``reindex=False``."""
        self._keys.sort()
        order = sorted(range(len(self._audit_keys)), key=self._audit_keys.__getitem__)
        self._audit_keys = [self._audit_keys[i] for i in order]
        self._audits = [self._audits[i] for i in order]

    # -- reading ----------------------------------------------------------------------------
    def get(self, ticket_id: Any, *, include_deleted: bool = False) -> Ticket:
        try:
            t = self.tickets[int(ticket_id)]
        except (KeyError, TypeError, ValueError):
            raise ApiError(404, shapes.NOT_FOUND) from None
        if t.deleted and not include_deleted:
            raise ApiError(404, shapes.NOT_FOUND)
        return t

    def export_page(
        self, after: tuple[int, int] | None, start_time: int | None, per_page: int, cutoff: int
    ) -> list[Ticket]:
        """Tickets changed since ``start_time`` or after cursor ``after``, older than ``cutoff``."""
        if after is not None:
            lo = bisect.bisect_right(self._keys, after)
        else:
            lo = bisect.bisect_left(self._keys, (start_time or 0, -1))
        hi = bisect.bisect_left(self._keys, (cutoff, -1))
        return [self.tickets[tid] for _, tid in self._keys[lo : min(hi, lo + per_page)]]

    def events_page(self, start_time: int, per_page: int, cutoff: int) -> tuple[list[Audit], int | None]:
        """At most ``per_page`` audits with ``start_time <= timestamp < cutoff``, and the page's ``end_time``.

        The time-based export pages by second, and its next page starts at ``end_time`` *inclusive*:
        - a full page whose last second is complete ends at that second + 1 (as recorded:
          incremental-tickets-time-based-page.json);
        - a full page cut inside a second ends at that second: the records of that second already sent
          come again on the next page; and when more than a page of records shares one second, the
          request starting at that second gets the same page again, for ever (zendesk_api_client_rb#168,
          zenpy#451, estuary/connectors#2007);
        - the last page (end of stream) ends at the second of its last record, which the next request
          returns again (zenpy#451: ``end_time`` = the last ticket's ``generated_timestamp``, and the
          request from it returned those tickets a second time).
        """
        keys = self._audit_keys
        lo = bisect.bisect_left(keys, (start_time, -1))
        hi = bisect.bisect_left(keys, (cutoff, -1))
        end = min(hi, lo + per_page)
        if end == lo:
            return [], None
        last_ts = keys[end - 1][0]
        end_time = last_ts + 1 if end < hi and keys[end][0] > last_ts else last_ts
        return [audit_view(raw) for raw in self._audits[lo:end]], end_time

    def audits_of(self, ticket_id: int) -> list[Audit]:
        """Every audit of one ticket, oldest first (a scan: for tests, not for 100,000 tickets)."""
        return [audit_view(raw) for raw in self._audits if raw[1] == ticket_id]

    # -- changes ----------------------------------------------------------------------------
    def update(self, t: Ticket, changes: dict[str, Any], author_id: int, now: int, channel: str = "api",
               api: bool = True) -> Audit:
        """Apply a ``PUT /tickets/{id}`` body. Validates everything before changing anything.
        ``api=False``: a change made in Zendesk itself (an agent's macro), not counted as an API update."""
        if t.deleted:
            raise ApiError(404, shapes.NOT_FOUND)
        if t.status == "closed":
            raise ApiError(422, shapes.CLOSED_TICKET)
        if changes.get("safe_update") and changes.get("updated_stamp"):
            try:
                stamp = parse_iso(str(changes["updated_stamp"]))
            except ValueError:
                raise ApiError(422, shapes.record_invalid("updated_stamp", "Updated stamp: is invalid")) from None
            if stamp < t.updated_at:
                raise ApiError(409, shapes.UPDATE_CONFLICT)
        if "priority" in changes and changes["priority"] not in PRIORITIES:
            raise ApiError(422, shapes.record_invalid("priority", f"Priority: {changes['priority']} is not valid"))
        if "status" in changes and changes["status"] not in STATUSES:
            raise ApiError(422, shapes.record_invalid("status", f"Status: {changes['status']} is not valid"))
        if "type" in changes and changes["type"] not in TYPES:
            raise ApiError(422, shapes.record_invalid("type", f"Type: {changes['type']} is not valid"))
        comment = changes.get("comment")
        if comment is not None and not isinstance(comment, dict):
            comment = {"body": str(comment)}

        recorded: list[tuple[str, Any, Any]] = []
        for name in ("subject", "status", "priority", "type"):
            if name in changes and changes[name] != getattr(t, name):
                recorded.append((name, changes[name], getattr(t, name)))
                setattr(t, name, changes[name])
        if "assignee_id" in changes:
            t.assignee_id = changes["assignee_id"]
        tags = list(t.tags)
        if "tags" in changes:  # replaces the whole list (Zendesk docs, "Updating tag lists")
            tags = normalize_tags(changes["tags"])
        for tag in normalize_tags(changes.get("additional_tags")):
            if tag not in tags:
                tags.append(tag)
        removed = set(normalize_tags(changes.get("remove_tags")))
        tags = [tag for tag in tags if tag not in removed]
        if tuple(tags) != t.tags:
            recorded.append(("tags", tuple(tags), t.tags))
            t.tags = tuple(tags)
        for item in changes.get("custom_fields") or changes.get("fields") or []:
            if isinstance(item, dict) and "id" in item:
                fid = int(item["id"])
                if t.custom_fields.get(fid) != item.get("value"):
                    recorded.append((str(fid), item.get("value"), t.custom_fields.get(fid)))
                t.custom_fields[fid] = item.get("value")

        audit_id = self._new_id()
        new_comment = None
        body = (comment.get("body") or comment.get("html_body")) if comment is not None else None
        if comment is not None and body:
            # "public" defaults to true when omitted (Zendesk Ticket Comments docs)
            public = bool(comment.get("public", True))
            author = int(comment.get("author_id") or author_id)
            new_comment = comment_raw(audit_id + 1, str(body), public, author, now, audit_id, channel)
            t.comments = (*t.comments, new_comment)
        notified = self._notified(new_comment[2], new_comment[3], t.requester_id) if new_comment else ()
        raw = audit_raw(audit_id, t.id, now, author_id, channel, "Change", tuple(recorded), new_comment, notified)
        self._add_audit(raw)
        self._touch(t, now)
        if api:
            self.count_update(now)
        return audit_view(raw)

    def set_tags(self, t: Ticket, mode: str, values: Any, author_id: int, now: int) -> list[str]:
        """Tags API on a ticket: ``add`` (PUT), ``set`` (POST) or ``remove`` (DELETE)."""
        if t.deleted:
            raise ApiError(404, shapes.NOT_FOUND)
        if t.status == "closed":
            raise ApiError(422, shapes.CLOSED_TICKET)
        given = normalize_tags(values)
        if mode == "set":
            tags = tuple(given)
        elif mode == "add":
            tags = t.tags + tuple(tag for tag in given if tag not in t.tags)
        else:
            tags = tuple(tag for tag in t.tags if tag not in given)
        if tags != t.tags:
            self._add_audit(audit_raw(self._new_id(), t.id, now, author_id, "api", "Change", (("tags", tags, t.tags),)))
            t.tags = tags
        self._touch(t, now)
        self.count_update(now)
        return list(t.tags)

    def customer_reply(self, t: Ticket, body: str, now: int, author_id: int | None = None) -> Ticket:
        """A public comment by the requester (or ``author_id``, e.g. a CC'd end user); reopens pending/solved
        tickets, and a reply to a closed ticket becomes a follow-up ticket.

        The follow-up copies the closed ticket's tags (ours included), requester and CCs, and names its
        origin in ``via.source`` (``rel: "follow_up"``, ``from.ticket_id``): Zendesk help "Creating a
        follow-up for a closed ticket", DESIGN §7 "Follow-up tickets"."""
        author = t.requester_id if author_id is None else author_id
        if t.status == "closed" or t.deleted:
            follow = self.create_ticket(
                subject=f"Re: {t.subject}",
                description=body,
                created_at=now,
                tags=list(t.tags),
                requester_id=t.requester_id,
                channel=t.channel,
                cc_ids=t.cc_ids,
                followup_source=t.id,
            )
            t.followup_ids = (*t.followup_ids, follow.id)
            return follow
        changes: tuple[tuple[str, Any, Any], ...] = ()
        if t.status in ("pending", "solved"):
            changes = (("status", "open", t.status),)
            t.status = "open"
        audit_id = self._new_id()
        comment = comment_raw(audit_id + 1, body, True, author, now, audit_id, "email")
        t.comments = (*t.comments, comment)
        self._add_audit(audit_raw(audit_id, t.id, now, author, "email", "Change", changes, comment,
                                  self._notified(True, author, t.requester_id)))
        self._touch(t, now)
        return t

    def merge(self, source: Ticket, target: Ticket, author_id: int, now: int, *, target_public: bool = True,
              source_public: bool = False) -> None:
        """An agent merges ``source`` into ``target`` (Zendesk help "Merging tickets"; DESIGN §7): the source
        gets a comment and is closed, the target gets a comment quoting the source's last comment, and the
        source's requester is copied on the target. Closed tickets cannot be merged."""
        for t in (source, target):
            if t.deleted:
                raise ApiError(404, shapes.NOT_FOUND)
            if t.status == "closed":
                raise ApiError(422, shapes.CLOSED_TICKET)
        shown = [c for c in comments_of(source) if c.public]  # the merge quotes what the requester could see
        last = shown[-1].body if shown else ""
        self.update(source, {"status": "closed", "comment": {
            "body": f'This request was closed and merged into request #{target.id} "{target.subject}".',
            "public": source_public}}, author_id, now, channel="web", api=False)
        if source.requester_id != target.requester_id and source.requester_id not in target.cc_ids:
            target.cc_ids = (*target.cc_ids, source.requester_id)
        self.update(target, {"comment": {
            "body": f'Request #{source.id} "{source.subject}" was closed and merged into this request. '
                    f"Last comment in request #{source.id}:\n\n{last}", "public": target_public}},
            author_id, now, channel="web", api=False)

    def delete(self, t: Ticket, author_id: int, now: int) -> None:
        if t.deleted:
            raise ApiError(404, shapes.NOT_FOUND)
        t.deleted = True
        self._add_audit(
            audit_raw(self._new_id(), t.id, now, author_id, "api", "Change", (("status", "deleted", t.status),))
        )
        self._touch(t, now)

    # -- jobs -------------------------------------------------------------------------------
    def in_flight(self) -> int:
        """Jobs queued or working."""
        return len(self._pending_jobs)

    def next_job_due(self, now: float) -> float:
        """When the next pending job should be done (a minute from now if only stuck ones are left)."""
        return min([job.due_at for job in self._pending_jobs if job.due_at != math.inf] or [now + 60])

    def create_job(self, items: list[tuple[int | None, dict[str, Any]]], now: float, delay: float,
                   stuck_for: float | None = None) -> Job:
        """Queue an update_many job applied ``delay`` seconds later; ``stuck_for`` (inf: forever) keeps it
        ``queued`` that long instead (DESIGN §7: jobs take seconds to minutes and can stay queued)."""
        self._job_seq += 1
        job_id = "V3-" + hashlib.md5(f"job-{self._job_seq}".encode()).hexdigest()  # recorded ids: V3-<32 hex>
        stuck = stuck_for is not None
        job = Job(id=job_id, created_at=now, due_at=now + (stuck_for if stuck_for is not None else delay), items=items,
                  stuck=stuck)
        self.jobs[job_id] = job
        self.every_job.append(job)
        self._pending_jobs.append(job)
        return job

    def expire_job_statuses(self, now: float, ttl: float | None, keep: int | None) -> None:
        """Forget job statuses older than ``ttl`` seconds and all but the newest ``keep`` (DESIGN §7: the docs
        say statuses expire after about a day, a 2021 report an hour and the last 100 jobs). A pending job
        whose status is gone still runs when its time comes: the status expires, not the work."""
        if ttl is not None:
            for job_id in [j.id for j in self.jobs.values() if j.created_at <= now - ttl]:
                del self.jobs[job_id]
        if keep is not None and len(self.jobs) > keep:
            for job_id in list(self.jobs)[:len(self.jobs) - keep]:  # insertion order: oldest first
                del self.jobs[job_id]

    def process_jobs(self, now: float, author_id: int) -> int:
        """Apply every job whose time has come; mark half-way jobs ``working``. Returns applied count."""
        applied = 0
        still: list[Job] = []
        for job in self._pending_jobs:
            if job.due_at <= now:
                self._run_job(job, now, author_id)
                applied += 1
            elif job.stuck:
                still.append(job)  # queued, no progress: what a stuck job shows
            else:
                span = job.due_at - job.created_at
                if span > 0 and now - job.created_at >= span / 2:
                    # recorded job-status-working.json: progress + "Updating ticket #N", results null
                    done = min(job.total - 1, int(job.total * (now - job.created_at) / span))
                    job.status, job.progress = "working", done
                    item_id = job.items[done][0] if job.items else None
                    job.message = f"Updating ticket #{item_id}"
                still.append(job)
        self._pending_jobs = still
        return applied

    def _run_job(self, job: Job, now: float, author_id: int) -> None:
        results: list[dict[str, Any]] = []
        # Zendesk applies a job within seconds of its due time whether anyone asks or not; we apply it at the
        # first request after it (every request runs process_jobs first, so no export saw the time before it)
        # and stamp its changes with that due time, so a note's time is not the time of our next request
        stamp = int(min(job.due_at, now))
        for index, (ticket_id, changes) in enumerate(job.items):
            try:
                if ticket_id is None:
                    raise ApiError(404, shapes.NOT_FOUND)
                t = self.get(ticket_id)
                refusals = self.item_failures.get(t.id)
                if refusals:
                    # a refusal other than closed/not found, e.g. a required field (DESIGN §7)
                    results.append(shapes.job_failure(index, t.id, "TicketUpdateFailed", refusals.pop(0)))
                    continue
                self.update(t, changes, author_id, stamp)
                results.append(shapes.job_success(t.id))
            except ApiError as exc:
                if exc.status == 422 and exc.body is shapes.CLOSED_TICKET:
                    detail = "Status: closed prevents ticket update"
                elif exc.status == 404:
                    detail = "Ticket not found"
                else:
                    detail = str(exc.body.get("description", "")) if isinstance(exc.body, dict) else str(exc.body)
                results.append(shapes.job_failure(index, ticket_id, "TicketUpdateFailed", detail))
        job.status = "completed"
        job.progress = job.total
        job.message = f"Completed at {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(now))} +0000"
        job.results = results
