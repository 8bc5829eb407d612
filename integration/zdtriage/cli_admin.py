"""``zdtriage backup``: a consistent copy of the state database, taken while the service runs.
Registered on the group in ``cli``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from .cli_common import UsageProblem, load_config

if TYPE_CHECKING:  # pathlib and sqlite3: imported where used, every command's start-up pays for this module's imports
    from pathlib import Path


def backup_state(source: Path, target: Path) -> int:
    """Copy ``source`` to ``target`` through SQLite's online backup API; returns the tickets in the copy.

    One backup step reads a single snapshot (a WAL reader never blocks the service's writes, nor sees half
    of one), into a temporary file beside the target that replaces it only once complete, with mode 0600
    (it holds ticket text) and no ``-wal`` of its own: the copy is one file, ready to restore.
    """
    import sqlite3

    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)  # pages=-1: the whole database in one step, from one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")
        problem = dst.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise sqlite3.DatabaseError(f"the copy does not check out: {problem}")
        tickets = dst.execute("select count(*) from tickets").fetchone()[0]
    except BaseException:
        dst.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    dst.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return int(tickets)


@click.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file at PATH.")
@click.pass_context
def backup(ctx: click.Context, target: str, force: bool) -> None:
    """Write a consistent copy of the state database to PATH, safely while the service runs.

    Restore: stop the service, put the copy at state.path (no -wal/-shm beside it), start it.
    """
    import sqlite3
    from pathlib import Path

    cfg = load_config(ctx, need_secrets=False)
    source, path = Path(cfg.state.path), Path(target)
    if not source.exists():
        raise click.ClickException(f"no state database at {source} (check state.path)")
    if path.absolute() == source.absolute():
        raise UsageProblem(f"{path} is the state database itself: back it up to another file")
    if path.exists() and not force:
        raise UsageProblem(f"{path} exists; pass --force to overwrite it")
    try:
        tickets = backup_state(source, path)
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot back up {source}: {exc}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from None
    click.echo(f"backed up {source} to {path} ({path.stat().st_size:,} bytes, {tickets} tickets)")
