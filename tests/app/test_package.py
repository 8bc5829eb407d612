"""Build the app zip the way `zcli apps:package` does and check it holds only the app.

How zcli packs (zendesk/zcli, packages/zcli-apps/src/lib/package.ts, createAppPkg):
    ignore = ['tmp/**'] + the lines of .zcliignore (CRLF -> LF; a line is dropped when it is empty
             or starts with '#' after trimming; the kept line itself is not trimmed)
    archiver.glob('**', {cwd: appPath, ignore})
archiver walks the tree with readdir-glob: every file and folder (folders as "name/") that the
pattern '**' matches -- minimatch without dot:true, so nothing whose path has a segment starting
with '.' -- and that no ignore pattern matches (minimatch with dot:true) goes into the zip. Ignore
patterns do not prune folders: "tests" or "tests/" only leaves out the folder entry, not the files
in it (zendesk/zcli issue 285), hence "tests/**" in .zcliignore. The zip lands in tmp/.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest

from .helpers import ROOT, read_png

# --- a small minimatch -------------------------------------------------------------------------


def _expand_braces(pattern: str) -> list[str]:
    m = re.search(r"\{([^{}]*,[^{}]*)\}", pattern)
    if not m:
        return [pattern]
    out = []
    for alt in m.group(1).split(","):
        out.extend(_expand_braces(pattern[: m.start()] + alt + pattern[m.end() :]))
    return out


@lru_cache(maxsize=None)
def _segment_regex(segment: str, dot: bool) -> re.Pattern:
    out = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = segment.find("]", i + 2)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = segment[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif ch == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    regex = "".join(out)
    if not dot and not segment.startswith("."):
        regex = r"(?!\.)" + regex  # wildcards don't match a leading dot
    return re.compile(regex + r"\Z")


def _match_parts(file: list[str], pat: list[str], dot: bool) -> bool:
    if not pat:
        # minimatch: a trailing empty segment ("dir/") still matches a pattern that ran out
        return not file or file == [""]
    head = pat[0]
    if head == "**":
        rest = pat[1:]
        for i in range(len(file) + 1):
            skipped = file[:i]
            if any(s in (".", "..") or (not dot and s.startswith(".")) for s in skipped):
                break
            if not rest:
                if i == len(file):
                    return True
                continue
            if _match_parts(file[i:], rest, dot):
                return True
        return False
    if not file:
        return False
    if head == "" and file[0] == "":
        return _match_parts(file[1:], pat[1:], dot)
    if not _segment_regex(head, dot).match(file[0]):
        return False
    return _match_parts(file[1:], pat[1:], dot)


def minimatch(path: str, pattern: str, dot: bool = False) -> bool:
    negate = False
    while pattern.startswith("!"):
        negate = not negate
        pattern = pattern[1:]
    if pattern.startswith("#"):
        return negate  # a comment matches nothing
    hit = any(
        _match_parts(path.split("/"), alt.split("/"), dot) for alt in _expand_braces(pattern)
    )
    return hit != negate


# --- zcli apps:package -------------------------------------------------------------------------


def zcli_ignore_patterns(app_dir: Path) -> list[str]:
    patterns = ["tmp/**"]
    ignore_file = app_dir / ".zcliignore"
    if ignore_file.exists():
        text = ignore_file.read_text(encoding="utf-8").replace("\r\n", "\n")
        patterns += [
            line for line in text.split("\n") if line.strip() and not line.strip().startswith("#")
        ]
    return patterns


def zcli_package_entries(app_dir: Path) -> list[str]:
    """Zip entry names zcli would write for app_dir (folders end in '/')."""
    ignore = zcli_ignore_patterns(app_dir)
    entries = []
    for dirpath, dirnames, filenames in os.walk(app_dir):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(app_dir).as_posix()
        for name in dirnames + sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            is_dir = name in dirnames
            candidate = rel + "/" if is_dir else rel
            if not minimatch(candidate, "**", dot=False):
                continue
            if any(minimatch(candidate, pattern, dot=True) for pattern in ignore):
                continue
            entries.append(candidate)
    return entries


def zcli_package(app_dir: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in zcli_package_entries(app_dir):
            if entry.endswith("/"):
                zf.writestr(entry, b"")
            else:
                zf.write(app_dir / entry, entry)
    return buf.getvalue()


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


def test_package_zip_is_a_working_app():
    data = zcli_package(ROOT)
    assert len(data) < 1_000_000
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["location"]["support"]["ticket_sidebar"]["url"] in names
        assert f"translations/{manifest['defaultLocale']}.json" in names
        json.loads(zf.read("requirements.json"))
        for logo, size in (("assets/logo.png", 128), ("assets/logo-small.png", 32)):
            png = read_png(zf.read(logo))
            assert (png["width"], png["height"]) == (size, size)
        for script in ("assets/main.js", "assets/triage.js", "assets/main.css"):
            assert script in names


def test_zcliignore_keeps_out_files_the_repo_may_grow(tmp_path):
    """Copy the app and .zcliignore into a scratch tree full of things that are not the app."""
    for name in ("manifest.json", "requirements.json", ".zcliignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    shutil.copytree(ROOT / "translations", tmp_path / "translations")
    junk = [
        "integration/cli.py", "integration/prompts/triage.txt", "integration/__pycache__/cli.pyc",
        "tests/app/test_sidebar.py", "tests/fixtures/cassette.yaml", "config/zdtriage.toml",
        "state/triage.db", "bench/results.json", "docs/design.md", "scripts/run.sh",
        "zendesk_batch_triage.egg-info/PKG-INFO", "dist/pkg.whl", "build/lib/x.py",
        "demo-work/out.json", "tmp/app-20250101.zip", "venv/bin/python", "node_modules/a/i.js",
        "Makefile", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "uv.lock",
        "requirements.txt", "zcli.apps.config.json", "setup.cfg", "pytest.ini",
        ".venv/bin/python", ".git/HEAD", ".ci/run", ".github/workflows/ci.yml", ".env",
        ".gitignore", ".pytest_cache/v/cache", "assets/__pycache__/x.pyc",
    ]
    for rel in junk:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not part of the app")
    entries = zcli_package_entries(tmp_path)
    files = {e for e in entries if not e.endswith("/")}
    assert files == _app_files(ROOT), sorted(files ^ _app_files(ROOT))
