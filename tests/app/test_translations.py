"""translations/<locale>.json: the app listing texts Zendesk reads ("app") and the sidebar's strings
("sidebar", compiled into assets/i18n.js). Rules from zendesk_apps_support
validations/translations.rb: file names are locales (/^[a-z]{2}(-\\w{2,3})?$/), each file a JSON
object, en.json needs app.name (public apps the listing texts too), each setting a label."""
from __future__ import annotations

import json
import re

import pytest

from .helpers import ROOT, load_app_module, load_json

LOCALES = ("en", "de", "fr", "es")
VALID_LOCALE = re.compile(r"^[a-z]{2}(-\w{2,3})?$")
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def flat(node: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, path + "."))
        else:
            out[path] = value
    return out


@pytest.fixture(scope="module")
def files() -> dict[str, dict]:
    return {p.stem: load_json(p) for p in sorted((ROOT / "translations").glob("*.json"))}


def test_the_four_languages_are_there(files):
    assert set(LOCALES) <= set(files)
    assert all(VALID_LOCALE.match(name) for name in files)


@pytest.mark.parametrize("locale", LOCALES)
def test_sidebar_strings_match_english(files, locale):
    english = flat(files["en"]["sidebar"])
    mine = flat(files[locale]["sidebar"])
    assert set(mine) == set(english), {
        "missing": sorted(set(english) - set(mine)),
        "extra": sorted(set(mine) - set(english)),
    }
    for key, text in mine.items():
        assert isinstance(text, str) and text.strip(), (locale, key)
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (locale, key)
    if locale != "en":
        same = [k for k in english if mine[k] == english[k] and len(english[k]) > 12 and k != "details.triage_id"]
        assert same == [], f"{locale} copies English: {same}"


@pytest.mark.parametrize("locale", LOCALES)
def test_app_texts_and_setting_labels(files, manifest, locale):
    app = files[locale]["app"]
    for key in ("name", "short_description", "long_description", "installation_instructions"):
        assert isinstance(app.get(key), str) and app[key].strip(), (locale, key)
    assert len(app["name"]) <= 40
    names = {p["name"] for p in manifest["parameters"]}
    assert set(app["parameters"]) == names
    for name, entry in app["parameters"].items():
        assert set(entry) <= {"label", "helpText"} and entry["label"].strip(), (locale, name)




def english_sections(english: dict[str, str]) -> set[str]:
    return {k.split(".")[0] for k in english}


def test_every_key_main_js_asks_for_exists(files):
    english = flat(files["en"]["sidebar"])
    source = (ROOT / "assets" / "main.js").read_text(encoding="utf-8")
    asked = {k for k in re.findall(r"\bt\('([a-z_.]+)'", source) if not k.endswith(".")}
    # keys passed around as literals, e.g. t(model.confidenceLow ? 'badge.confidence_low' : ...)
    asked |= {k for k in re.findall(r"'([a-z_]+\.[a-z_]+)'", source) if k.split(".")[0] in english_sections(english)}
    # keys built at run time: 'kind.' + kind, 'health.' + kind, 'ago.' + key
    asked |= {f"kind.{k}" for k in ("priority", "category", "sentiment", "language", "confidence")}
    asked |= {f"health.{k}" for k in ("checking", "never", "unreachable")}
    asked |= {f"ago.{k}" for k in ("just_now", "minutes_ago", "hours_ago", "days_ago")}
    assert asked, "found no t() calls in main.js"
    missing = sorted(k for k in asked if k not in english)
    assert missing == [], missing


def test_failed_state_gives_agents_no_command_line(files):
    """Agents run no commands: the failed state says why, when and what to do in plain words."""
    for locale in LOCALES:
        failed = files[locale]["sidebar"]["failed"]
        assert set(failed) == {"title", "why", "when", "what"}, locale
        assert "{{when}}" in failed["when"], locale
        text = " ".join(failed.values())
        assert not re.search(r"zdtriage|retry|--|`|\{\{command\}\}", text), (locale, text)
    sidebar = json.dumps({loc: files[loc]["sidebar"] for loc in LOCALES})
    assert "zdtriage retry" not in sidebar and "{{command}}" not in sidebar


def test_i18n_js_is_built_from_the_translations(files):
    i18n = load_app_module("build_i18n")
    text = (ROOT / "assets" / "i18n.js").read_text(encoding="utf-8")
    assert text == i18n.render(ROOT), "assets/i18n.js is out of date: run make garden"
    data = json.loads(text[text.index("=") + 1 : text.rindex(";")])
    assert data == {name: content["sidebar"] for name, content in files.items()}
