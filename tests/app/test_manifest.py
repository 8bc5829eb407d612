"""The Zendesk app files: manifest.json, translations, logos and requirements.json.

The allowed keys come from Zendesk's documentation and its own app validator:
- manifest: developer.zendesk.com "Manifest reference" (list of manifest properties) and
  zendesk/zendesk_apps_support lib/zendesk_apps_support/manifest.rb (RUBY_TO_JSON),
  manifest/parameter.rb (parameter TYPES and attributes), manifest/location_options.rb;
- translations: zendesk_apps_support validations/translations.rb (app.name required; public apps
  also need short_description, long_description, installation_instructions; every
  app.parameters.<name> needs a label);
- requirements.json: developer.zendesk.com "Specifying app requirements" and
  zendesk_apps_support app_requirement.rb (resource types), validations/requirements.rb (every
  resource needs a title); views follow the Create View payload and ticket fields the Create
  Ticket Field payload of the Zendesk Support API.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest

from .helpers import ROOT, PNGError, load_json, pixels, read_png

MANIFEST_KEYS = {
    "name", "author", "version", "frameworkVersion", "location", "gaID", "defaultLocale",
    "parameters", "domainWhitelist", "private", "requirementsOnly", "singleInstall", "signedUrls",
    "termsConditionsURL", "experiments", "marketingOnly", "oauth",
}
LOCATION_OPTION_KEYS = {"url", "flexible", "autoLoad", "autoHide", "signed", "size"}
PARAMETER_KEYS = {"name", "type", "required", "secure", "default"}
PARAMETER_TYPES = {"text", "password", "checkbox", "url", "number", "multiline", "hidden", "oauth"}

REQUIREMENT_TYPES = {
    "automations", "channel_integrations", "custom_objects", "macros", "targets", "views",
    "ticket_fields", "triggers", "user_fields", "organization_fields", "webhooks",
}
VIEW_KEYS = {"title", "description", "active", "position", "restriction", "all", "any", "output"}
VIEW_OUTPUT_KEYS = {"columns", "group_by", "group_order", "sort_by", "sort_order"}
VIEW_COLUMNS = {
    "assigned", "assignee", "due_date", "group", "nice_id", "updated", "updated_assignee",
    "updated_requester", "updated_by_type", "organization", "priority", "created", "requester",
    "locale_id", "satisfaction_score", "solved", "status", "description", "submitter",
    "ticket_form", "type", "brand", "custom_status_id",
}
UNSORTABLE_COLUMNS = {"description", "submitter", "custom_status_id"}
# Create View: at least one "all" condition must check one of these fields.
VIEW_ANCHOR_FIELDS = {"status", "type", "group_id", "assignee_id", "requester_id"}
TICKET_FIELD_KEYS = {
    "type", "title", "description", "agent_description", "active", "required", "position",
    "visible_in_portal", "editable_in_portal", "required_in_portal", "title_in_portal",
    "collapsed_for_agents", "custom_field_options", "tag", "regexp_for_validation",
}
TICKET_FIELD_TYPES = {
    "text", "textarea", "checkbox", "date", "integer", "decimal", "regexp", "partialcreditcard",
    "multiselect", "tagger", "lookup",
}
OPTION_KEYS = {"name", "value", "default"}
TAG_RE = re.compile(r"^[a-z0-9_\-]+$")
SDK_URL = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"

# DESIGN.md section 5, with the default prefix and categories.
PREFIX = "ai_"
PRIORITY_TAGS = [f"{PREFIX}priority_p{n}" for n in range(1, 5)]
CATEGORY_TAGS = [
    f"{PREFIX}category_{c}" for c in ("billing", "technical", "account", "feature-request", "other")
]


# --- manifest.json ------------------------------------------------------------------------------


def test_manifest_uses_only_documented_keys(manifest):
    assert set(manifest) <= MANIFEST_KEYS, set(manifest) - MANIFEST_KEYS


def test_manifest_required_fields(manifest):
    assert isinstance(manifest["name"], str) and manifest["name"].strip()
    author = manifest["author"]
    assert set(author) == {"name", "email", "url"}
    assert author["name"].strip()
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", author["email"])
    url = urlparse(author["url"])
    assert url.scheme == "https" and url.netloc
    assert manifest["defaultLocale"] == "en"
    assert manifest["private"] is True
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", manifest["version"])
    assert manifest["frameworkVersion"] == "2.0"


def test_manifest_ticket_sidebar_location(manifest):
    assert set(manifest["location"]) == {"support"}
    support = manifest["location"]["support"]
    assert set(support) == {"ticket_sidebar"}
    options = support["ticket_sidebar"]
    assert set(options) <= LOCATION_OPTION_KEYS
    assert options["url"] == "assets/iframe.html"
    assert options["flexible"] is True


def test_manifest_parameters(manifest):
    params = manifest["parameters"]
    assert isinstance(params, list) and params
    names = [p["name"] for p in params]
    assert len(names) == len(set(names)), "duplicate parameter names"
    assert "name" not in names, "Zendesk rejects a parameter called 'name'"
    for p in params:
        assert set(p) <= PARAMETER_KEYS, (p["name"], set(p) - PARAMETER_KEYS)
        assert p.get("type", "text") in PARAMETER_TYPES
        for flag in ("required", "secure"):
            assert isinstance(p.get(flag, False), bool)
        assert not (p.get("type") == "hidden" and p.get("required")), "hidden cannot be required"
    by_name = {p["name"]: p for p in params}
    assert by_name["tag_prefix"]["type"] == "text"
    assert by_name["tag_prefix"]["default"] == PREFIX
    # Only notes by this user are trusted, so it has to be set; there is no sensible default.
    assert by_name["service_user"] == {"name": "service_user", "type": "text", "required": True}
    assert by_name["status_url"]["type"] == "url"
    assert by_name["status_url"].get("required", False) is False
    for p in params:
        assert not p.get("secure"), "the sidebar reads every setting in the browser: none is secret"


def test_domain_whitelist_is_a_list_of_hosts(manifest):
    """zendesk_apps_support validations/manifest.rb: an array of strings, no {{setting.}} there;
    make app adds the status URL's host to the packaged copy (tests/app/test_package.py)."""
    hosts = manifest.get("domainWhitelist", [])
    assert isinstance(hosts, list) and all(isinstance(h, str) and "/" not in h and "{{" not in h for h in hosts)


def test_zcli_apps_config_holds_every_setting(manifest, root):
    """`zcli apps:server` takes the settings from zcli.apps.config.json (zendesk/zcli docs/apps.md)."""
    config = load_json(root / "zcli.apps.config.json")
    assert set(config) <= {"plan", "app_id", "parameters"}
    names = {p["name"] for p in manifest["parameters"]}
    assert set(config["parameters"]) == names
    assert config["parameters"]["tag_prefix"] == PREFIX
    assert "@" in config["parameters"]["service_user"] or config["parameters"]["service_user"].isdigit()


def test_every_file_the_app_points_to_exists(manifest):
    """Location URLs, the translation of the default locale, the logos, and every local script and
    stylesheet the sidebar page loads."""
    for product in manifest["location"].values():
        for options in product.values():
            url = options["url"] if isinstance(options, dict) else options
            assert not urlparse(url).scheme, f"{url} should be a packaged asset"
            assert url.startswith("assets/")
            assert (ROOT / url).is_file(), url
    assert (ROOT / "translations" / f"{manifest['defaultLocale']}.json").is_file()
    for logo in ("assets/logo.png", "assets/logo-small.png"):
        assert (ROOT / logo).is_file(), logo

    page = ROOT / manifest["location"]["support"]["ticket_sidebar"]["url"]
    refs = _page_refs(page.read_text(encoding="utf-8"))
    local = [r for r in refs if not urlparse(r).scheme]
    assert {"main.js", "triage.js", "i18n.js", "main.css", "garden.css"} <= set(local)
    for ref in local:
        assert (page.parent / ref).is_file(), ref


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.refs.append(attrs["src"])
            self.scripts.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.refs.append(attrs["href"])


def _page_refs(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    return parser.refs


def test_sidebar_loads_the_zaf_sdk_the_standard_way(manifest):
    page = ROOT / manifest["location"]["support"]["ticket_sidebar"]["url"]
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    assert parser.scripts[0] == SDK_URL, "the ZAF SDK must load before the app's scripts"
    assert parser.scripts.index("triage.js") < parser.scripts.index("main.js")
    assert parser.scripts.index("i18n.js") < parser.scripts.index("main.js")
    main = (ROOT / "assets" / "main.js").read_text(encoding="utf-8")
    assert "ZAFClient.init()" in main


@pytest.mark.parametrize("name", ["main.js", "triage.js"])
def test_sidebar_scripts_never_write_markup(name):
    source = (ROOT / "assets" / name).read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{name} uses {sink}"


# --- logos -------------------------------------------------------------------------------------


# Zendesk "Create app brand assets": logo.png 320x320 and logo-small.png 128x128, PNG, square
# corners (Zendesk rounds them itself).
@pytest.mark.parametrize(("path", "size"), [("assets/logo.png", 320), ("assets/logo-small.png", 128)])
def test_logos_are_real_pngs_of_the_right_size(path, size):
    png = read_png((ROOT / path).read_bytes())
    assert (png["width"], png["height"]) == (size, size)
    assert png["depth"] == 8
    px = pixels(png)
    colours = set(px)
    assert len(colours) >= 4, "logo looks blank"
    opaque = [p for p in px if png["channels"] < 4 or p[3] == 255]
    assert len(opaque) > size * size // 2, "logo is mostly transparent"

    def at(x, y):
        return px[y * size + x]

    edge = at(size // 2, 0)
    assert png["channels"] < 4 or edge[3] == 255
    for x, y in ((0, 0), (size - 1, 0), (0, size - 1), (size - 1, size - 1)):
        assert at(x, y) == edge, f"corner ({x}, {y}) differs from the edge: rounded or transparent"


def test_png_reader_rejects_broken_files():
    good = (ROOT / "assets" / "logo-small.png").read_bytes()
    with pytest.raises(PNGError):
        read_png(b"GIF89a" + good[6:])
    corrupted = bytearray(good)
    corrupted[20] ^= 0xFF  # inside IHDR: its CRC no longer matches
    with pytest.raises(PNGError):
        read_png(bytes(corrupted))


def test_stylesheet_uses_garden_colours_only():
    """main.css takes every colour from Garden's palette variables, none hand-copied."""
    css = (ROOT / "assets" / "main.css").read_text(encoding="utf-8")
    assert not re.findall(r"#[0-9a-fA-F]{3,8}\b", css)
    assert not re.findall(r"\b(rgba?|hsla?)\(", css)
    used = set(re.findall(r"var\((--zd-[a-z0-9-]+)\)", css))
    assert used, "main.css does not use Garden's variables"
    garden = (ROOT / "assets" / "garden.css").read_text(encoding="utf-8")
    missing = sorted(v for v in used if v + ":" not in garden.replace(": ", ":"))
    assert missing == [], f"not defined by garden.css: {missing}"


# --- translations ------------------------------------------------------------------------------


def test_translations_have_the_required_keys(manifest, translations):
    app = translations["app"]
    for key in ("name", "short_description", "long_description", "installation_instructions"):
        assert isinstance(app.get(key), str) and app[key].strip(), key
    assert len(app["name"]) <= 40  # Marketplace listing limit
    params = app["parameters"]
    for p in manifest["parameters"]:
        entry = params[p["name"]]
        assert isinstance(entry, dict) and entry.get("label", "").strip(), p["name"]
        assert set(entry) <= {"label", "helpText"}
    assert set(params) <= {p["name"] for p in manifest["parameters"]}


# --- requirements.json -------------------------------------------------------------------------


def test_requirements_use_only_documented_resource_types(requirements):
    assert set(requirements) <= REQUIREMENT_TYPES, set(requirements) - REQUIREMENT_TYPES
    for kind, resources in requirements.items():
        assert isinstance(resources, dict) and resources, kind
        for key, resource in resources.items():
            assert re.fullmatch(r"[a-z][a-z0-9_]*", key), key
            assert resource.get("title"), f"{kind}.{key} needs a title"


def _conditions(view):
    return view.get("all", []) + view.get("any", [])


def test_views_use_only_documented_attributes(requirements):
    for key, view in requirements["views"].items():
        assert set(view) <= VIEW_KEYS, (key, set(view) - VIEW_KEYS)
        assert view["all"], key
        assert any(c["field"] in VIEW_ANCHOR_FIELDS for c in view["all"]), key
        for cond in _conditions(view):
            assert set(cond) == {"field", "operator", "value"}, (key, cond)
        output = view["output"]
        assert set(output) <= VIEW_OUTPUT_KEYS
        assert set(output["columns"]) <= VIEW_COLUMNS
        assert len(output["columns"]) <= 10
        for attr in ("sort_by", "group_by"):
            if attr in output:
                assert output[attr] in VIEW_COLUMNS - UNSORTABLE_COLUMNS
        for attr in ("sort_order", "group_order"):
            if attr in output:
                assert output[attr] in ("asc", "desc")


def _view(requirements, title):
    matches = [v for v in requirements["views"].values() if v["title"] == title]
    assert len(matches) == 1, title
    return matches[0]


def _tags_required(view):
    return {
        tag
        for c in view["all"]
        if c["field"] == "current_tags" and c["operator"] == "includes"
        for tag in c["value"].split()
    }


def _tags_excluded(view):
    return {
        tag
        for c in view["all"]
        if c["field"] == "current_tags" and c["operator"] == "not_includes"
        for tag in c["value"].split()
    }


def _status(view):
    return [(c["operator"], c["value"]) for c in view["all"] if c["field"] == "status"]


def test_views_select_our_tags(requirements):
    p1 = _view(requirements, "AI triage: P1 urgent")
    assert _tags_required(p1) == {"ai_priority_p1"}
    assert _status(p1) == [("less_than", "pending")]  # new and open tickets

    review = _view(requirements, "AI triage: needs review")
    assert _tags_required(review) == {"ai_confidence_low"}
    assert _tags_excluded(review) == {"ai_draft_used", "ai_draft_rejected"}
    assert _status(review) == [("less_than", "solved")]

    failed = _view(requirements, "AI triage: failed")
    assert _tags_required(failed) == {"ai_failed"}
    assert _tags_excluded(failed) == {"ai_triaged"}
    assert _status(failed) == [("less_than", "solved")]


def test_ticket_fields_are_dropdowns_of_our_tags(requirements):
    fields = requirements["ticket_fields"]
    seen_values: list[str] = []
    for key, field in fields.items():
        assert set(field) <= TICKET_FIELD_KEYS, (key, set(field) - TICKET_FIELD_KEYS)
        assert field["type"] in TICKET_FIELD_TYPES
        if field["type"] == "tagger":
            assert field["custom_field_options"], key
        for option in field.get("custom_field_options", []):
            assert set(option) <= OPTION_KEYS and {"name", "value"} <= set(option), option
            assert TAG_RE.fullmatch(option["value"]), option["value"]
            seen_values.append(option["value"])
    # Zendesk: a tag can't be reused across custom ticket fields.
    assert len(seen_values) == len(set(seen_values))

    by_title = {f["title"]: f for f in fields.values()}
    assert by_title["AI priority"]["type"] == "tagger"
    assert [o["value"] for o in by_title["AI priority"]["custom_field_options"]] == PRIORITY_TAGS
    assert by_title["AI category"]["type"] == "tagger"
    assert [o["value"] for o in by_title["AI category"]["custom_field_options"]] == CATEGORY_TAGS


def test_requirements_tags_use_the_default_prefix(manifest, requirements):
    """requirements.json cannot read settings, so its tags must use the manifest's default."""
    default = next(p["default"] for p in manifest["parameters"] if p["name"] == "tag_prefix")
    tags = set()
    for view in requirements["views"].values():
        tags |= _tags_required(view) | _tags_excluded(view)
    for field in requirements["ticket_fields"].values():
        tags |= {o["value"] for o in field.get("custom_field_options", [])}
    assert tags and all(t.startswith(default) for t in tags), tags
