"""The long-running service: APScheduler 3 runs the four stages on their schedules.

One worker thread runs every job, so SQLite writes never race; ``coalesce`` and
``max_instances=1`` mean a slow stage is never run twice at once nor caught up in a burst.
Signal handlers only set an event: the loop notices, lets the running stage finish, and stops.
A second signal stops at once (everything is crash-safe by design).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from . import pipeline
from .stages import ingest, poll, submit, writeback
from .store import retention

log = logging.getLogger("zdtriage")
PRUNE_EVERY = 3600.0  # retention: hourly, in small transactions (store/retention.py)


class AlreadyRunning(Exception):
    """Another process holds the state database."""


@contextmanager
def single_instance(state_path: str) -> Iterator[None]:
    """Hold an exclusive lock beside the state database for as long as the block runs."""
    lock_path = Path(f"{state_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(f"another zdtriage process is using {state_path} (lock {lock_path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def log_summary(summary: dict[str, Any]) -> None:
    """One log line per stage run, with a stable ``action`` key for structured logging."""
    stage = summary.get("stage", "stage")
    level = logging.WARNING if "error" in summary or "alerts" in summary else logging.INFO
    text = " ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}"
                    for k, v in summary.items() if k != "stage" and v not in (0, {}, None))
    log.log(level, "%s %s", stage, text or "nothing to do", extra={"action": stage})


def guarded(name: str, fn: Callable[[], dict[str, Any]]) -> Callable[[], None]:
    """Wrap a stage so that no exception ever kills the scheduler."""

    def job() -> None:
        try:
            log_summary(fn())
        except Exception:  # a bug, not an API answer: keep the daemon alive and show where
            log.exception("%s failed unexpectedly", name, extra={"action": f"{name}_crash"})

    return job


def run_forever(ctx: pipeline.Context, stop: threading.Event | None = None) -> None:
    """Run the stages on their schedules until SIGTERM/SIGINT (or ``stop`` is set)."""
    stop = stop or threading.Event()
    sched = ctx.config.schedule
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone="UTC",
    )
    stages = [
        ("ingest", sched.ingest_every, lambda: ingest.ingest(ctx)),
        ("submit", sched.submit_every, lambda: submit.submit(ctx)),
        ("poll", sched.poll_every, lambda: poll.poll(ctx)),
        ("writeback", sched.writeback_every, lambda: writeback.writeback(ctx)),
    ]
    first = datetime.now(timezone.utc)
    for index, (name, every, fn) in enumerate(stages):
        # every stage runs once at start, in pipeline order (staggered so the single worker keeps it)
        scheduler.add_job(guarded(name, fn), "interval", seconds=every, id=name, name=name,
                          next_run_time=first + timedelta(milliseconds=200 * index))
    # retention runs after the stages, on the same single worker, so its deletes never race their writes
    scheduler.add_job(guarded("prune", lambda: prune(ctx)), "interval", seconds=PRUNE_EVERY, id="prune", name="prune",
                      next_run_time=first + timedelta(milliseconds=200 * len(stages)))
    installed = _install_signals(stop)
    scheduler.start()
    log.info("started: ingest every %ss, submit every %ss, poll every %ss, writeback every %ss",
             sched.ingest_every, sched.submit_every, sched.poll_every, sched.writeback_every,
             extra={"action": "start"})
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping: finishing the running stage", extra={"action": "stop"})
        scheduler.shutdown(wait=True)
        for sig, previous in installed:
            signal.signal(sig, previous)
        log.info("stopped", extra={"action": "stopped"})


def prune(ctx: pipeline.Context) -> dict[str, Any]:
    """One retention run: done tickets older than ``state.keep_days`` (default 90; 0 keeps everything)."""
    # state.keep_days comes with the config helper's branch; until then every daemon keeps 90 days
    keep_days = ctx.config.state.keep_days
    return retention.prune(ctx.db, ctx.now(), keep_days=keep_days, statuses=ctx.config.triage.statuses)


def _install_signals(stop: threading.Event) -> list[tuple[int, Any]]:
    if threading.current_thread() is not threading.main_thread():
        return []

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            os._exit(1)  # second signal: stop now; the state is crash-safe
        stop.set()

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        installed.append((sig, signal.signal(sig, handler)))
    return installed
