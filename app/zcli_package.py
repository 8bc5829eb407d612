"""Which files `zcli apps:package` puts into the app zip, and a zip built the same way.

How zcli packs (zendesk/zcli, packages/zcli-apps/src/lib/package.ts, createAppPkg):
    ignore = ['tmp/**'] + the lines of .zcliignore (CRLF -> LF; a line is dropped when it is empty
             or starts with '#' after trimming; the kept line itself is not trimmed)
    archiver.glob('**', {cwd: appPath, ignore})
archiver walks the tree with readdir-glob: every file and folder (folders as "name/") that the
pattern '**' matches -- minimatch without dot:true, so nothing whose path has a segment starting
with '.' -- and that no ignore pattern matches (minimatch with dot:true) goes into the zip. Ignore
patterns do not prune folders: "tests" or "tests/" only leaves out the folder entry, not the files
in it (zendesk/zcli issue 285), hence "tests/**" in .zcliignore.
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from functools import cache
from pathlib import Path


def _expand_braces(pattern: str) -> list[str]:
    m = re.search(r"\{([^{}]*,[^{}]*)\}", pattern)
    if not m:
        return [pattern]
    out = []
    for alt in m.group(1).split(","):
        out.extend(_expand_braces(pattern[: m.start()] + alt + pattern[m.end() :]))
    return out


@cache
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
    """minimatch(path, pattern, {dot}) for the pattern forms .zcliignore uses."""
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


def ignore_patterns(app_dir: Path) -> list[str]:
    """zcli's ignore list for app_dir: tmp/** plus the kept lines of .zcliignore."""
    patterns = ["tmp/**"]
    ignore_file = app_dir / ".zcliignore"
    if ignore_file.exists():
        text = ignore_file.read_text(encoding="utf-8").replace("\r\n", "\n")
        patterns += [
            line for line in text.split("\n") if line.strip() and not line.strip().startswith("#")
        ]
    return patterns


def package_entries(app_dir: Path) -> list[str]:
    """Zip entry names zcli would write for app_dir, in walk order (folders end in '/')."""
    ignore = ignore_patterns(app_dir)
    entries = []
    for dirpath, dirnames, filenames in os.walk(app_dir):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(app_dir).as_posix()
        for name in dirnames + sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            candidate = rel + "/" if name in dirnames else rel
            if not minimatch(candidate, "**", dot=False):
                continue
            if any(minimatch(candidate, pattern, dot=True) for pattern in ignore):
                continue
            entries.append(candidate)
    return entries


def build_zip(app_dir: Path, replace: dict[str, bytes] | None = None) -> bytes:
    """The app zip as bytes; replace maps an entry name to the bytes to store instead."""
    swaps = replace or {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in package_entries(app_dir):
            if entry.endswith("/"):
                zf.writestr(entry, b"")
            elif entry in swaps:
                zf.writestr(entry, swaps[entry])
            else:
                zf.write(app_dir / entry, entry)
    return buf.getvalue()
