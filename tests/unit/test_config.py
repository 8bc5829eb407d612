"""Config: every bad value is one ConfigError naming the key; secrets come only from the environment."""

import pytest

from zdtriage.config import ConfigError, load, parse, parse_duration

ENV = {"ZENDESK_API_TOKEN": "zd-secret-123456", "ANTHROPIC_API_KEY": "sk-ant-secret-abcdef"}
MIN = {"zendesk": {"subdomain": "acme", "email": "bot@acme.com"}}


def with_(section, **values):
    raw = {"zendesk": dict(MIN["zendesk"])}
    raw.setdefault(section, {}).update(values)
    return raw


def test_minimal_config_gets_every_default():
    cfg = parse(MIN, ENV)
    assert cfg.anthropic.model == "claude-haiku-4-5"
    assert cfg.schedule.submit_every == 60 and cfg.schedule.ingest_every == 600 and cfg.schedule.max_wait == 600
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
    with pytest.raises(ConfigError, match=r"triage\.native_priority"):
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


@pytest.mark.parametrize(
    "value, seconds", [("90s", 90), ("2m", 120), ("1h", 3600), ("1.5m", 90), (30, 30), ("500ms", 0.5)]
)
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
    with pytest.raises(ConfigError, match=r"zendesk.subdomain: still holds the placeholder 'CHANGE-ME'"):
        load(example, ENV)  # issue 20: untouched, it cannot pass
    env = {**ENV, "ZDTRIAGE_ZENDESK__SUBDOMAIN": "acme", "ZDTRIAGE_ZENDESK__EMAIL": "bot@acme.com"}
    assert load(example, env).zendesk.subdomain == "acme"


def test_simulator_config_is_valid():
    from pathlib import Path

    cfg = load(Path(__file__).resolve().parents[2] / "config" / "sim.toml", {"ZENDESK_API_TOKEN": "sim-token",
                                                                               "ANTHROPIC_API_KEY": "sim-key"})
    assert cfg.zendesk.url == "http://127.0.0.1:8765"


# --- second round: scope, pilot mode, evaluate, metrics, bounds (issues 12 and 14) ---------------------

def test_new_sections_have_the_documented_defaults():
    cfg = parse(MIN, ENV)
    assert cfg.zendesk.export_requests_per_minute == 10 and cfg.zendesk.auth == "token"
    assert cfg.schedule.max_wait == 600
    assert cfg.state.keep_days == 90
    assert (cfg.triage.brands, cfg.triage.groups, cfg.triage.forms, cfg.triage.custom_statuses) == ((), (), (), ())
    assert cfg.triage.sample == 1.0
    assert cfg.writeback.mode == "full"
    assert cfg.evaluate.category_field is None and cfg.evaluate.category_map == ()
    assert dict(cfg.evaluate.priority_map) == {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"}
    assert (cfg.metrics.port, cfg.metrics.host, cfg.metrics.textfile) == (0, "127.0.0.1", None)


def test_scope_and_pilot_values_are_kept():
    cfg = parse(with_("triage", brands=[1, 2], groups=[360000333444], forms=[7], custom_statuses=[42], sample=0.1), ENV)
    assert cfg.triage.brands == (1, 2) and cfg.triage.groups == (360000333444,) and cfg.triage.forms == (7,)
    assert cfg.triage.custom_statuses == (42,) and cfg.triage.sample == 0.1
    assert parse(with_("writeback", mode="tags"), ENV).writeback.mode == "tags"
    assert parse(with_("metrics", port=9100, host="0.0.0.0"), ENV).metrics.port == 9100


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("raw, key", [
    # nan and inf pass a plain `< 0` check: a nan budget would turn the cap off (issue 12, item 9)
    (with_("budget", daily_usd=NAN), "budget.daily_usd"),
    (with_("budget", monthly_usd=INF), "budget.monthly_usd"),
    (with_("prices", **{"my-model": {"input": NAN, "output": 1.0}}), "prices.my-model.input"),
    (with_("triage", low_confidence=NAN), "triage.low_confidence"),
    (with_("schedule", poll_every=INF), "schedule.poll_every"),
    (with_("schedule", max_wait=NAN), "schedule.max_wait"),
    (with_("zendesk", verify_after=-INF), "zendesk.verify_after"),
    # upper bounds on durations
    (with_("schedule", ingest_every="2d"), "schedule.ingest_every"),
    (with_("schedule", max_wait=86401), "schedule.max_wait"),
    (with_("zendesk", verify_after="25h"), "zendesk.verify_after"),
    (with_("anthropic", verify_after="2d"), "anthropic.verify_after"),
    (with_("anthropic", retry_backoff="2h"), "anthropic.retry_backoff"),
    # scope and pilot mode
    (with_("triage", brands=[0]), "triage.brands"),
    (with_("triage", groups=["360000333444"]), "triage.groups"),
    (with_("triage", forms=[True]), "triage.forms"),
    (with_("triage", custom_statuses=[5, 5]), "triage.custom_statuses"),
    (with_("triage", brands=12), "triage.brands"),
    (with_("triage", sample=0), "triage.sample"),
    (with_("triage", sample=1.5), "triage.sample"),
    (with_("triage", sample=NAN), "triage.sample"),
    (with_("writeback", mode="dry-run"), "writeback.mode"),
    (with_("writeback", colour=1), "writeback.colour"),
    (with_("state", keep_days=-1), "state.keep_days"),
    (with_("state", keep_days=1.5), "state.keep_days"),
    (with_("zendesk", export_requests_per_minute=0), "zendesk.export_requests_per_minute"),
    (with_("zendesk", export_requests_per_minute=101), "zendesk.export_requests_per_minute"),
    (with_("zendesk", auth="password"), "zendesk.auth"),
    (with_("metrics", port=70000), "metrics.port"),
    (with_("metrics", host=""), "metrics.host"),
    (with_("metrics", textfile="/var/lib/node_exporter/zdtriage.txt"), "metrics.textfile"),
    # evaluate
    (with_("evaluate", category_field="subject"), "evaluate.category_field"),
    (with_("evaluate", category_field=0), "evaluate.category_field"),
    (with_("evaluate", category_map={"question": "account"}), "evaluate.category_map"),
    (with_("evaluate", category_field="type", category_map={"questions": "account"}), "evaluate.category_map"),
    (with_("evaluate", category_field=360001, category_map={"refund": "refunds"}), "evaluate.category_map"),
    (with_("evaluate", priority_map={"critical": "P1"}), "evaluate.priority_map"),
    (with_("evaluate", priority_map={"urgent": "P0"}), "evaluate.priority_map"),
    (with_("evaluate", priority_map=["urgent", "P1"]), "evaluate.priority_map"),
])
def test_values_that_pass_but_would_break_are_refused(raw, key):
    with pytest.raises(ConfigError) as err:
        parse(raw, ENV)
    assert err.value.key == key
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_nan_and_inf_from_toml_text_are_refused(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\n[budget]\ndaily_usd = {text}\n')
    with pytest.raises(ConfigError, match=r"budget\.daily_usd: must be a finite number"):
        load(path, ENV)


def test_durations_up_to_a_day_pass():
    cfg = parse(with_("schedule", submit_every="1d", max_wait="1d"), ENV)
    assert cfg.schedule.submit_every == cfg.schedule.max_wait == 86400


def test_evaluate_maps_are_validated_against_the_taxonomy():
    cfg = parse(
        with_("evaluate", category_field="type", category_map={"Question": "account", "problem": "technical"}), ENV
    )
    assert cfg.evaluate.category_field == "type"
    assert dict(cfg.evaluate.category_map) == {
        "question": "account",
        "problem": "technical",
    }  # Zendesk values are lower-case
    assert parse(with_("evaluate", category_field=360001), ENV).evaluate.category_field == 360001


def test_default_priority_map_follows_the_configured_priorities():
    four = parse(with_("triage", priorities=["critical", "high", "medium", "low"]), ENV)
    assert dict(four.evaluate.priority_map) == {"urgent": "critical", "high": "high", "normal": "medium", "low": "low"}
    two = parse(with_("triage", priorities=["now", "later"]), ENV)
    assert dict(two.evaluate.priority_map) == {"urgent": "now", "high": "now", "normal": "later", "low": "later"}
    custom = parse(with_("evaluate", priority_map={"urgent": "P1", "high": "P1"}), ENV)
    assert dict(custom.evaluate.priority_map) == {"urgent": "P1", "high": "P1"}


def test_skip_tags_and_statuses_are_kept_as_zendesk_stores_them():
    cfg = parse(with_("triage", skip_tags=["No_AI", "VIP-Customer"], statuses=["Open", "NEW"]), ENV)
    assert cfg.triage.skip_tags == ("no_ai", "vip-customer")
    assert cfg.triage.statuses == ("open", "new")


@pytest.mark.parametrize("tag", ["no ai", "no\tai"])
def test_a_skip_tag_with_a_space_is_refused_with_the_reason(tag):
    with pytest.raises(ConfigError) as err:
        parse(with_("triage", skip_tags=[tag]), ENV)
    assert err.value.key == "triage.skip_tags"
    assert "splits tags on spaces" in str(err.value) and "'no_ai'" in str(err.value)
    assert "\n" not in str(err.value)


def test_oauth_needs_no_email_but_a_token_does():
    cfg = parse({"zendesk": {"subdomain": "acme", "auth": "oauth"}}, ENV)
    assert cfg.zendesk.auth == "oauth" and cfg.zendesk.email == "" and cfg.zendesk.token == ENV["ZENDESK_API_TOKEN"]
    with pytest.raises(ConfigError) as err:
        parse({"zendesk": {"subdomain": "acme"}}, ENV)
    assert err.value.key == "zendesk.email" and "OAuth" in str(err.value)
    with pytest.raises(ConfigError, match=r"zendesk\.email"):
        parse({"zendesk": {"subdomain": "acme", "auth": "oauth", "email": "nobody"}}, ENV)


def test_masked_covers_the_new_sections():
    cfg = parse(with_("evaluate", category_field="type", category_map={"question": "account"}), ENV)
    masked = cfg.masked()
    assert {"writeback", "evaluate", "metrics"} <= set(masked)
    assert masked["evaluate"]["category_map"] == {"question": "account"}
    assert masked["state"]["keep_days"] == 90 and masked["triage"]["sample"] == 1.0
    assert "warnings" not in masked


def test_knowledge_file_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "kb.txt").write_text("Refunds take 5 days.\n")
    path = tmp_path / "conf" / "c.toml"
    path.write_text('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\n[triage]\nknowledge_file = "kb.txt"\n')
    monkeypatch.chdir(tmp_path)  # not the file's folder
    cfg = load(path, ENV)
    assert cfg.triage.knowledge == "Refunds take 5 days."
    assert cfg.triage.knowledge_file == str(tmp_path / "conf" / "kb.txt")


def test_knowledge_file_must_be_a_small_regular_file(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading a FIFO with no writer would block start-up forever
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # sparse: 2 GB announced, nothing written
        f.truncate(2 * 1024 ** 3)
    for path, words in [(fifo, "FIFO"), ("/dev/zero", "device"), (tmp_path, "directory"), (big, "more than the 2 MB")]:
        with pytest.raises(ConfigError) as err:
            parse(with_("triage", knowledge_file=str(path)), ENV)
        assert err.value.key == "triage.knowledge_file" and words in str(err.value), str(err.value)
        assert "\n" not in str(err.value)


def test_a_state_path_from_the_file_is_relative_to_the_file(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "etc" / "c.toml"
    path.write_text('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\n[state]\npath = "../var/x.db"\n')
    assert load(path, ENV).state.path == str(tmp_path / "var" / "x.db")
    # the default is relative to the working directory, like every path typed in a shell
    path.write_text('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\n')
    assert load(path, ENV).state.path == str(tmp_path / "state" / "zdtriage.db")


def test_example_config_documents_every_key():
    import re
    from pathlib import Path

    from zdtriage.config import SECTIONS, keys

    text = (Path(__file__).resolve().parents[2] / "config" / "zdtriage.example.toml").read_text()
    for section in SECTIONS:
        assert re.search(rf"^\[{section}\]", text, re.M), f"[{section}] missing from the example"
        for key in keys(section):
            assert re.search(rf"^#? ?{key} = ", text, re.M), f"{section}.{key} missing from the example"


def test_packaged_example_is_the_repository_example():
    from importlib.resources import files
    from pathlib import Path

    shipped = files("zdtriage").joinpath("data/zdtriage.example.toml").read_text(encoding="utf-8")
    assert shipped == (Path(__file__).resolve().parents[2] / "config" / "zdtriage.example.toml").read_text(
        encoding="utf-8"
    ), "copy config/zdtriage.example.toml to integration/zdtriage/data/ (the package ships that copy)"
