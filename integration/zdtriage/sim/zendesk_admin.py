"""What an admin's account holds besides tickets, for ``zdtriage doctor``: triggers, the API user's role, the
scope lists (brands, groups, ticket forms, custom statuses), tag search and a Help Center page.

A mixin of ``ZendeskSim``. Sources, per shape:

| route | source |
|---|---|
| ``GET /triggers.json``, ``/triggers/active.json`` | the standard set as exported from a real account (nukosuke/go-zendesk ``fixture/GET/triggers.json``, 2018); titles and templates of the three triggers the simulator fires are the current ones (``zendesk_shapes.TRIGGERS``) |
| ``PUT /triggers/{id}.json`` | Zendesk Triggers API docs, "Update Trigger": sending ``conditions`` or ``actions`` replaces *both* arrays, so a client must send all of them |
| 403 for an agent's token | DESIGN §7 (incremental exports are for admins); body quoted in facetoe/zenpy#336 |
| brands, groups, ticket forms, custom statuses | envelopes of the go-zendesk fixtures (``brands.json``, ``groups.json``, ``ticket_forms.json``, ``custom_ticket_statuses.json``); the ids are those tickets carry (``zendesk_shapes``) |
| ``GET /autocomplete/tags.json?name=`` | Zendesk Tags API docs, "Search Tags" (``{"tags": [...]}``; names of at least 2 characters) |
| ``GET /help_center/articles.json`` | Zendesk Help Center API docs, "List Articles" (offset pagination envelope) |

The standard "Notify assignee of comment update" fires on *any* comment (``comment_is_public`` is
``not_relevant``) by anyone but the assignee: on a real account it e-mails the assignee about every internal
note the service writes, so a fresh simulated account is not clean either (doctor names that trigger).
"""  # noqa: E501 - the source table's Markdown rows cannot be wrapped

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zdtriage.sim import zendesk_shapes as shapes
from zdtriage.sim.server import Handler, Request, Response
from zdtriage.sim.zendesk_store import BOT_USER_ID, ApiError, Store

ROLES = ("admin", "agent", "end-user")
ADMIN_ONLY = ("/api/v2/incremental/", "/api/v2/triggers")  # an agent's token gets 403 here (DESIGN §7)
FORBIDDEN = {"error": "Forbidden",
             "description": "You do not have access to this page. Please contact the account owner of this help desk "
                            "for further help."}
NOISY_TRIGGER_ID = 360099000001
_STAMP = "2018-11-23T16:05:13Z"


def _cond(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def _notify(to: str, subject: str, body: str, field: str = "notification_user") -> dict[str, Any]:
    return {"field": field, "value": [to, subject, body]}


def standard_triggers() -> list[dict[str, Any]]:
    """The standard notification triggers of a new account (see the module docstring), in position order."""
    t = shapes.TRIGGERS
    rows: list[tuple[int, str, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]] = [
        (t["received"].id, t["received"].title,
         [_cond("update_type", "is", "Create"), _cond("status", "is_not", "solved"),
          _cond("ticket_is_public", "is", "public")], [],
         [_notify("requester_id", t["received"].subject, t["received"].body)]),
        (t["comment_update"].id, t["comment_update"].title,
         [_cond("update_type", "is", "Change"), _cond("comment_is_public", "is", "requester_can_see_comment"),
          _cond("requester_id", "is_not", "current_user")], [],
         [_notify("requester_id", t["comment_update"].subject, t["comment_update"].body)]),
        (360056295754, "Notify assignee of comment update",
         [_cond("comment_is_public", "is", "not_relevant"), _cond("assignee_id", "is_not", "current_user"),
          _cond("assignee_id", "is_not", "requester_id"), _cond("assignee_id", "not_changed", None),
          _cond("status", "not_value_previous", "solved")], [],
         [_notify("assignee_id", "[{{ticket.account}}] Re: {{ticket.title}}",
                  "This ticket (#{{ticket.id}}) has been updated.\n\n{{ticket.comments_formatted}}")]),
        (360056295774, "Notify assignee of assignment",
         [_cond("assignee_id", "changed", None), _cond("assignee_id", "is_not", "current_user")], [],
         [_notify("assignee_id", "[{{ticket.account}}] Assignment: {{ticket.title}}",
                  "You have been assigned to this ticket (#{{ticket.id}}).\n\n{{ticket.comments_formatted}}")]),
        (360056295794, "Notify assignee of reopened ticket",
         [_cond("assignee_id", "is_not", "current_user"), _cond("status", "value_previous", "solved"),
          _cond("status", "is_not", "closed")], [],
         [_notify("assignee_id", "[{{ticket.account}}] Re: {{ticket.title}}",
                  "This ticket (#{{ticket.id}}) has been reopened.\n\n{{ticket.comments_formatted}}")]),
        (360056295814, "Notify group of assignment",
         [_cond("group_id", "is_not", ""), _cond("assignee_id", "is", "")],
         [_cond("group_id", "changed", ""), _cond("assignee_id", "changed", "")],
         [_notify("group_id", "[{{ticket.account}}] \"{{ticket.group.name}}\" assignment:  {{ticket.title}}",
                  "This ticket (#{{ticket.id}}) has been assigned to group '{{ticket.group.name}}', of which you are "
                  "a member.\n\n{{ticket.comments_formatted}}", field="notification_group")]),
        (t["agents"].id, t["agents"].title, [_cond("update_type", "is", "Create")], [],
         [_notify("all_agents", t["agents"].subject, t["agents"].body)]),
    ]
    return [_trigger(tid, title, all_, any_, actions, position)
            for position, (tid, title, all_, any_, actions) in enumerate(rows)]


def noisy_trigger() -> dict[str, Any]:
    """A custom trigger an account might have: every comment update e-mails the support group (no
    ``comment_is_public`` condition at all), so each internal note of the service becomes an e-mail."""
    return _trigger(NOISY_TRIGGER_ID, "Notify support team of every update",
                    [_cond("update_type", "is", "Change"), _cond("status", "less_than", "solved")], [],
                    [_notify("group_id", "[{{ticket.account}}] Updated: {{ticket.title}}",
                             "{{ticket.latest_comment_html}}", field="notification_group")], 20)


def _trigger(tid: int, title: str, all_: list[dict[str, Any]], any_: list[dict[str, Any]],
             actions: list[dict[str, Any]], position: int) -> dict[str, Any]:
    # key set of the go-zendesk fixture; url is filled in per request (the Host header)
    return {"url": None, "id": tid, "title": title, "active": True, "updated_at": _STAMP, "created_at": _STAMP,
            "actions": actions, "conditions": {"all": all_, "any": any_}, "description": None, "position": position,
            "raw_title": title}


class ZendeskAdmin:
    """Triggers, roles and scope lists for ``ZendeskSim`` (which provides the attributes declared here)."""

    lock: threading.RLock
    clock: Callable[[], float]
    _counters: dict[str, int]
    store: Store

    if TYPE_CHECKING:  # provided by ZendeskSim / SimServer
        def route(self, method: str, pattern: str, handler: Handler) -> None: ...

        def _api(self, handler: Handler) -> Handler: ...

        def _authorized(self, request: Request) -> bool: ...

        def _me(self, request: Request) -> Response: ...

        @staticmethod
        def _base(request: Request) -> str: ...

        @staticmethod
        def _body(request: Request) -> dict[str, Any]: ...

    # -- set-up (tests) -----------------------------------------------------------------------------------
    @property
    def triggers(self) -> list[dict[str, Any]]:
        """The account's triggers (created on first use: the standard set)."""
        if not hasattr(self, "_triggers"):
            self._triggers: list[dict[str, Any]] = standard_triggers()
        return self._triggers

    @property
    def api_role(self) -> str:
        """The role of the user the token belongs to: ``admin`` unless :meth:`set_api_role` said otherwise."""
        return getattr(self, "_api_role", "admin")

    def set_api_role(self, role: str) -> None:
        """Make the token's user an ``admin``, an ``agent`` (403 on exports and triggers) or an ``end-user``."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self._api_role = role

    def add_noisy_trigger(self) -> int:
        """Add :func:`noisy_trigger`; returns its id."""
        with self.lock:
            self.triggers.append(noisy_trigger())
        return NOISY_TRIGGER_ID

    def exclude_api_user_everywhere(self) -> None:
        """What an admin who read the README did by hand: every active trigger excludes the API user."""
        exclusion = _cond("current_user", "is_not", str(BOT_USER_ID))
        with self.lock:
            for trigger in self.triggers:
                trigger["conditions"]["all"].append(dict(exclusion))

    def trigger(self, trigger_id: int) -> dict[str, Any]:
        """A copy of one trigger as stored."""
        with self.lock:
            return copy.deepcopy(next(t for t in self.triggers if t["id"] == trigger_id))

    # -- routes -------------------------------------------------------------------------------------------
    def _register_admin_routes(self) -> None:
        api = self._api
        self.route("GET", "/api/v2/users/me.json", api(self._me_with_role))
        self.route("GET", "/api/v2/triggers/active.json", api(lambda r: self._list_triggers(r, active_only=True)))
        self.route("GET", "/api/v2/triggers.json", api(lambda r: self._list_triggers(r, active_only=False)))
        self.route("GET", "/api/v2/triggers/{id}.json", api(self._show_trigger))
        self.route("PUT", "/api/v2/triggers/{id}.json", api(self._update_trigger))
        for path, key, rows in (("brands", "brands", self._brands), ("groups", "groups", self._groups),
                                ("ticket_forms", "ticket_forms", self._forms),
                                ("custom_statuses", "custom_statuses", self._statuses)):
            self.route("GET", f"/api/v2/{path}.json", api(self._lister(key, rows)))
        self.route("GET", "/api/v2/autocomplete/tags.json", api(self._tag_search))
        self.route("GET", "/api/v2/help_center/articles.json", api(self._articles))

    def before(self, request: Request) -> Response | None:
        """An agent's (or end user's) token is refused the admin-only endpoints, after authentication."""
        if self.api_role != "admin" and request.path.startswith(ADMIN_ONLY) and self._authorized(request):
            return Response(403, dict(FORBIDDEN))
        return None

    def _me_with_role(self, request: Request) -> Response:
        response = self._me(request)
        response.body["user"]["role"] = self.api_role
        return response

    def _view(self, trigger: dict[str, Any], base: str) -> dict[str, Any]:
        out = copy.deepcopy(trigger)
        out["url"] = f"{base}/api/v2/triggers/{trigger['id']}.json"
        return out

    def _list_triggers(self, request: Request, *, active_only: bool) -> Response:
        base = self._base(request)
        rows = [self._view(t, base) for t in self.triggers if t["active"] or not active_only]
        return Response(200, {"triggers": rows, "next_page": None, "previous_page": None, "count": len(rows)})

    def _find(self, raw: str) -> dict[str, Any]:
        for trigger in self.triggers:
            if str(trigger["id"]) == raw:
                return trigger
        raise ApiError(404, shapes.NOT_FOUND)

    def _show_trigger(self, request: Request) -> Response:
        return Response(200, {"trigger": self._view(self._find(request.params["id"]), self._base(request))})

    def _update_trigger(self, request: Request) -> Response:
        trigger = self._find(request.params["id"])
        changes = self._body(request).get("trigger")
        if not isinstance(changes, dict):
            raise ApiError(400, shapes.invalid_value("Parameter 'trigger' is required"))
        if "conditions" in changes or "actions" in changes:
            # "Updating a condition or action updates both the conditions and actions arrays, clearing all
            # existing values of both arrays" (Triggers API docs): what is not sent is gone
            conditions = changes.get("conditions") or {}
            trigger["conditions"] = {"all": list(conditions.get("all") or []), "any": list(conditions.get("any") or [])}
            trigger["actions"] = list(changes.get("actions") or [])
        for key in ("title", "active", "description", "position"):
            if key in changes:
                trigger[key] = changes[key]
        trigger["updated_at"] = shapes.iso(self.clock())
        self._counters["triggers_updated"] = self._counters.get("triggers_updated", 0) + 1
        return Response(200, {"trigger": self._view(trigger, self._base(request))})

    def _lister(self, key: str, rows: Callable[[str], list[dict[str, Any]]]) -> Handler:
        def handler(request: Request) -> Response:
            found = rows(self._base(request))
            return Response(200, {key: found, "next_page": None, "previous_page": None, "count": len(found)})
        return handler

    @staticmethod
    def _brands(base: str) -> list[dict[str, Any]]:
        return [{"url": f"{base}/api/v2/brands/{shapes.BRAND_ID}.json", "id": shapes.BRAND_ID, "name": "Example",
                 "brand_url": base, "subdomain": "example", "has_help_center": True, "help_center_state": "enabled",
                 "active": True, "default": True, "is_deleted": False, "created_at": _STAMP, "updated_at": _STAMP}]

    @staticmethod
    def _groups(base: str) -> list[dict[str, Any]]:
        return [{"url": f"{base}/api/v2/groups/{shapes.GROUP_ID}.json", "id": shapes.GROUP_ID, "name": "Support",
                 "description": "", "default": True, "deleted": False, "is_public": True,
                 "created_at": _STAMP, "updated_at": _STAMP}]

    @staticmethod
    def _forms(base: str) -> list[dict[str, Any]]:
        return [{"url": f"{base}/api/v2/ticket_forms/{shapes.TICKET_FORM_ID}.json", "id": shapes.TICKET_FORM_ID,
                 "name": "Default Ticket Form", "display_name": "Default Ticket Form", "position": 0, "active": True,
                 "end_user_visible": True, "default": True, "in_all_brands": True, "restricted_brand_ids": [],
                 "ticket_field_ids": [], "created_at": _STAMP, "updated_at": _STAMP}]

    @staticmethod
    def _statuses(base: str) -> list[dict[str, Any]]:
        seen: dict[int, str] = {}
        for category, sid in shapes.CUSTOM_STATUS.items():
            if category not in ("closed", "deleted"):
                seen.setdefault(sid, category)
        return [{"url": f"{base}/api/v2/custom_statuses/{sid}.json", "id": sid, "status_category": category,
                 "agent_label": category.capitalize(), "end_user_label": category.capitalize(), "active": True,
                 "default": True, "created_at": _STAMP, "updated_at": _STAMP} for sid, category in seen.items()]

    def _tag_search(self, request: Request) -> Response:
        name = (request.arg("name") or "").strip().lower()
        if len(name) < 2:
            raise ApiError(400, shapes.invalid_value("Name must be at least 2 characters"))
        store = self.store
        found = sorted({tag for t in store.tickets.values() for tag in t.tags if tag.startswith(name)})
        return Response(200, {"tags": found[:15]})

    def _articles(self, request: Request) -> Response:
        # a help center without articles: doctor only needs to see that it can read the list
        return Response(200, {"articles": [], "next_page": None, "previous_page": None, "count": 0, "page": 1,
                              "per_page": 30, "page_count": 0, "sort_by": "position", "sort_order": "asc"})
