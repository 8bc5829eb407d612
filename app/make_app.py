"""Build the upload zip of the Zendesk app without zcli or a Zendesk login (`make app`).

    python3 app/make_app.py [--status-url URL] [--out PATH]

Packs the files `zcli apps:package` would (app/zcli_package.py, following .zcliignore) into
tmp/zendesk-batch-triage-app.zip. A manifest's domainWhitelist is a list of plain host names and
cannot refer to a setting (zendesk_apps_support validations/manifest.rb only accepts an array of
strings there, and only location URLs may hold "{{setting.…}}"), so the host of the status URL the
sidebar will call is written into the packaged manifest here; the repository's manifest.json stays
as it is.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zcli_package

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tmp" / "zendesk-batch-triage-app.zip"


class BuildError(Exception):
    pass


def status_host(url: str) -> str:
    """The host name of a status URL; BuildError unless it is an absolute http(s) URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BuildError(f"--status-url must be an absolute http(s) URL, got {url!r}")
    return parts.hostname


def packaged_manifest(root: Path, status_url: str | None) -> bytes:
    """manifest.json as it goes into the zip: with the status URL's host in domainWhitelist."""
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"manifest.json: {exc}") from exc
    if status_url:
        hosts = list(manifest.get("domainWhitelist") or [])
        host = status_host(status_url)
        if host not in hosts:
            hosts.append(host)
        manifest["domainWhitelist"] = hosts
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def build(root: Path, out: Path, status_url: str | None = None) -> list[str]:
    """Write the zip to out and return its entry names."""
    manifest = packaged_manifest(root, status_url)
    entries = zcli_package.package_entries(root)
    if "manifest.json" not in entries:
        raise BuildError(".zcliignore leaves manifest.json out of the package")
    data = zcli_package.build_zip(root, replace={"manifest.json": manifest})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return entries


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the Zendesk app zip.")
    parser.add_argument("--status-url", default="", help="status URL whose host goes into domainWhitelist")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the zip")
    args = parser.parse_args(argv)
    try:
        entries = build(ROOT, args.out, args.status_url or None)
    except BuildError as exc:
        print(f"make app: {exc}", file=sys.stderr)
        return 2
    files = [e for e in entries if not e.endswith("/")]
    print(f"wrote {args.out} ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
