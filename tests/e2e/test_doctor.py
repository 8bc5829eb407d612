"""`zdtriage doctor` and `zdtriage resume` the way a new admin meets them (issue 20 items 1-3): the CLI against
both simulators, a noisy trigger, an agent's token, a clean account, `--fix`, and an account hold cleared by
`resume` instead of waiting out the back-off."""

from __future__ import annotations

import json

from click.testing import CliRunner

from zdtriage.cli import cli
from zdtriage.sim.zendesk_admin import NOISY_TRIGGER_ID
from zdtriage.sim.zendesk_store import BOT_USER_ID

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
EXCLUSION = {"field": "current_user", "operator": "is_not", "value": str(BOT_USER_ID)}
ASSIGNEE_TRIGGER = 360056295754  # the standard "Notify assignee of comment update": fires on private comments


def write_config(tmp_path, zsim, asim, extra=""):
    path = tmp_path / "zdtriage.toml"
    path.write_text(f'[zendesk]\nsubdomain = "sim"\nemail = "triage-bot@example.com"\nurl = "{zsim.base_url}"\n'
                    f'start = "2020-01-01T00:00:00Z"\n[anthropic]\nbase_url = "{asim.base_url}"\nmax_attempts = 1\n'
                    f'[state]\npath = "{tmp_path / "s.db"}"\n{extra}')
    return path


def invoke(cfg, *args, env=None, stdin=None, level="INFO"):
    return CliRunner().invoke(cli, ["--log-format", "json", "--log-level", level, "--config", str(cfg), *args],
                              env={**ENV, **(env or {})}, input=stdin, catch_exceptions=False)


def writes(zsim):
    return {route: n for route, n in zsim.call_counts().items() if not route.startswith(("GET ", "HEAD "))
            and "/_sim/" not in route}


def log_lines(result):
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]


def test_a_noisy_trigger_is_named_with_the_condition_to_add_and_nothing_is_written(zsim, asim, tmp_path):
    zsim.seed(3, 1)
    zsim.add_noisy_trigger()
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "doctor")
    assert result.exit_code == 1, result.output
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 2  # the custom trigger and the standard one that e-mails the assignee
    assert any('"Notify support team of every update"' in p and str(NOISY_TRIGGER_ID) in p for p in problems)
    assert any('"Notify assignee of comment update"' in p for p in problems)
    assert result.stdout.count(json.dumps(EXCLUSION)) == 2
    assert result.stdout.splitlines()[-1] == "2 problem(s) block going live"
    assert writes(zsim) == {}  # read-only without --fix
    body = json.loads(invoke(cfg, "doctor", "--json").stdout)
    assert body["ok"] is False and body["problems"] == 2 and body["fixed"] == []
    assert {c["name"] for c in body["checks"] if not c["ok"] and c["blocking"]} == {"trigger"}
    assert writes(zsim) == {}


def test_an_agents_token_is_told_an_admin_is_needed(zsim, asim, tmp_path):
    zsim.set_api_role("agent")
    zsim.exclude_api_user_everywhere()
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "doctor")
    assert result.exit_code == 1
    out = result.stdout
    assert "PROBLEM role: the API user triage-bot@example.com" in out and "has the role agent, not admin" in out
    assert "PROBLEM export: the incremental ticket export refused the API user (403)" in out
    assert "PROBLEM triggers: the triggers could not be read: refused (403)" in out


def test_a_clean_account_passes_and_fix_has_nothing_to_do(zsim, asim, tmp_path):
    zsim.exclude_api_user_everywhere()  # what an admin who read the README did by hand
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "doctor")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "nothing blocks going live"
    assert "ok      triggers: 7 active trigger(s); none notifies anyone" in result.stdout
    assert "ok      api limit: 700 requests/min" in result.stdout
    assert "ok      anthropic: the key works and claude-haiku-4-5 answers" in result.stdout
    # issue 21: how many articles the sync would keep (published, visible to all), drafts and agents-only left out
    published = sum(1 for a in zsim.help_center.articles.values() if not a.draft and a.user_segment_id is None)
    assert published > 0
    assert f"ok      help center: readable: {published} published article(s) drafts can cite" in result.stdout
    assert invoke(cfg, "doctor", "--fix", "--yes").exit_code == 0
    assert writes(zsim) == {}


def test_fix_yes_changes_only_the_listed_triggers_keeps_their_actions_and_then_doctor_passes(zsim, asim, tmp_path):
    zsim.add_noisy_trigger()
    before = {t["id"]: json.loads(json.dumps(t)) for t in zsim.triggers}
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "doctor", "--fix", "--yes")
    assert result.exit_code == 0, result.output
    old = json.loads(result.stdout[result.stdout.index("{"):result.stdout.index("\n}\n") + 2])  # printed first
    assert {t["id"] for t in old["triggers"]} == {NOISY_TRIGGER_ID, ASSIGNEE_TRIGGER}
    assert 'changed 2 trigger(s): "Notify assignee of comment update", "Notify support team of every update"' \
        in result.stdout
    assert writes(zsim) == {"PUT /api/v2/triggers/{id}.json": 2}
    for trigger in zsim.triggers:
        was = before[trigger["id"]]
        if trigger["id"] in (NOISY_TRIGGER_ID, ASSIGNEE_TRIGGER):
            assert trigger["conditions"]["all"] == [*was["conditions"]["all"], EXCLUSION]
            assert trigger["actions"] == was["actions"] and trigger["conditions"]["any"] == was["conditions"]["any"]
        else:
            assert trigger == was
    again = invoke(cfg, "doctor")
    assert again.exit_code == 0 and "nothing blocks going live" in again.stdout


def test_fix_asks_and_a_no_changes_nothing(zsim, asim, tmp_path):
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "doctor", "--fix", stdin="n\n")
    assert result.exit_code == 1
    assert "Change this trigger?" in result.stderr and writes(zsim) == {}
    assert invoke(cfg, "doctor", "--yes").exit_code == 2  # --yes alone is a usage error


def test_a_bad_key_an_unknown_model_and_a_bad_config(zsim, asim, tmp_path):
    zsim.exclude_api_user_everywhere()
    cfg = write_config(tmp_path, zsim, asim)
    bad_key = invoke(cfg, "doctor", env={"ANTHROPIC_API_KEY": "wrong"})
    assert bad_key.exit_code == 1 and "PROBLEM anthropic: token counting with claude-haiku-4-5 failed" in bad_key.stdout
    assert "wrong" not in bad_key.stdout
    priced = write_config(tmp_path, zsim, asim, extra='[prices."claude-nonesuch-9"]\ninput = 1.0\noutput = 5.0\n')
    unknown = invoke(priced, "doctor", env={"ZDTRIAGE_ANTHROPIC__MODEL": "claude-nonesuch-9"})
    assert unknown.exit_code == 1  # the sim's count_tokens answers 404 for a model it does not have, as the API does
    assert "PROBLEM anthropic: token counting with claude-nonesuch-9 failed" in unknown.stdout
    assert "not_found_error" in unknown.stdout or "404" in unknown.stdout
    assert "ok      price: claude-nonesuch-9: $1 / $5" in unknown.stdout
    (tmp_path / "bad.toml").write_text('[zendesk]\nemail = "x@example.com"\nbogus = 1\n')
    assert invoke(tmp_path / "bad.toml", "doctor").exit_code == 2


def test_wrong_zendesk_credentials_stop_the_zendesk_checks(zsim, asim, tmp_path):
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "doctor", env={"ZENDESK_API_TOKEN": "nope"})
    assert result.exit_code == 1
    assert result.stdout.startswith("PROBLEM credentials: could not read the API user triage-bot@example.com")
    assert "401" in result.stdout
    assert "nope" not in result.stdout


def test_resume_clears_an_account_hold_and_the_next_run_submits(zsim, asim, tmp_path):
    zsim.seed(4, 7)
    cfg = write_config(tmp_path, zsim, asim)
    assert invoke(cfg, "resume").stdout.startswith("no state database at ")
    assert not (tmp_path / "s.db").exists()
    asim.refuse("credit")
    first = invoke(cfg, "run", "--once")
    (submit,) = [line for line in log_lines(first) if line["action"] == "submit"]
    assert submit["level"] == "WARNING" and "`zdtriage resume`" in submit["message"]
    check = invoke(cfg, "status", "--check")
    assert check.exit_code == 1 and "`zdtriage resume`" in check.stdout
    assert "`zdtriage resume`" in invoke(cfg, "status").stdout
    asim.clear_refusal()  # the admin bought credit; the hold would still last its back-off
    held = invoke(cfg, "run", "--once")
    (submit,) = [line for line in log_lines(held) if line["action"] == "submit"]
    assert submit["level"] == "INFO" and submit["message"].startswith("submit: submitting held until ")
    assert json.loads(invoke(cfg, "status", "--json").stdout)["batches_open"] == 0
    resumed = invoke(cfg, "resume")
    assert resumed.exit_code == 0 and resumed.stdout.startswith("cleared the hold held since ")
    assert "credit balance is too low" in resumed.stdout
    assert invoke(cfg, "run", "--once").exit_code == 0
    status = json.loads(invoke(cfg, "status", "--json").stdout)
    assert status["submit_held"] is None and status["tickets"]["queued"] == 0
    assert invoke(cfg, "resume").stdout.startswith("nothing was held")


def test_right_after_install_with_zendesk_refusing_status_check_names_the_failing_stage(zsim, asim, tmp_path):
    cfg = write_config(tmp_path, zsim, asim)
    result = invoke(cfg, "run", "--once", env={"ZENDESK_API_TOKEN": "wrong"})
    assert result.exit_code == 1
    check = invoke(cfg, "status", "--check")
    assert check.exit_code == 1 and check.stdout.startswith(
        "unhealthy: ingest has failed on every run since it first ran"
    )
    assert "every stage succeeded" not in check.stdout and "wrong" not in check.stdout
    body = json.loads(invoke(cfg, "status", "--check", "--json").stdout)
    assert body["last_writeback_success"] is None  # the write-back stage ran, but wrote nothing
