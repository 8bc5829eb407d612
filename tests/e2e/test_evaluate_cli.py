"""``zdtriage evaluate`` and ``report`` on the command line, against both simulators."""

from __future__ import annotations

import json

from click.testing import CliRunner

from zdtriage.cli import cli

ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}


def write_config(tmp_path, zsim, asim, model="claude-haiku-4-5", extra=""):
    path = tmp_path / f"{model}.toml"
    path.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "triage-bot@example.com"\nurl = "{zsim.base_url}"\n'
                    f'[anthropic]\nbase_url = "{asim.base_url}"\nmodel = "{model}"\n{extra}'
                    f'[state]\npath = "{tmp_path / "s.db"}"\n')
    return path


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=ENV, input=input)


def test_a_model_change_prints_both_evaluations_side_by_side(zsim, asim, tmp_path):
    zsim.seed(40, 11, history=True)
    first = invoke("--config", write_config(tmp_path, zsim, asim), "evaluate", "--since", "2020-01-01", "--yes")
    assert first.exit_code == 0, first.output
    assert "Evaluation #1" in first.output and "Before and after" not in first.output
    assert "Nothing is written to Zendesk" in first.output  # the estimate, on stderr
    second = invoke("--config", write_config(tmp_path, zsim, asim, "claude-sonnet-4-6"), "evaluate", "--since",
                    "2020-01-01", "--yes", "--json")
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)  # one object on stdout; progress went to stderr
    assert data["sent"] is True and data["estimate"]["tickets"] == data["evaluation"]["tickets"]
    assert (data["evaluation"]["id"], data["evaluation_before"]["id"]) == (2, 1)
    assert data["evaluation"]["fingerprint"] != data["evaluation_before"]["fingerprint"]
    text = invoke("--config", write_config(tmp_path, zsim, asim), "report")
    assert text.exit_code == 0, text.output
    model_line = next(line for line in text.stdout.splitlines() if line.startswith("model "))
    assert model_line.index("claude-haiku-4-5") < model_line.index("claude-sonnet-4-6")
    report = json.loads(invoke("--config", write_config(tmp_path, zsim, asim), "report", "--json").stdout)
    assert report["evaluation"]["id"] == 2 and report["evaluation_before"]["id"] == 1
    assert set(report["live_agreement"]) == {"priority", "category"}


def test_the_same_prompt_and_model_again_is_not_a_comparison(zsim, asim, tmp_path):
    zsim.seed(15, 12, history=True)
    cfg = write_config(tmp_path, zsim, asim)
    for _ in range(2):
        result = invoke("--config", cfg, "evaluate", "--since", "2020-01-01", "--yes", "--json")
        assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["evaluation_before"] is None
    # a longer knowledge text is a prompt change
    knowledge = tmp_path / "kb.txt"
    knowledge.write_text("Refunds take five working days.")
    changed = write_config(tmp_path, zsim, asim, extra=f'[triage]\nknowledge_file = "{knowledge}"\n')
    data = json.loads(invoke("--config", changed, "evaluate", "--since", "2020-01-01", "--yes", "--json").stdout)
    assert data["evaluation_before"]["id"] == 2
    assert data["evaluation"]["model"] == data["evaluation_before"]["model"]
    assert data["evaluation"]["prompt_hash"] != data["evaluation_before"]["prompt_hash"]


def test_report_still_reads_an_evaluation_after_the_lists_changed(zsim, asim, tmp_path):
    zsim.seed(15, 16, history=True)
    assert invoke("--config", write_config(tmp_path, zsim, asim), "evaluate", "--since", "2020-01-01",
                  "--yes").exit_code == 0
    renamed = write_config(tmp_path, zsim, asim, extra='[triage]\npriorities = ["high", "low"]\n')
    report = invoke("--config", renamed, "report", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["evaluation"]["priority"]["labels"] == ["P1", "P2", "P3", "P4"]


def test_it_asks_before_spending(zsim, asim, tmp_path):
    zsim.seed(10, 13, history=True)
    cfg = write_config(tmp_path, zsim, asim)
    declined = invoke("--config", cfg, "evaluate", "--since", "2020-01-01", input="n\n")
    assert declined.exit_code == 0 and "Nothing was sent." in declined.stdout
    unattended = invoke("--config", cfg, "evaluate", "--since", "2020-01-01")
    assert unattended.exit_code == 2 and "--yes" in unattended.output
    assert asim.batches() == []
    accepted = invoke("--config", cfg, "evaluate", "--since", "2020-01-01", input="y\n")
    assert accepted.exit_code == 0 and len(asim.batches()) == 1


def one_line(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_errors_are_one_line(zsim, asim, tmp_path):
    cfg = write_config(tmp_path, zsim, asim)
    nothing = invoke("--config", cfg, "evaluate", "--yes")
    assert nothing.exit_code == 2 and "--since is required" in one_line(nothing)
    bad = invoke("--config", cfg, "evaluate", "--since", "last tuesday")
    assert bad.exit_code == 2 and "--since" in one_line(bad)
    future = invoke("--config", cfg, "evaluate", "--since", "2099-01-01")
    assert future.exit_code == 2 and "not in the past" in one_line(future)
    empty = invoke("--config", cfg, "evaluate", "--since", "2020-01-01", "--yes")
    assert empty.exit_code == 1 and "no solved or closed ticket" in empty.output.splitlines()[-1]
    too_many = invoke("--config", cfg, "evaluate", "--since", "2020-01-01", "--limit", "6000")
    assert too_many.exit_code == 2


def test_evaluate_with_and_without_articles_side_by_side(zsim, asim, tmp_path):
    from zdtriage import store

    zsim.seed(15, 13, history=True)
    cfg = write_config(tmp_path, zsim, asim)
    first = invoke("--config", cfg, "evaluate", "--since", "2020-01-01", "--yes", "--json")
    assert first.exit_code == 0, first.output
    db = store.open_db(tmp_path / "s.db")
    assert next(db.query("select count(*) as n from articles"))["n"] > 30  # a first Help Center read
    second = invoke("--config", cfg, "evaluate", "--since", "2020-01-01", "--yes", "--json", "--no-articles",
                    "--no-examples")
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert data["evaluation_before"]["id"] == 1
    assert data["evaluation"]["fingerprint"] != data["evaluation_before"]["fingerprint"]
