"""12-factor configuration: ZDTRIAGE_<SECTION>__<KEY> variables, secrets from files, precedence."""

import os
import stat

import pytest

from zdtriage.config import ConfigError, load, locate, parse
from zdtriage.config_sources import env_value

ENV = {"ZENDESK_API_TOKEN": "zd-secret-123456", "ANTHROPIC_API_KEY": "sk-ant-secret-abcdef"}
MIN = {"zendesk": {"subdomain": "acme", "email": "bot@acme.com"}}


@pytest.mark.parametrize("text, want_str, value", [
    ("10", False, 10),
    ("0.25", False, 0.25),
    ("true", False, True),
    ('["no_ai", "vip"]', False, ["no_ai", "vip"]),
    ("[360001, 360002]", False, [360001, 360002]),
    ("{input = 1.0, output = 5.0}", False, {"input": 1.0, "output": 5.0}),
    ("acme", False, "acme"),
    ("2m", False, "2m"),
    ("2026-11-01T00:00:00Z", False, "2026-11-01T00:00:00Z"),  # a TOML datetime stays text
    ("true", True, "true"),  # a string key keeps the text
    ("123", True, "123"),
    ('"quoted"', True, "quoted"),
    ("1\nzendesk = 2", False, "1\nzendesk = 2"),  # a line break cannot smuggle a second key in
])
def test_environment_values_are_toml_when_they_parse(text, want_str, value):
    assert env_value(text, want_str=want_str) == value


def test_every_section_can_come_from_the_environment():
    env = {**ENV,
           "ZDTRIAGE_ZENDESK__SUBDOMAIN": "other",
           "ZDTRIAGE_ZENDESK__EXPORT_REQUESTS_PER_MINUTE": "30",
           "ZDTRIAGE_SCHEDULE__SUBMIT_EVERY": "10m",
           "ZDTRIAGE_TRIAGE__GROUPS": "[360001, 360002]",
           "ZDTRIAGE_TRIAGE__SKIP_TAGS": '["No_AI"]',
           "ZDTRIAGE_TRIAGE__TAG_PREFIX": "zbt_",
           "ZDTRIAGE_BUDGET__DAILY_USD": "20",
           "ZDTRIAGE_WRITEBACK__MODE": "off",
           "ZDTRIAGE_EVALUATE__CATEGORY_FIELD": "360009",
           "ZDTRIAGE_METRICS__PORT": "9100",
           "ZDTRIAGE_STATE__KEEP_DAYS": "0",
           "ZDTRIAGE_PRICES__MY-MODEL": "{input = 2.0, output = 4.0}",
           "ZDTRIAGE_ANTHROPIC__MODEL": "my-model"}
    cfg = parse(MIN, env)
    assert cfg.zendesk.subdomain == "other" and cfg.zendesk.export_requests_per_minute == 30
    assert cfg.schedule.submit_every == 600
    assert cfg.triage.groups == (360001, 360002) and cfg.triage.skip_tags == ("no_ai",)
    assert cfg.triage.tag_prefix == "zbt_"
    assert cfg.budget.daily_usd == 20.0 and cfg.writeback.mode == "off"
    assert cfg.evaluate.category_field == 360009 and cfg.metrics.port == 9100 and cfg.state.keep_days == 0
    assert cfg.anthropic.model == "my-model" and cfg.price_table()["my-model"].input == 2.0


def test_a_price_can_be_set_key_by_key():
    env = {**ENV, "ZDTRIAGE_PRICES__CLAUDE-HAIKU-4-5__INPUT": "0.8"}
    raw = {**MIN, "prices": {"claude-haiku-4-5": {"input": 1.0, "output": 5.0}}}
    assert parse(raw, env).price_table()["claude-haiku-4-5"].input == 0.8


@pytest.mark.parametrize("name, value, key", [
    ("ZDTRIAGE_BUDGET__DAILY_USD", "lots", "budget.daily_usd"),
    ("ZDTRIAGE_BUDGET__DAILY_USD", "nan", "budget.daily_usd"),
    ("ZDTRIAGE_TRIAGE__SAMPLE", "2", "triage.sample"),
    ("ZDTRIAGE_ZENDESK__SUBDOMAIN", "Acme Corp", "zendesk.subdomain"),
    ("ZDTRIAGE_ZENDESK__COLOUR", "blue", "zendesk.colour"),
    ("ZDTRIAGE_ZENDSK__SUBDOMAIN", "acme", "zendsk"),
    ("ZDTRIAGE_ZENDESK_SUBDOMAIN", "acme", "zendesk"),  # one underscore: would be silently ignored otherwise
    ("ZDTRIAGE_PRICES__X__Y__Z", "1", "prices"),
    ("ZDTRIAGE_PRICES__MY-MODEL", "cheap", "prices.my-model"),
])
def test_a_bad_variable_is_one_line_naming_it(name, value, key):
    with pytest.raises(ConfigError) as err:
        parse(MIN, {**ENV, name: value})
    assert err.value.key == key
    assert err.value.source == name and name in str(err.value)
    assert "\n" not in str(err.value)


def test_a_bad_file_value_does_not_blame_a_variable():
    with pytest.raises(ConfigError) as err:
        parse({**MIN, "budget": {"daily_usd": "lots"}}, {**ENV, "ZDTRIAGE_BUDGET__MONTHLY_USD": "5"})
    assert err.value.source is None and "ZDTRIAGE" not in str(err.value)


def test_precedence_defaults_file_environment_flags(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\n[metrics]\nport = 9100\nhost = "10.0.0.1"\n'
                    '[budget]\ndaily_usd = 10\n')
    env = {**ENV, "ZDTRIAGE_METRICS__PORT": "9200", "ZDTRIAGE_BUDGET__DAILY_USD": "20"}
    cfg = load(path, env, overrides={"metrics.port": 9300})
    assert cfg.metrics.port == 9300  # flag over environment over file
    assert cfg.budget.daily_usd == 20  # environment over file
    assert cfg.metrics.host == "10.0.0.1"  # file over default
    assert cfg.anthropic.max_tokens == 512  # default
    with pytest.raises(ConfigError) as err:
        load(path, env, overrides={"metrics.port": -1})
    assert err.value.source == "a command-line option"


def test_configuration_from_the_environment_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {**ENV, "ZDTRIAGE_ZENDESK__SUBDOMAIN": "acme", "ZDTRIAGE_ZENDESK__EMAIL": "bot@acme.com",
           "ZDTRIAGE_STATE__PATH": "data/z.db"}
    assert locate(None, env) is None  # no config/zdtriage.toml here
    cfg = load(None, env)
    assert cfg.zendesk.subdomain == "acme"
    assert cfg.state.path == str(tmp_path / "data" / "z.db")  # relative to the working directory
    with pytest.raises(ConfigError) as err:
        load(None, {**ENV, "ZDTRIAGE_ZENDESK__EMAIL": "bot@acme.com"})
    assert err.value.key == "zendesk.subdomain" and "ZDTRIAGE_ZENDESK__SUBDOMAIN" in str(err.value)


def test_locate_reads_an_explicit_path_even_when_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert str(locate("x.toml", {})) == "x.toml"
    assert str(locate(None, {"ZDTRIAGE_CONFIG": "y.toml", "ZDTRIAGE_ZENDESK__SUBDOMAIN": "a"})) == "y.toml"
    assert str(locate(None, {})) == "config/zdtriage.toml"  # the not-found error names it
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "zdtriage.toml").write_text("")
    assert str(locate(None, {"ZDTRIAGE_ZENDESK__SUBDOMAIN": "a"})) == "config/zdtriage.toml"


# --- secrets from files --------------------------------------------------------------------------------

def secret(tmp_path, name, text, mode=0o600):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secrets_from_files_strip_one_newline_and_win_over_the_variables(tmp_path):
    zd = secret(tmp_path, "zd", "zd-from-file-1234\n")
    an = secret(tmp_path, "an", "sk-from-file-5678\r\n")
    raw = {"zendesk": {**MIN["zendesk"], "token_file": str(zd)}, "anthropic": {"api_key_file": str(an)}}
    cfg = parse(raw, ENV)  # ENV has both variables set: the files win
    assert cfg.zendesk.token == "zd-from-file-1234" and cfg.anthropic.api_key == "sk-from-file-5678"
    assert cfg.warnings == ()
    masked = cfg.masked()
    assert masked["zendesk"]["token"] == f"**** (set, from {zd})"
    assert "from-file" not in repr(cfg) + str(masked)


def test_secret_files_come_from_the_environment_too(tmp_path):
    # systemd: LoadCredential + ZDTRIAGE_ZENDESK__TOKEN_FILE=%d/zendesk_token
    zd = secret(tmp_path, "zendesk_token", "zd-cred-0000\n", 0o400)
    env = {"ANTHROPIC_API_KEY": "sk-ant-x-123456", "ZDTRIAGE_ZENDESK__TOKEN_FILE": str(zd)}
    assert parse(MIN, env).zendesk.token == "zd-cred-0000"


def test_secret_file_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    secret(tmp_path / "etc", "token", "zd-rel-1234\n")
    path = tmp_path / "etc" / "c.toml"
    path.write_text('[zendesk]\nsubdomain = "acme"\nemail = "a@b.c"\ntoken_file = "token"\n')
    monkeypatch.chdir(tmp_path)
    assert load(path, {"ANTHROPIC_API_KEY": "sk-1234567"}).zendesk.token == "zd-rel-1234"


def test_a_world_readable_secret_file_is_a_warning(tmp_path):
    zd = secret(tmp_path, "zd", "zd-open-1234", 0o644)
    cfg = parse({"zendesk": {**MIN["zendesk"], "token_file": str(zd)}}, ENV)
    assert cfg.zendesk.token == "zd-open-1234"
    assert len(cfg.warnings) == 1 and "readable by every user" in cfg.warnings[0] and "zd-open" not in cfg.warnings[0]


@pytest.mark.parametrize("text, words", [
    ("", "is empty"),
    ("\n", "is empty"),
    ("zd-token-1234\nsecond-line\n", "one line"),
    ("zd token 1234", "one line"),
])
def test_a_bad_secret_file_is_one_line_without_its_content(tmp_path, text, words):
    zd = secret(tmp_path, "zd", text)
    with pytest.raises(ConfigError) as err:
        parse({"zendesk": {**MIN["zendesk"], "token_file": str(zd)}}, ENV)
    assert err.value.key == "zendesk.token_file" and words in str(err.value)
    assert "1234" not in str(err.value) and "\n" not in str(err.value)


def test_a_missing_or_special_secret_file_is_refused_before_reading(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, words in [(tmp_path / "nope", "No such file"), (fifo, "FIFO"), ("/dev/zero", "device")]:
        with pytest.raises(ConfigError) as err:
            parse({"zendesk": {**MIN["zendesk"], "token_file": str(path)}}, ENV)
        assert err.value.key == "zendesk.token_file" and words in str(err.value)


def test_secret_files_are_not_read_when_secrets_are_not_needed(tmp_path):
    zd = secret(tmp_path, "zd", "zd-1234567")
    zd.chmod(0)  # `status` runs as another user, say: it must not fail on a secret it does not use
    if os.access(zd, os.R_OK):  # root reads anything; take the file away instead
        zd.unlink()
    cfg = parse({"zendesk": {**MIN["zendesk"], "token_file": str(zd)}}, {}, need_secrets=False)
    assert cfg.zendesk.token == "" and cfg.zendesk.token_file == str(zd)


def test_a_secret_variable_with_a_line_break_is_refused_without_its_value():
    with pytest.raises(ConfigError) as err:
        parse(MIN, {**ENV, "ZENDESK_API_TOKEN": "zd-secret-9999\n"})
    assert err.value.key == "zendesk.token_env" and "9999" not in str(err.value)


def test_world_readable_bit_is_what_the_warning_checks(tmp_path):
    zd = secret(tmp_path, "zd", "zd-group-1234", 0o640)
    assert not (zd.stat().st_mode & stat.S_IROTH)
    assert parse({"zendesk": {**MIN["zendesk"], "token_file": str(zd)}}, ENV).warnings == ()
