"""The README stays the user's reference: every command and every configuration key is documented in it, and
every page of docs/ it points to exists and points back (issue 19 item 7)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click

from zdtriage import cli, config_model

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# derived from other keys or from the environment, never written in a file
NOT_KEYS = {"zendesk.token", "anthropic.api_key", "triage.knowledge"}


def _commands(group: click.Group, prefix: str = "zdtriage") -> list[str]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the lazily imported commands too (cli_common.LAZY)
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
        else:
            out.append(f"{prefix} {name}")
    return out


def _keys() -> list[str]:
    sections = {f.name: f.type for f in dataclasses.fields(config_model.Config)}
    keys = []
    for section in sections:
        cls = getattr(config_model, f"{section.capitalize()}Config", None)
        if cls is None:
            continue
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls) if f"{section}.{f.name}" not in NOT_KEYS]
    return keys


def test_every_command_is_in_the_readme_commands_table():
    commands = _commands(cli.cli)
    assert "zdtriage config check" in commands and "zdtriage doctor" in commands
    table = README.split("### Commands", 1)[1].split("\n## ", 1)[0]
    missing = [c for c in commands if not re.search(rf"`{re.escape(c)}\b", table)]
    assert not missing, f"commands missing from the README's table: {missing}"


def test_every_configuration_key_is_in_the_readme_configuration():
    keys = _keys()
    assert "zendesk.account_share" in keys and "triage.articles" in keys and len(keys) > 50
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = [k for k in keys if f"`{k}`" not in section and f"`{k.split('.', 1)[1]}`" not in section]
    assert not missing, f"config keys missing from the README's Configuration: {missing}"


def test_every_docs_page_is_linked_from_the_readme_and_links_back():
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert len(pages) >= 8
    for page in pages:
        assert f"](docs/{page.name})" in README, page.name
        assert "](../README.md)" in page.read_text(encoding="utf-8"), page.name


def test_relative_links_in_readme_and_docs_resolve():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if re.match(r"^(https?:|mailto:|#)", target):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            assert path.exists(), f"{doc.name} links {target}, which does not exist"
