"""JSON shapes of the Zendesk Support API, as the simulator renders them.

Key sets and key order follow the recorded real responses in
``tests/fixtures/real/zendesk/`` (see ``tests/fixtures/real/SOURCES.md``). Where no
recording exists the source is cited next to the shape. Error bodies, with how sure we are:

| body | source |
|---|---|
| 401 ``{"error": "Couldn't authenticate you"}`` + ``WWW-Authenticate`` | quoted in Speedygeek/ZendeskApi_v2#505 and happyfoxinc/helpstack-android#38 (real responses) |
| 404 ``RecordNotFound`` | recorded: ticket-update-404.json |
| 404 ``InvalidEndpoint`` (unknown path) | not recorded; same envelope as RecordNotFound |
| 409 ``UpdateConflict`` (safe_update) | Zendesk docs "Protecting against ticket update collisions"; no recording |
| 422 closed ticket | quoted verbatim in Speedygeek/ZendeskApi_v2#59 (error-422-closed-ticket-update-issue.json) |
| 422 ``RecordInvalid`` (bad priority/status) | envelope recorded (error-422-*.json); the field message is ours |
| 422 ``InvalidValue`` "Too recent start_time" | quoted by treasure-data/embulk-input-zendesk and other clients that special-case it |
| 429 ``APIRateLimitExceeded`` (export) | recorded: incremental-export-429.json |
| 429 account / per-ticket limit | same error code as the recorded one; description text is ours |
| 429 ``TooManyJobs`` | error name from the Zendesk "Job limit" docs section; description text is ours |
| 400 ``TooManyValues`` (>100 ids/tickets) | error name zenpy maps to TooManyValuesException (facetoe/zenpy#467); text ours |
| 400 invalid pagination | not recorded; we are stricter than "silently clamp" on purpose |
| 500 / 503 injected faults | not recorded; 503 is sent as text/html like a load balancer would |

Trigger e-mails (``Notification`` events, see ``TRIGGERS``) and the failed job item are recorded shapes;
``GET /users/me`` is not recorded (key set from the Zendesk Users API docs, "Show Self").
"""  # noqa: E501 - the source table's Markdown rows cannot be wrapped

from __future__ import annotations

import html
import time
from typing import Any, NamedTuple, TypeAlias

# the store's Ticket, Audit and Job, as the renderers read them: the store imports this module for its
# constants and error bodies, so naming its classes here would make an import circle
Ticket: TypeAlias = Any
Audit: TypeAlias = Any
Job: TypeAlias = Any

BOT_USER_ID = 1_900_000_000_001  # the API user the token belongs to
AGENT_IDS = (1_900_000_000_011, 1_900_000_000_012, 1_900_000_000_013)


class Comment(NamedTuple):
    """A stored comment's fields (the store keeps plain tuples; ``Comment._make(raw)`` names them)."""

    id: int
    body: str
    public: bool
    author_id: int
    created_at: int
    audit_id: int
    channel: str

ISO = "%Y-%m-%dT%H:%M:%SZ"
VIA_EMPTY_SOURCE: dict[str, Any] = {"from": {}, "to": {}, "rel": None}
# custom_status_id per status category; values are arbitrary account ids (fixture: 6130892426138 for open)
CUSTOM_STATUS = {
    "new": 6130830355738,
    "open": 6130892426138,
    "pending": 6130892426266,
    "hold": 6130892426394,
    "solved": 6130892426522,
    "closed": 6130892426522,
    "deleted": 6130892426522,
}
TICKET_FORM_ID = 6130830344474
BRAND_ID = 6130830354842
GROUP_ID = 6130852536346
EVENT_VIA = {"email": "Mail", "web": "Web form", "api": "Web service"}


class Trigger(NamedTuple):
    id: int
    title: str
    subject: str
    body: str
    to: str  # "requester" | "agents"


# Zendesk's standard triggers, as their Notification events appear in real audits. The subject and body
# are the trigger's *template*: both recordings keep the placeholders unrendered ({{ticket.id}} …).
# - received: ticket-audits-notifications.json (2017, then titled "Notify requester of received
#   request"; the current title is from Zendesk's "About the standard Support triggers").
# - agents: ticket-create-with-comment.json (2024).
# - comment_update: a 2020 live audit pasted into the test data of a VMware Workspace ONE Zendesk
#   connector (found by its text in the code index; the repository is not named there).
# When each one fires is in ``zendesk_store.Store`` (``_CREATED`` / ``_notified``).
TRIGGERS: dict[str, Trigger] = {
    "received": Trigger(
        304221247, "Notify requester and CCs of received request", "[Request received] {{ticket.title}}",
        "Your request ({{ticket.id}}) has been received and is being reviewed by our support staff.\n\n"
        "To add additional comments, reply to this email.\n\n{{ticket.comments_formatted}}", "requester"),
    "agents": Trigger(
        304221367, "Notify all agents of received request", "[{{ticket.account}}] {{ticket.title}}",
        "A ticket (#{{ticket.id}}) by {{ticket.requester.name}} has been received. It is unassigned.\n\n"
        "{{ticket.latest_comment_html}}", "agents"),
    "comment_update": Trigger(
        360149638672, "Notify requester and CCs of comment update", "[{{ticket.account}}] Re: {{ticket.title}}",
        "Your request ({{ticket.id}}) has been updated. To add additional comments, reply to this email.\n"
        "{{ticket.comments_formatted}}", "requester"),
}


def iso(epoch: float) -> str:
    return time.strftime(ISO, time.gmtime(epoch))


def via(channel: str) -> dict[str, Any]:
    return {"channel": channel, "source": dict(VIA_EMPTY_SOURCE)}


def followup_via(t: Ticket) -> dict[str, Any]:
    # Zendesk "Via object reference": a follow-up names the closed ticket in source.from.ticket_id with
    # rel "follow_up" (the same shape is asserted on real exports by public clients, e.g. airbyte's tests)
    return {"channel": t.channel, "source": {"from": {"ticket_id": t.followup_source}, "to": {}, "rel": "follow_up"}}


def html_body(body: str) -> str:
    paragraphs = "".join(f'<p dir="auto">{html.escape(p)}</p>' for p in body.split("\n\n"))
    return f'<div class="zd-comment" dir="auto">{paragraphs}</div>'


def ticket_json(t: Ticket, base: str, generated_timestamp: bool = False) -> dict[str, Any]:
    """A ticket, key for key as ticket-show.json (export adds ``generated_timestamp`` last)."""
    first = Comment._make(t.comments[0]) if t.comments else None
    fields = [{"id": fid, "value": value} for fid, value in t.custom_fields.items()]
    status = "deleted" if t.deleted else t.status
    out: dict[str, Any] = {
        "url": f"{base}/api/v2/tickets/{t.id}.json",
        "id": t.id,
        "external_id": None,
        "via": via(t.channel) if t.followup_source is None else followup_via(t),
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
        "type": t.type,
        "subject": t.subject,
        "raw_subject": t.subject,
        "description": first.body if first else "",
        "priority": t.priority,
        "status": status,
        "recipient": None,
        "requester_id": t.requester_id,
        "submitter_id": t.requester_id,
        "assignee_id": t.assignee_id,
        "organization_id": None,
        "group_id": GROUP_ID,
        "collaborator_ids": list(t.cc_ids),
        "follower_ids": [],
        "email_cc_ids": list(t.cc_ids),
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": first.public if first else True,
        "due_at": None,
        "tags": list(t.tags),
        "custom_fields": fields,
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "custom_status_id": CUSTOM_STATUS[status],
        "fields": [dict(f) for f in fields],
        "followup_ids": list(t.followup_ids),
        "ticket_form_id": TICKET_FORM_ID,
        "brand_id": BRAND_ID,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }
    if generated_timestamp:
        out["generated_timestamp"] = t.gts
    return out


def metadata() -> dict[str, Any]:
    return {
        "system": {
            "client": "zendesk-sim",
            "ip_address": "192.0.2.1",
            "location": "Sample City, XX, Country",
            "latitude": 0.0,
            "longitude": 0.0,
        },
        "custom": {},
    }


def comment_json(c: Comment) -> dict[str, Any]:
    """A comment, key for key as ticket-comments-cursor.json: the audit's Comment event and three keys more."""
    return {**comment_event_json(c), "via": via(c.channel), "created_at": iso(c.created_at), "metadata": metadata()}


def comment_event_json(c: Comment) -> dict[str, Any]:
    """A Comment event inside an audit, key for key as in ticket-create-with-comment.json."""
    return {
        "id": c.id,
        "type": "Comment",
        "author_id": c.author_id,
        "body": c.body,
        "html_body": html_body(c.body),
        "plain_body": c.body,
        "public": c.public,
        "attachments": [],
        "audit_id": c.audit_id,
    }


def trigger_via(trigger: Trigger) -> dict[str, Any]:
    # ticket-create-with-comment.json (2024): no "to", a "deleted" flag and a revision_id
    return {"channel": "rule", "source": {"from": {"deleted": False, "title": trigger.title, "id": trigger.id,
                                                   "revision_id": 3}, "rel": "trigger"}}


def _recipients(trigger: Trigger, requester_id: int) -> list[int]:
    return [requester_id] if trigger.to == "requester" else [*AGENT_IDS, BOT_USER_ID]


def notification_events(a: Audit, requester_id: int) -> list[dict[str, Any]]:
    """The trigger e-mails of an audit, key for key as ticket-audits-notifications.json (after the
    Comment and field events: ids follow theirs)."""
    first = a.id + 2 + len(a.changes)
    out = []
    for k, key in enumerate(a.notifications):
        trigger = TRIGGERS[key]
        out.append({"id": first + k, "type": "Notification", "via": trigger_via(trigger), "subject": trigger.subject,
                    "body": trigger.body, "recipients": _recipients(trigger, requester_id)})
    return out


def audit_json(a: Audit, requester_id: int) -> dict[str, Any]:
    """An audit as in a ticket PUT response (ticket-update-put.json) or the audits list
    (ticket-audits-notifications.json): Comment, Create/Change events, then Notification events."""
    events: list[dict[str, Any]] = []
    if a.comment is not None:
        events.append(comment_event_json(a.comment))
    for offset, (field, value, previous) in enumerate(a.changes):
        event: dict[str, Any] = {"id": a.id + 2 + offset, "type": a.kind, "value": value, "field_name": field}
        if a.kind == "Change":
            event["previous_value"] = previous
        events.append(event)
    events.extend(notification_events(a, requester_id))
    return {
        "id": a.id,
        "ticket_id": a.ticket_id,
        "created_at": iso(a.created_at),
        "author_id": a.author_id,
        "metadata": metadata(),
        "events": events,
        "via": via(a.channel),
    }


def ticket_event_json(a: Audit, with_comments: bool, requester_id: int) -> dict[str, Any]:
    """One item of the incremental ticket event export.

    No real recording exists (see SOURCES.md "Not found"). Shape from the Zendesk
    "Incremental Ticket Event Export" docs as mirrored in airbytehq/airbyte's test data
    (unit_tests/.../TICKET_EVENTS_STREAM_RESPONSE): top-level ``via`` is a display string,
    child events carry ``event_type``; field changes are flattened (``{field: value,
    "previous_value": ...}``). Comment events appear only with ``include=comment_events``.

    Trigger e-mails: each event "contains all the fields that were updated in that change" (the docs),
    and the audit of the same change holds Notification events with a ``body``
    (ticket-audits-notifications.json), so they come as children with ``event_type: "Notification"``
    whatever the sideload. That is why singer-io/tap-zendesk's TicketComments keeps only children with
    ``event_type == 'Comment'`` (tap_zendesk/streams.py).
    """
    label = EVENT_VIA.get(a.channel, "Web service")
    children: list[dict[str, Any]] = []
    if with_comments and a.comment is not None:
        c = a.comment
        children.append(
            {
                "id": c.id,
                "via": via(c.channel),
                "via_reference_id": None,
                "type": "Comment",
                "author_id": c.author_id,
                "body": c.body,
                "html_body": html_body(c.body),
                "plain_body": c.body,
                "public": c.public,
                "attachments": [],
                "audit_id": c.audit_id,
                "created_at": iso(c.created_at),
                "event_type": "Comment",
            }
        )
    for offset, (field, value, previous) in enumerate(a.changes):
        child: dict[str, Any] = {"id": a.id + 2 + offset, "via": label, "via_reference_id": None}
        if field == "tags":
            before, after = set(previous or []), set(value or [])
            child.update(
                tags=value,
                added_tags=[t for t in value or [] if t not in before],
                removed_tags=[t for t in previous or [] if t not in after],
            )
        else:
            child[field] = value
        if a.kind == "Change":
            child["previous_value"] = previous
        child["event_type"] = a.kind
        children.append(child)
    for event in notification_events(a, requester_id):
        children.append({"id": event["id"], "via": event["via"], "via_reference_id": None, "type": "Notification",
                         "subject": event["subject"], "body": event["body"], "recipients": event["recipients"],
                         "event_type": "Notification"})
    return {
        "child_events": children,
        "id": a.id,
        "ticket_id": a.ticket_id,
        "timestamp": a.created_at,
        "created_at": iso(a.created_at),
        "updater_id": a.author_id,
        "via": label,
        "system": {},
        "metadata": {},
        "event_type": "Audit",
    }


def job_json(job: Job, base: str) -> dict[str, Any]:
    """A job status, key for key as tickets-update-many-queued.json / job-status-*.json."""
    return {
        "id": job.id,
        "url": f"{base}/api/v2/job_statuses/{job.id}.json",
        "total": job.total,
        "progress": job.progress,
        "status": job.status,
        "message": job.message,
        "results": job.results,
    }


def job_success(ticket_id: int) -> dict[str, Any]:
    # recorded: job-status-completed-ticket-update.json
    return {"action": "update", "status": "Updated", "success": True, "id": ticket_id}


def job_failure(index: int, ticket_id: int | None, error: str, details: str) -> dict[str, Any]:
    # The recorded failed item, key for key (job-status-completed-with-errors.json): no "success" and no
    # "action" key. The Zendesk OAS "FailedResult" schema lists success/action, but no recording has them.
    return {"index": index, "error": error, "id": ticket_id, "details": details}


def user_json(user_id: int, email: str, base: str, now: float, role: str = "admin", name: str = "Triage Bot"
              ) -> dict[str, Any]:
    """A user (``GET /users/me``, ``users/show_many``). Not recorded: keys from the Zendesk Users API docs
    ("Show Self"); ``role`` is ``end-user``, ``agent`` or ``admin``."""
    stamp = iso(now - 86400 * 365)
    staff = role != "end-user"
    return {
        "id": user_id, "url": f"{base}/api/v2/users/{user_id}.json", "name": name, "email": email,
        "created_at": stamp, "updated_at": stamp, "time_zone": "UTC", "iana_time_zone": "Etc/UTC", "phone": None,
        "shared_phone_number": None, "photo": None, "locale_id": 1, "locale": "en-US", "organization_id": None,
        "role": role, "verified": True, "external_id": None, "tags": [], "alias": None, "active": True,
        "shared": False, "shared_agent": False, "last_login_at": None, "two_factor_auth_enabled": None,
        "signature": None, "details": None, "notes": None, "role_type": None, "custom_role_id": None,
        "moderator": staff, "ticket_restriction": None if staff else "requested", "only_private_comments": False,
        "restricted_agent": False, "suspended": False, "default_group_id": GROUP_ID if staff else None,
        "report_csv": role == "admin", "user_fields": {},
    }


# -- error bodies ---------------------------------------------------------------------------
def err(error: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "description": description, **extra}


AUTH_FAILED = {"error": "Couldn't authenticate you"}
NOT_FOUND = err("RecordNotFound", "Not found")
INVALID_ENDPOINT = err("InvalidEndpoint", "Not found")
CLOSED_TICKET = err(
    "RecordInvalid",
    "Record validation errors",
    details={"status": [{"description": "Status closed prevents ticket update"}]},
)
UPDATE_CONFLICT = err(
    "UpdateConflict",
    "Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again.",
)
EXPORT_RATE_LIMITED = err(
    "APIRateLimitExceeded", "Number of allowed incremental export API requests per minute exceeded"
)
ACCOUNT_RATE_LIMITED = err("APIRateLimitExceeded", "Number of allowed API requests per minute exceeded")
# An agent's token on an admin-only endpoint (the incremental exports): zenpy#336 quotes this body verbatim;
# dust-tt/dust#8860 reports the 403 on the incremental ticket export for a non-admin token
FORBIDDEN = {"error": "Forbidden",
             "description": "You do not have access to this page. Please contact the account owner of this help desk "
                            "for further help."}
TICKET_UPDATE_RATE_LIMITED = err("APIRateLimitExceeded", "Number of allowed ticket updates per minute exceeded")
PER_TICKET_RATE_LIMITED = err(
    "APIRateLimitExceeded", "Number of allowed updates to this ticket per 10 minutes exceeded"
)
TOO_MANY_JOBS = err("TooManyJobs", "Number of allowed queued or running jobs for this account exceeded")
SERVER_ERROR = err("InternalServerError", "Something went wrong. Please try again later.")
UNAVAILABLE_HTML = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


def record_invalid(field: str, message: str) -> dict[str, Any]:
    return err("RecordInvalid", "Record validation errors", details={field: [{"description": message}]})


def too_many_values(param: str, limit: int) -> dict[str, Any]:
    return err("TooManyValues", f"Too many values specified for parameter '{param}'. Maximum allowed is {limit}.")


def invalid_value(description: str) -> dict[str, Any]:
    return err("InvalidValue", description)


def invalid_pagination(description: str) -> dict[str, Any]:
    return err("InvalidPaginationParameter", description)
