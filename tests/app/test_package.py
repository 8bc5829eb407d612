"""The app zip: `make app` packs what `zcli apps:package` would, and only the app.

app/zcli_package.py reproduces zcli's packing rule (zendesk/zcli packages/zcli-apps/src/lib/
package.ts: archiver.glob('**') without dot files, minus 'tmp/**' and the .zcliignore lines as
minimatch patterns with dot:true; a bare folder name does not exclude its files, zendesk/zcli#285).
These tests check that emulation against minimatch's documented behaviour, then the real package.
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .helpers import ROOT, load_app_module, read_png

zp = load_app_module("zcli_package")
make_app = load_app_module("make_app")
minimatch = zp.minimatch
zcli_ignore_patterns = zp.ignore_patterns
zcli_package_entries = zp.package_entries


def _app_files(app_dir: Path) -> set[str]:
    files = {"manifest.json", "requirements.json"}
    for folder in ("assets", "translations"):
        for path in (app_dir / folder).rglob("*"):
            rel = path.relative_to(app_dir).as_posix()
            if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
                files.add(rel)
    return files


# --- the emulation itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "pattern", "dot", "expected"),
    [
        ("assets/logo.png", "**", False, True),
        ("assets/", "**", False, True),
        (".venv/bin/python", "**", False, False),
        (".zcliignore", "**", False, False),
        ("a/.hidden/x", "**", False, False),
        ("tests/app/test_x.py", "tests/**", True, True),
        ("tests/", "tests/**", True, True),
        ("tests/app/test_x.py", "tests", True, False),
        ("tests/", "tests", True, True),
        ("tests/app/test_x.py", "tests/", True, False),
        ("Makefile", "Makefile", True, True),
        ("x/Makefile", "Makefile", True, False),
        ("README.md", "*.md", True, True),
        ("assets/README.md", "*.md", True, False),
        ("a/b/__pycache__/m.pyc", "**/__pycache__/**", True, True),
        ("zendesk_batch_triage.egg-info/PKG-INFO", "*.egg-info/**", True, True),
        (".env", ".env", True, True),
        ("a.json", "{a,b}.json", True, True),
        ("c.json", "!{a,b}.json", True, True),
    ],
)
def test_minimatch_emulation(path, pattern, dot, expected):
    assert minimatch(path, pattern, dot=dot) is expected


def test_bare_folder_names_do_not_exclude_contents(tmp_path):
    """The zcli behaviour reported in zendesk/zcli issue 285, reproduced by the emulation."""
    (tmp_path / "node_modules" / "pkg").mkdir(parents=True)
    (tmp_path / "node_modules" / "pkg" / "index.js").write_text("x")
    (tmp_path / "manifest.json").write_text("{}")
    for line, packed in [
        ("node_modules", True),
        ("node_modules/", True),
        ("node_modules/*", True),
        ("node_modules/**", False),
    ]:
        (tmp_path / ".zcliignore").write_text(line + "\n")
        entries = zcli_package_entries(tmp_path)
        assert ("node_modules/pkg/index.js" in entries) is packed, line


# --- the real package --------------------------------------------------------------------------


def test_zcliignore_lines_are_plain_globs():
    for pattern in zcli_ignore_patterns(ROOT):
        assert pattern == pattern.strip(), f"zcli keeps surrounding spaces: {pattern!r}"
        assert not pattern.startswith("!"), "zcli would read a '!' line as 'ignore all else'"


def test_package_contains_exactly_the_app():
    entries = zcli_package_entries(ROOT)
    files = {e for e in entries if not e.endswith("/")}
    folders = {e for e in entries if e.endswith("/")}
    assert files == _app_files(ROOT), {
        "unexpected": sorted(files - _app_files(ROOT)),
        "missing": sorted(_app_files(ROOT) - files),
    }
    assert folders == {"assets/", "translations/"}
    for prefix in ("integration/", "tests/", "config/", "state/", "bench/", ".venv/", ".ci/"):
        assert not any(e.startswith(prefix) for e in entries), prefix
    for name in ("Makefile", "pyproject.toml", "README.md", ".zcliignore", ".gitignore"):
        assert name not in entries


def run_make_app(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "app", f"PYTHON={sys.executable}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_make_app_builds_a_working_zip(tmp_path):
    out = tmp_path / "app.zip"
    done = run_make_app(f"APP_ZIP={out}")
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert len(data) < 1_000_000
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == zcli_package_entries(ROOT), "make app must pack exactly what zcli would"
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest == json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
        assert "domainWhitelist" not in manifest, "no status host given, none whitelisted"
        assert manifest["location"]["support"]["ticket_sidebar"]["url"] in names
        for locale in ("en", "de", "fr", "es"):
            assert f"translations/{locale}.json" in names
        json.loads(zf.read("requirements.json"))
        for logo, size in (("assets/logo.png", 320), ("assets/logo-small.png", 128)):
            png = read_png(zf.read(logo))
            assert (png["width"], png["height"]) == (size, size)
        for asset in ("main.js", "triage.js", "i18n.js", "main.css", "garden.css", "iframe.html"):
            assert zf.read(f"assets/{asset}") == (ROOT / "assets" / asset).read_bytes(), asset
        shots = [n for n in names if n.startswith("assets/screenshot-")]
        assert 1 <= len(shots) <= 3, "Zendesk takes at most 3 screenshots (validations/screenshots.rb)"


def test_make_app_whitelists_the_status_host(tmp_path):
    out = tmp_path / "app.zip"
    done = run_make_app(f"APP_ZIP={out}", "STATUS_URL=https://triage.example.com:8443/healthz")
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["domainWhitelist"] == ["triage.example.com"]
    repo = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    assert "domainWhitelist" not in repo, "the repository's manifest is left alone"
    assert {k: v for k, v in manifest.items() if k != "domainWhitelist"} == repo


@pytest.mark.parametrize("url", ["ftp://triage.example.com/healthz", "triage.example.com/healthz", "https://"])
def test_make_app_refuses_a_bad_status_url_in_one_line(tmp_path, url):
    out = tmp_path / "app.zip"
    done = run_make_app(f"APP_ZIP={out}", f"STATUS_URL={url}")
    assert done.returncode != 0
    own = [line for line in done.stderr.splitlines() if line.startswith("make app:")]
    assert own == [f"make app: --status-url must be an absolute http(s) URL, got {url!r}"]
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_i18n_check_notices_stale_translations(tmp_path):
    """app/build_i18n.py --check, the first step of make app, fails once a translation changes."""
    i18n = load_app_module("build_i18n")
    assert i18n.is_current(ROOT), "assets/i18n.js is out of date: run make garden"
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "translations", root / "translations")
    (root / "assets").mkdir()
    shutil.copy(ROOT / "assets" / "i18n.js", root / "assets" / "i18n.js")
    assert i18n.is_current(root)
    de = json.loads((root / "translations" / "de.json").read_text(encoding="utf-8"))
    de["sidebar"]["draft"]["insert"] = "Einfügen"
    (root / "translations" / "de.json").write_text(json.dumps(de), encoding="utf-8")
    assert not i18n.is_current(root)


def test_zcliignore_keeps_out_files_the_repo_may_grow(tmp_path):
    """Copy the app and .zcliignore into a scratch tree full of things that are not the app."""
    for name in ("manifest.json", "requirements.json", ".zcliignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    shutil.copytree(ROOT / "translations", tmp_path / "translations")
    junk = [
        "integration/zdtriage/cli.py", "integration/zdtriage/prompts/triage.txt",
        "integration/zdtriage/__pycache__/cli.pyc",
        "tests/app/test_sidebar.py", "tests/fixtures/cassette.yaml", "config/zdtriage.toml",
        "state/triage.db", "bench/results.json", "docs/design.md", "scripts/run.sh",
        "zendesk_batch_triage.egg-info/PKG-INFO", "dist/pkg.whl", "build/lib/x.py",
        "demo-work/out.json", "tmp/app-20250101.zip", "venv/bin/python", "node_modules/a/i.js",
        "Makefile", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "uv.lock",
        "requirements.txt", "zcli.apps.config.json", "setup.cfg", "pytest.ini",
        ".venv/bin/python", ".git/HEAD", ".ci/run", ".github/workflows/ci.yml", ".env",
        ".gitignore", ".pytest_cache/v/cache", "assets/__pycache__/x.pyc",
        "app/package.json", "app/package-lock.json", "app/build-garden.mjs", "app/make_app.py",
        "app/node_modules/@zendeskgarden/css-tags/dist/index.css", "app/screenshot_frame.html",
    ]
    for rel in junk:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not part of the app")
    entries = zcli_package_entries(tmp_path)
    files = {e for e in entries if not e.endswith("/")}
    assert files == _app_files(ROOT), sorted(files ^ _app_files(ROOT))
