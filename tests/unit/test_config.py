"""Config: every bad value is one ConfigError naming the key; secrets come only from the environment."""

import pytest

from integration.config import ConfigError, load, parse, parse_duration

ENV = {"ZENDESK_API_TOKEN": "zd-secret-123456", "ANTHROPIC_API_KEY": "sk-ant-secret-abcdef"}
MIN = {"zendesk": {"subdomain": "acme", "email": "bot@acme.com"}}


def with_(section, **values):
    raw = {"zendesk": dict(MIN["zendesk"])}
    raw.setdefault(section, {}).update(values)
    return raw


def test_minimal_config_gets_every_default():
    cfg = parse(MIN, ENV)
    assert cfg.anthropic.model == "claude-haiku-4-5"
    assert cfg.schedule.submit_every == 1800
    assert cfg.triage.priorities == ("P1", "P2", "P3", "P4")
    assert cfg.budget.daily_usd == 50.0
    assert cfg.zendesk.token == ENV["ZENDESK_API_TOKEN"]


@pytest.mark.parametrize("raw, key", [
    ({}, "zendesk.subdomain"),
    ({"zendesk": {"subdomain": "acme"}}, "zendesk.email"),
    (with_("zendesk", subdomain="Acme Corp"), "zendesk.subdomain"),
    (with_("zendesk", email="nobody"), "zendesk.email"),
    (with_("zendesk", colour="blue"), "zendesk.colour"),
    ({**MIN, "extra": {}}, "extra"),
    (with_("zendesk", url="ftp://x"), "zendesk.url"),
    (with_("zendesk", start="yesterday"), "zendesk.start"),
    (with_("anthropic", model="gpt-5"), "anthropic.model"),
    (with_("anthropic", max_tokens=0), "anthropic.max_tokens"),
    (with_("anthropic", max_tokens="512"), "anthropic.max_tokens"),
    (with_("schedule", submit_every="soon"), "schedule.submit_every"),
    (with_("schedule", poll_every="0s"), "schedule.poll_every"),
    (with_("schedule", min_batch=0), "schedule.min_batch"),
    (with_("triage", priorities=[]), "triage.priorities"),
    (with_("triage", categories=["billing", "Billing"]), "triage.categories"),
    (with_("triage", categories=["bad tag!"]), "triage.categories"),
    (with_("triage", statuses=["closed"]), "triage.statuses"),
    (with_("triage", native_priority="yes"), "triage.native_priority"),
    (with_("triage", tag_prefix="AI "), "triage.tag_prefix"),
    (with_("triage", low_confidence=2), "triage.low_confidence"),
    (with_("budget", daily_usd=-1), "budget.daily_usd"),
    (with_("budget", daily_usd=True), "budget.daily_usd"),
])
def test_bad_values_name_their_key(raw, key):
    with pytest.raises(ConfigError) as err:
        parse(raw, ENV)
    assert err.value.key == key
    assert "\n" not in str(err.value)


def test_native_priority_needs_four_levels():
    with pytest.raises(ConfigError, match="triage.native_priority"):
        parse(with_("triage", native_priority=True, priorities=["high", "low"]), ENV)


def test_missing_secret_names_the_variable_not_its_value():
    with pytest.raises(ConfigError) as err:
        parse(MIN, {"ZENDESK_API_TOKEN": "x"})
    assert err.value.key == "anthropic.api_key_env"
    assert "ANTHROPIC_API_KEY" in str(err.value)


def test_masked_never_shows_a_secret():
    cfg = parse(MIN, ENV)
    text = repr(cfg) + str(cfg.masked())
    for secret in ENV.values():
        assert secret not in text
        assert secret[-4:] not in text


@pytest.mark.parametrize("value, seconds", [("90s", 90), ("2m", 120), ("1h", 3600), ("1.5m", 90), (30, 30), ("500ms", 0.5)])
def test_durations(value, seconds):
    assert parse_duration("k", value) == seconds


def test_load_reports_bad_toml_in_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[zendesk\nsubdomain = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path, ENV)


def test_load_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml", ENV)


def test_relative_state_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.toml"
    path.write_text('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\n[state]\npath = "s/x.db"\n')
    assert load(path, ENV).state.path == str(tmp_path / "s" / "x.db")


def test_example_config_is_valid():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "config" / "zdtriage.example.toml"
    cfg = load(example, ENV)
    assert cfg.zendesk.subdomain


def test_simulator_config_is_valid():
    from pathlib import Path

    cfg = load(Path(__file__).resolve().parents[2] / "config" / "sim.toml", {"ZENDESK_API_TOKEN": "sim-token",
                                                                               "ANTHROPIC_API_KEY": "sim-key"})
    assert cfg.zendesk.url == "http://127.0.0.1:8765"
