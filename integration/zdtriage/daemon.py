"""The long-running service: APScheduler 3 runs the four stages on their schedules.

One worker thread runs every job, so SQLite writes never race; ``coalesce`` and
``max_instances=1`` mean a slow stage is never run twice at once nor caught up in a burst.
Signal handlers only set an event: the loop notices, lets the running stage finish, and stops.
A second signal stops at once (everything is crash-safe by design).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from . import pipeline
from .health import RESUME_HINT
from .stages import helpcenter, ingest, poll, submit, writeback
from .store import retention
from .store.db import unwritable

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger("zdtriage")
PRUNE_EVERY = 3600.0  # retention: hourly, in small transactions (store/retention.py)


class AlreadyRunning(Exception):
    """Another process holds the state database."""


@contextmanager
def single_instance(state_path: str) -> Iterator[None]:
    """Hold an exclusive lock beside the state database for as long as the block runs; a folder we may not
    write is a :class:`~zdtriage.store.StoreError` naming the path and the user."""
    lock_path = Path(f"{state_path}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:  # said as what it is, not as whatever OSError the caller expects
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise unwritable(state_path, exc) from None
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


# figures that describe where things stand rather than work done: a run with nothing else is idle
STATE_FIGURES = frozenset({"pages", "open", "not_ready", "caught_up", "seconds", "waiting", "stage"})
NOT_FIGURES = ("stage", "dead_tickets", "budget_hold")  # logged on lines of their own


def did_something(summary: dict[str, Any]) -> bool:
    """Whether a stage run did any work (a ticket, a comment, a batch, a write, a note): idle runs log at DEBUG."""

    def busy(key: str, value: Any) -> bool:
        if key in STATE_FIGURES:
            return False
        if isinstance(value, dict):
            return any(busy(k, v) for k, v in value.items())
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value > 0
        return bool(value)

    return any(busy(k, v) for k, v in summary.items())


def log_summary(summary: dict[str, Any]) -> None:
    """One line per stage run when it finishes, with a stable ``action`` (the stage) and its ``figures``:
    WARNING when it failed or alerts, DEBUG when it had nothing to do, INFO otherwise. Then a WARNING line
    per ticket given up on (``action`` dead) and for a budget hold (``action`` budget_hold)."""
    stage = str(summary.get("stage", "stage"))
    figures = {k: v for k, v in summary.items() if k not in NOT_FIGURES}
    held = str(summary.get("held") or "")
    waiting = str(summary.get("waiting") or "")
    if summary.get("error"):
        level, message = logging.WARNING, f"{stage} failed: {summary['error']}"
        if held:  # the account was refused: say what clears the hold once the admin fixed the cause
            message += f"; {held} ({RESUME_HINT})"
    elif stage == "submit" and waiting.startswith("submitting held"):
        # not idle: nothing is sent until the hold ends or `zdtriage resume` clears it
        level, message = logging.INFO, f"{stage}: {waiting} ({RESUME_HINT})"
    elif summary.get("alerts"):
        level, message = logging.WARNING, f"{stage}: {'; '.join(summary['alerts'])}"
    elif did_something(summary):
        level, message = logging.INFO, f"{stage} done"
    else:
        level, message = logging.DEBUG, f"{stage}: nothing to do"
    log.log(level, message, extra={"action": stage, "figures": figures})
    for dead in summary.get("dead_tickets", ()):
        log.warning("ticket given up", extra={"action": "dead", "stage": stage, "ticket_id": dead["ticket_id"],
                                               "reason": dead["reason"]})
    hold = summary.get("budget_hold")
    if hold:
        log.warning("budget hold: %s", hold["reason"], extra={
            "action": "budget_hold", "tickets": hold["tickets"], "ticket_ids": hold["ticket_ids"],
            "since": hold["since"]})


def reporter(metrics: Metrics | None = None) -> Callable[[dict[str, Any]], None]:
    """What follows every stage run: its log lines and, with metrics, its counts and the textfile."""

    def report(summary: dict[str, Any]) -> None:
        log_summary(summary)
        if metrics is not None:
            metrics.stage_finished(summary)
            try:
                metrics.write_textfile()
            except OSError as exc:  # a full disk or a missing folder must not stop the stages
                log.warning("metrics textfile %s: %s", metrics.config.metrics.textfile, exc.strerror or exc,
                            extra={"action": "metrics_textfile"})

    return report


def guarded(name: str, fn: Callable[[], dict[str, Any]], report: Callable[[dict[str, Any]], None] = log_summary,
            crashed: Callable[[str], None] | None = None) -> Callable[[], None]:
    """Wrap a stage so that no exception ever kills the scheduler."""

    def job() -> None:
        try:
            summary = fn()
        except Exception:  # a bug, not an API answer: keep the daemon alive and show where
            log.exception("%s failed unexpectedly", name, extra={"action": f"{name}_crash"})
            if crashed is not None:
                crashed(name)
            return
        report(summary)

    return job


def run_forever(ctx: pipeline.Context, stop: threading.Event | None = None, *, metrics: Metrics | None = None) -> None:
    """Run the stages on their schedules until SIGTERM/SIGINT (or ``stop`` is set).

    Each run leaves its heartbeat (``pipeline.run_stage``) and is logged when it ends. With ``metrics``, the
    stages are counted, ``metrics.textfile`` is written after each, and ``metrics.port`` (when set) serves
    ``/metrics`` and ``/healthz``.
    """
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
    report, crashed = reporter(metrics), (metrics.stage_crashed if metrics is not None else None)
    first = datetime.now(UTC)
    for index, (name, every, fn) in enumerate(stages):
        # every stage runs once at start, in pipeline order (staggered so the single worker keeps it)
        scheduler.add_job(guarded(name, functools.partial(pipeline.run_stage, ctx, name, fn), report, crashed),
                          "interval", seconds=every, id=name, name=name,
                          next_run_time=first + timedelta(milliseconds=200 * index))
    if ctx.config.triage.articles or ctx.config.triage.suggest_macros:
        # the Help Center on its own, slow schedule (issue 21), after the stages' first runs
        scheduler.add_job(guarded("helpcenter", functools.partial(pipeline.run_stage, ctx, "helpcenter",
                                                                   lambda: helpcenter.sync(ctx)), report, crashed),
                          "interval", seconds=sched.helpcenter_every, id="helpcenter", name="helpcenter",
                          next_run_time=first + timedelta(milliseconds=200 * len(stages) - 100))
    # retention runs after the stages, on the same single worker, so its deletes never race their writes
    scheduler.add_job(guarded("prune", lambda: prune(ctx), report, crashed), "interval", seconds=PRUNE_EVERY,
                      id="prune", name="prune", next_run_time=first + timedelta(milliseconds=200 * len(stages)))
    # `zdtriage resume` (another process) asks for a submit now: looked for every minute
    scheduler.add_job(guarded("resume", lambda: _resume_check(ctx, scheduler), report, crashed), "interval",
                      seconds=RESUME_CHECK_EVERY, id="resume", name="resume",
                      next_run_time=first + timedelta(seconds=RESUME_CHECK_EVERY))
    server = metrics.serve() if metrics is not None and ctx.config.metrics.port else None
    installed = _install_signals(stop)
    scheduler.start()
    log.info("started: ingest every %ss, submit every %ss, poll every %ss, writeback every %ss",
             sched.ingest_every, sched.submit_every, sched.poll_every, sched.writeback_every,
             extra={"action": "start"})
    if server is not None:
        log.info("metrics on %s/metrics, health on %s/healthz", server.url, server.url, extra={"action": "metrics"})
    try:
        while not stop.wait(0.5):
            pass
    finally:
        log.info("stopping: finishing the running stage", extra={"action": "stop"})
        scheduler.shutdown(wait=True)
        if server is not None:
            server.close()
        for sig, previous in installed:
            signal.signal(sig, previous)
        log.info("stopped", extra={"action": "stopped"})


RESUME_CHECK_EVERY = 60.0


def _resume_check(ctx: pipeline.Context, scheduler: BackgroundScheduler) -> dict[str, Any]:
    """Run submit at once when `zdtriage resume` asked for it since the last look."""
    from .stages.common import take_resume

    if not take_resume(ctx):
        return {"stage": "resume"}
    scheduler.modify_job("submit", next_run_time=datetime.now(UTC))
    log.info("resume asked for: submitting now", extra={"action": "resume"})
    return {"stage": "resume", "resumed": 1}


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

    installed: list[tuple[int, Any]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        installed.append((sig, signal.signal(sig, handler)))
    return installed
