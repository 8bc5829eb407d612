"""assets/garden.css is Zendesk Garden's CSS from npm, copied unchanged by app/build-garden.mjs.

The header names each package, version and the sha256 of the copied dist/index.css; these tests
hold the header to app/package.json and app/package-lock.json and each section to its hash, so a
hand edit or a version bump without a rebuild (make garden) fails here."""
from __future__ import annotations

import hashlib
import re

from .helpers import ROOT, load_json

CSS = (ROOT / "assets" / "garden.css").read_text(encoding="utf-8")
HEADER_LINE = re.compile(r"^ \*   (@zendeskgarden/css-[a-z]+)@(\S+) dist/index\.css sha256=([0-9a-f]{64})$", re.M)


def header_entries() -> list[tuple[str, str, str]]:
    head = CSS[: CSS.index("*/") + 2]
    return HEADER_LINE.findall(head)


def test_header_matches_the_lockfile():
    entries = header_entries()
    assert [name for name, _, _ in entries] == [
        "@zendeskgarden/css-variables", "@zendeskgarden/css-bedrock", "@zendeskgarden/css-buttons",
        "@zendeskgarden/css-tags", "@zendeskgarden/css-callouts",
    ]
    package = load_json(ROOT / "app" / "package.json")["devDependencies"]
    lock = load_json(ROOT / "app" / "package-lock.json")["packages"]
    for name, version, _ in entries:
        assert package[name] == version, f"{name}: pin an exact version in app/package.json"
        assert lock[f"node_modules/{name}"]["version"] == version
        assert lock[f"node_modules/{name}"]["license"] == "Apache-2.0"
        assert lock[f"node_modules/{name}"]["integrity"].startswith("sha512-")
    assert set(package) == {name for name, _, _ in entries}


def test_each_section_is_the_copied_file_unchanged():
    for name, version, sha in header_entries():
        start = f"/* >>> {name}@{version} */\n"
        end = f"/* <<< {name} */\n"
        assert CSS.count(start) == 1 and CSS.count(end) == 1, name
        body = CSS[CSS.index(start) + len(start) : CSS.index(end)]
        assert hashlib.sha256(body.encode("utf-8")).hexdigest() == sha, f"{name} was edited by hand"
        assert "Copyright Zendesk" in body, f"{name}: the licence header must stay"


def test_the_classes_the_sidebar_uses_are_there():
    main = (ROOT / "assets" / "main.js").read_text(encoding="utf-8")
    used = set(re.findall(r"c-(?:btn|tag|callout)(?:--[a-z]+|__[a-z]+)?", main))
    used |= {"c-tag--red", "c-tag--yellow", "c-tag--blue", "c-tag--grey", "c-tag--dark", "c-btn--dark",
             "c-callout--error", "c-callout--warning"}
    missing = sorted(c for c in used if f".{c}" not in CSS)
    assert missing == [], missing
