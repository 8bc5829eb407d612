"""Kill test: ``zdtriage run`` as a subprocess against both simulators with faults on, killed with
SIGKILL at random moments and restarted, then checked from the Zendesk simulator's own state.

Short version: ``pytest tests/chaos`` (part of ``make test``). Long version:
``make chaos`` (``python tests/chaos/killharness.py --kills 40 --tickets 400 --rounds 5``).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from zdtriage import config as config_mod  # noqa: E402
from zdtriage.demo import check_outcome, eligible_ids  # noqa: E402
from zdtriage.sim.anthropic import AnthropicSim  # noqa: E402
from zdtriage.sim.zendesk import ZendeskSim  # noqa: E402

CONFIG = """
[zendesk]
subdomain = "chaos"
email = "triage-bot@example.com"
url = "{zurl}"
start = "{start}"
verify_after = "3s"
updates_per_minute = 1000

[anthropic]
base_url = "{aurl}"
retry_backoff = "1s"
verify_after = "3s"
max_attempts = 6

[schedule]
ingest_every = "1s"
submit_every = "1s"
poll_every = "1s"
writeback_every = "1s"
max_wait = "2s"  # the daemon's 10 min, compressed like the rest: a ticket asked again joins the next batch

[state]
path = "{state}"
"""


def start_sims(tickets: int, seed: int) -> tuple[ZendeskSim, AnthropicSim]:
    zsim = ZendeskSim(email="triage-bot@example.com", token="sim-token", export_exclude_recent_seconds=0,
                      rate_window_seconds=2, job_complete_after_seconds=0.3)
    asim = AnthropicSim(api_key="sim-key", processing_seconds=1.0, seed=seed, retry_after_seconds=1)
    zsim.start()
    asim.start()
    zsim.seed(tickets, seed)
    # faults on, as in production on a bad day
    zsim.set_faults(rate_429=0.03, rate_500=0.03, rate_503=0.03)
    asim.set_faults(create_529=0.15, errored_overloaded=0.03, expired=0.03)
    return zsim, asim


def settled(zsim: ZendeskSim, before: list[dict[str, Any]], triage: config_mod.TriageConfig) -> bool:
    outcome = check_outcome(before, zsim.snapshot(), triage)
    return outcome["written"] + outcome["failed"] == outcome["eligible"]


def run(kills: int, tickets: int, seed: int, timeout: float = 240.0, log: Any = sys.stderr) -> dict[str, Any]:
    """One kill-test round; returns the outcome (``problems`` empty and ``ok`` true on success)."""
    rng = random.Random(seed)
    zsim, asim = start_sims(tickets, seed)
    work = Path(tempfile.mkdtemp(prefix="zdtriage-chaos-"))
    try:
        before = zsim.snapshot()
        oldest = min(t["created_at"] for t in before)
        cfg_path = work / "zdtriage.toml"
        cfg_path.write_text(CONFIG.format(zurl=zsim.base_url, aurl=asim.base_url, start=oldest,
                                          state=work / "state.db"))
        env = {**os.environ, "ZENDESK_API_TOKEN": "sim-token", "ANTHROPIC_API_KEY": "sim-key"}
        cmd = [sys.executable, "-m", "zdtriage", "--config", str(cfg_path), "run"]
        triage = config_mod.TriageConfig()
        started = time.monotonic()
        logfile = open(work / "daemon.log", "ab")  # noqa: SIM115 - shared by every daemon process of the run
        done_kills = 0
        while done_kills < kills:
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=logfile, stderr=logfile)
            time.sleep(rng.uniform(0.2, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            done_kills += 1
        print(f"  {done_kills} kills done; letting it finish", file=log)
        zsim.set_faults(rate_429=0.0, rate_500=0.0, rate_503=0.0)  # faults off: the run must now converge
        asim.set_faults(create_529=0.0, errored_overloaded=0.0, expired=0.0)
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=logfile, stderr=logfile)
        try:
            while time.monotonic() - started < timeout and not settled(zsim, before, triage):
                time.sleep(0.5)
            time.sleep(2)  # anything still in flight would show as a second note now
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            logfile.close()
        outcome = check_outcome(before, zsim.snapshot(), triage)
        outcome["kills"] = done_kills
        outcome["eligible_ids"] = len(eligible_ids(before, triage))
        outcome["seconds"] = round(time.monotonic() - started, 1)
        outcome["clean_exit"] = proc.returncode == 0
        outcome["ok"] = (not outcome["problems"] and outcome["clean_exit"]
                         and outcome["written"] + outcome["failed"] == outcome["eligible"])
        outcome["workdir"] = str(work)
        return outcome
    finally:
        zsim.stop()
        asim.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    failures = 0
    for round_ in range(args.rounds):
        out = run(args.kills, args.tickets, args.seed + round_)
        status = "OK" if out["ok"] else "FAILED"
        print(
            f"round {round_ + 1}: {status}  kills {out['kills']}  eligible {out['eligible']}  written {out['written']}"
            f"  failed {out['failed']}  {out['seconds']} s  problems {out['problems'][:3]}"
        )
        failures += not out["ok"]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
