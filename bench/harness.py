"""What every benchmark scenario shares: a simulated clock shared across processes, both
simulators in a child process, a pipeline Context wired to them, and resource measurements.

The simulators run in their own process so that the memory and CPU they use are not counted
as the pipeline's (the Zendesk simulator alone peaks near 630 MB with 100,000 seeded tickets), and
so that the two cores work in parallel as they would in production (Zendesk and Anthropic are
other machines). The clock is one shared double: the pipeline's Context and both simulators read
it, and only the driver moves it, so rate-limit windows, export cut-offs, job completion and
batch processing all pass in simulated time, never in real sleeping.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

START = 1_790_000_000.0  # 2026-09-21T13:33:20Z, the e2e tests' start
ENV = {"ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
SPAWN = mp.get_context("spawn")  # a fresh interpreter: the child inherits none of our memory


class SharedClock:
    """A ManualClock whose time lives in shared memory, readable from every process."""

    def __init__(self, start: float = START) -> None:
        self._value = SPAWN.Value("d", start)

    def __call__(self) -> float:
        return self._value.value

    def advance(self, seconds: float) -> None:
        with self._value.get_lock():
            self._value.value += seconds

    def set(self, epoch: float) -> None:
        self._value.value = float(epoch)


# -- resource figures ---------------------------------------------------------------------


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def peak_rss_mb() -> float:
    """Peak resident set size of this process since it started (VmHWM), in MiB."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    """Resident set size of this process now (VmRSS), in MiB."""
    return _status_mb("VmRSS")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the simulator process ----------------------------------------------------------------


def _sim_main(conn: Connection, clock: SharedClock, zendesk_kwargs: dict[str, Any],
              anthropic_kwargs: dict[str, Any]) -> None:
    """Child process: serve both simulators and answer commands from the driver until "stop"."""
    from zdtriage import prompt
    from zdtriage.sim.anthropic import AnthropicSim
    from zdtriage.sim.zendesk import ZendeskSim

    zsim = ZendeskSim(email="triage-bot@example.com", token="sim-token", clock=clock, **zendesk_kwargs)
    asim = AnthropicSim(api_key="sim-key", clock=clock, **anthropic_kwargs)
    conn.send((zsim.start(), asim.start()))

    def outcome() -> dict[str, int]:
        # read from the simulator's own tickets: what Zendesk would show an agent
        out = {"tickets": 0, "one_note": 0, "more_notes": 0, "public_notes": 0, "marker": 0, "failed_tag": 0}
        for t in zsim.snapshot():
            out["tickets"] += 1
            ours = [c for c in t["comments"] if prompt.NOTE_FOOTER in (c["body"] or "")]
            out["one_note"] += len(ours) == 1
            out["more_notes"] += len(ours) > 1
            out["public_notes"] += sum(1 for c in ours if c["public"])
            out["marker"] += "ai_triaged" in t["tags"]
            out["failed_tag"] += "ai_failed" in t["tags"]
        return out

    def note_latencies() -> list[float]:
        # arrival → our note, as an agent would see it in Zendesk: the note's time minus the ticket's
        from zdtriage.timeutil import parse_time

        out = []
        for t in zsim.snapshot():
            ours = [c for c in t["comments"] if prompt.NOTE_FOOTER in (c["body"] or "")]
            if ours:
                out.append(parse_time(ours[0]["created_at"]) - parse_time(t["created_at"]))
        return sorted(out)

    commands = {
        "seed": lambda n, seed: len(zsim.seed(n, seed)),
        "note_latencies": note_latencies,
        "add_tickets": lambda specs: [zsim.add_ticket(**s)["id"] for s in specs],
        "add_replies": lambda replies: [zsim.add_customer_reply(i, body)["id"] for i, body in replies],
        "zendesk_calls": zsim.call_counts,
        "zendesk_stats": zsim.stats,
        "anthropic_calls": asim.call_counts,
        "anthropic_usage": asim.usage_totals,
        "outcome": outcome,
        "resources": lambda: {"peak_rss_mb": peak_rss_mb(), "cpu_seconds": cpu_seconds()},
    }
    try:
        while True:
            name, args = conn.recv()
            if name == "stop":
                break
            try:
                conn.send(("ok", commands[name](*args)))
            except Exception as exc:  # report, do not kill the simulators mid-run
                conn.send(("error", repr(exc)))
    finally:
        zsim.stop()
        asim.stop()
        conn.close()


class Sims:
    """Handle on the simulator process: ``call(name, *args)`` runs a command there."""

    def __init__(self, clock: SharedClock, *, zendesk: dict[str, Any] | None = None,
                 anthropic: dict[str, Any] | None = None) -> None:
        self._conn, child = SPAWN.Pipe()
        self._process = SPAWN.Process(target=_sim_main, args=(child, clock, zendesk or {}, anthropic or {}),
                                      name="bench-sims", daemon=True)
        self._process.start()
        self.zendesk_url, self.anthropic_url = self._receive()

    def _receive(self) -> Any:
        # a simulator process that died must fail the run, not hang it
        while not self._conn.poll(1.0):
            if not self._process.is_alive():
                raise RuntimeError(f"the simulator process exited (code {self._process.exitcode})")
        return self._conn.recv()

    def call(self, name: str, *args: Any) -> Any:
        """Run a command in the simulator process and return its answer."""
        self._conn.send((name, args))
        status, value = self._receive()
        if status != "ok":
            raise RuntimeError(f"simulator command {name} failed: {value}")
        return value

    def zendesk_api_calls(self) -> dict[str, int]:
        """Calls to the real Zendesk API routes (the simulator's own /_sim/ routes left out)."""
        return {k: v for k, v in self.call("zendesk_calls").items() if "/_sim/" not in k}

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop", ()))
            self._process.join(timeout=30)

    def __enter__(self) -> Sims:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the pipeline side --------------------------------------------------------------------


@dataclass
class Pipeline:
    """A pipeline Context against the simulators, and the directory holding its database."""

    ctx: Any
    workdir: Path


def make_pipeline(sims: Sims, clock: SharedClock, *, paced: bool = True, **sections: dict[str, Any]) -> Pipeline:
    """A Context as the daemon builds one (file database, zenpy paced on the account's shared limit, the
    anthropic SDK), on ``clock``; ``paced=False``: a plain zenpy client (the naive way of figure 1)."""
    from zdtriage import batches as anth
    from zdtriage import config as config_mod
    from zdtriage import pipeline, store
    from zdtriage import zendesk as zd

    workdir = Path(tempfile.mkdtemp(prefix="zdtriage-bench-"))
    raw: dict[str, dict[str, Any]] = {
        "zendesk": {"subdomain": "bench", "email": "triage-bot@example.com", "url": sims.zendesk_url},
        "anthropic": {"base_url": sims.anthropic_url},
        "state": {"path": str(workdir / "state.db")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    cfg = config_mod.parse(raw, ENV)
    ctx = pipeline.Context(config=cfg, db=store.open_db(cfg.state.path), zendesk=zd.make_client(cfg.zendesk),
                           anthropic=anth.make_client(cfg.anthropic), clock=clock)
    if paced:
        from zdtriage.stages import account

        ctx.zendesk = account.client(ctx)  # as `zdtriage run` builds it
    pipeline.settle_heap()  # as `zdtriage run` does once it is set up
    return Pipeline(ctx=ctx, workdir=workdir)


def run_due(ctx: Any, elapsed: float, cpu: dict[str, float] | None = None) -> None:
    """The daemon's schedule on a simulated clock: each stage whose interval divides ``elapsed``, in pipeline
    order (the daemon runs all four at start, then each on its interval). ``cpu`` adds up each stage's CPU."""
    from zdtriage.stages import ingest, poll, submit, writeback

    every = ctx.config.schedule
    for name, stage, interval in (("ingest", ingest.ingest, every.ingest_every),
                                  ("submit", submit.submit, every.submit_every),
                                  ("poll", poll.poll, every.poll_every),
                                  ("writeback", writeback.writeback, every.writeback_every)):
        if elapsed % int(interval) == 0:
            began = time.process_time()
            stage(ctx)
            if cpu is not None:
                cpu[name] = cpu.get(name, 0.0) + time.process_time() - began


def pending_work(ctx: Any) -> int:
    """Tickets the pipeline still has to move: not settled, or settled but not yet confirmed in Zendesk."""
    row = next(ctx.db.query(
        "select count(*) as n from tickets where state in ('queued', 'submitted', 'answered', 'failed') "
        "or write_started_at is not null or (state = 'dead' and failed_tag_at is null and zd_status in "
        "('new', 'open', 'pending', 'hold'))"))
    return int(row["n"])


def epoch_iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def cleanup(path: Path) -> None:
    """Remove a benchmark work directory (state database and its WAL files)."""
    shutil.rmtree(path, ignore_errors=True)
