"""The rules of `zdtriage doctor` (issue 20 item 1), pure: which triggers would e-mail people about the
service's internal notes (DESIGN §7), the fix, scope ids, prices; and the daemon's answer to `resume`."""

from __future__ import annotations

import pytest

from zdtriage import config as config_mod
from zdtriage import daemon, doctor, pipeline, store
from zdtriage.pricing import PRICES
from zdtriage.sim.zendesk_admin import noisy_trigger, standard_triggers
from zdtriage.stages import common

ME = 1_900_000_000_001
EMAIL_ASSIGNEE = [{"field": "notification_user", "value": ["assignee_id", "Re: {{ticket.title}}", "{{ticket.id}}"]}]


def trigger(all_=(), any_=(), actions=EMAIL_ASSIGNEE, active=True):
    return {"id": 1, "title": "t", "active": active, "actions": list(actions),
            "conditions": {"all": list(all_), "any": list(any_)}}


def cond(field, operator, value):
    return {"field": field, "operator": operator, "value": value}


def test_of_the_standard_triggers_only_the_assignee_comment_update_is_noisy():
    found = [t["title"] for t in standard_triggers() if doctor.noisy(t, ME)]
    assert found == ["Notify assignee of comment update"]
    assert doctor.noisy(noisy_trigger(), ME)


@pytest.mark.parametrize("conditions, expected", [
    ([cond("comment_is_public", "is", "not_relevant")], True),
    ([cond("comment_is_public", "is", "false")], True),
    ([cond("update_type", "is", "Change")], True),  # no comment_is_public condition at all
    ([cond("comment_is_public", "is", "true")], False),
    ([cond("comment_is_public", "is", "requester_can_see_comment")], False),
    ([cond("update_type", "is", "Create")], False),
    ([cond("comment_is_public", "is", "not_relevant"), cond("current_user", "is_not", str(ME))], False),
    ([cond("comment_is_public", "is", "not_relevant"), cond("current_user", "is_not", ME)], False),
    ([cond("comment_is_public", "is", "not_relevant"), cond("current_user", "is_not", "42")], True),
    ([cond("assignee_id", "changed", None)], False),  # we never change the assignee
    ([cond("priority", "changed", None)], True),  # we may (triage.native_priority)
    ([cond("current_via_id", "is", "4")], False),  # e-mail updates only; ours come through the API (5)
    ([cond("role", "is", "end_user")], False),
])
def test_which_conditions_let_a_trigger_fire_on_our_internal_note(conditions, expected):
    assert doctor.noisy(trigger(conditions), ME) is expected


def test_inactive_triggers_triggers_without_notification_and_any_lists_we_cannot_meet_are_quiet():
    assert not doctor.noisy(trigger(active=False), ME)
    assert not doctor.noisy(trigger(actions=[{"field": "status", "value": "open"}]), ME)
    assert not doctor.noisy(trigger(any_=[cond("group_id", "changed", ""), cond("assignee_id", "changed", "")]), ME)
    assert doctor.noisy(trigger(any_=[cond("group_id", "changed", ""), cond("current_tags", "changed", "")]), ME)
    assert doctor.noisy(trigger(actions=[{"field": "notification_target", "value": ["123", "{{ticket.id}}"]}]), ME)


def test_the_fix_appends_the_exclusion_and_keeps_everything_else():
    original = noisy_trigger()
    fixed = doctor.with_exclusion(original, ME)
    assert fixed["conditions"]["all"] == [*original["conditions"]["all"],
                                          {"field": "current_user", "operator": "is_not", "value": str(ME)}]
    assert fixed["actions"] == original["actions"] and original != fixed  # a copy: the original is untouched
    assert not doctor.noisy(fixed, ME)


def test_check_lines_name_each_trigger_and_the_condition():
    checks = doctor.check_triggers([noisy_trigger(), *standard_triggers()], None, ME)
    assert [c.ok for c in checks] == [False, False]
    assert all(c.blocking and f'"value": "{ME}"' in c.fix for c in checks)
    assert doctor.render(checks).splitlines()[-1] == "2 problem(s) block going live"


def test_scope_ids_the_account_does_not_have_block():
    found = {"brands": {1, 2}, "groups": {7}}
    checks = doctor.check_scope({"brands": [1, 3], "groups": [7]}, found, None)
    assert [(c.ok, c.line) for c in checks] == [
        (False, "triage.brands: no brand with id 3 in the account"), (True, "triage.groups: all 1 id(s) exist")]
    assert doctor.check_scope({}, None, "403")[0].ok  # nothing configured: nothing to read


def test_a_model_without_a_price_blocks_and_notes_never_do():
    assert not doctor.check_price("claude-nonesuch-9", PRICES).ok
    assert doctor.check_price("claude-haiku-4-5", PRICES).ok
    notes = [doctor.check_skip_tags({"no_ai": False}), doctor.check_help_center({"readable": False, "detail": "404"}),
             doctor.check_rate_limit({})]
    assert not any(c.ok for c in notes) and doctor.blocking(notes) == []


class _Scheduler:
    def __init__(self):
        self.moved = []

    def modify_job(self, job_id, **changes):
        self.moved.append(job_id)


def test_the_daemon_submits_at_once_when_resume_asked_and_only_once(tmp_path):
    cfg = config_mod.parse(
        {"zendesk": {"subdomain": "acme", "email": "bot@acme.com"}, "state": {"path": str(tmp_path / "s.db")}},
        {"ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k"},
    )
    ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), clock=lambda: 1_790_000_000.0)
    scheduler = _Scheduler()
    assert common.resume(ctx) is None and daemon._resume_check(ctx, scheduler) == {"stage": "resume"}
    common.hold(ctx, "Anthropic answered 402: billing_error")
    held = common.resume(ctx)
    assert held["reason"] == "Anthropic answered 402: billing_error" and common.held(ctx) == (0.0, "")
    assert store.get_sync(ctx.db, "hold:refusals") is None  # the next refusal starts the back-off afresh
    assert daemon._resume_check(ctx, scheduler)["resumed"] == 1 and scheduler.moved == ["submit"]
    daemon._resume_check(ctx, scheduler)
    assert scheduler.moved == ["submit"]
