"""Start-up CPU of the commands that need no pipeline, against ``python -c pass`` (issue 22).

Run as ``python -m bench.startup`` from the repository root; prints one JSON object. Each command runs in a
fresh interpreter (``python -m zdtriage …`` against a fresh empty state database, placeholder secrets, nothing
called); its own user + system CPU comes from ``os.wait4``, the least of ``--repeat`` runs is kept (other work on
the machine only adds). ``heavy`` lists the modules of :data:`HEAVY` each command imported.

The package is byte-compiled first, as ``pip install`` does (the image's copy has its ``.pyc`` files): a checkout
run with ``PYTHONDONTWRITEBYTECODE=1`` (this machine, the image's environment) otherwise compiles every module of
ours it imports on every run, ~50 ms that no installed copy pays. ``--source`` measures that case: the package's
``__pycache__`` folders removed, nothing written (the installed libraries keep their ``.pyc`` files).

Two more readings, because on a shared machine the least CPU of ``python -c pass`` alone moves by 15 % from one run
to the next: ``x_pass_median`` is the median of each round's own ratio (the command and ``python -c pass`` measured
seconds apart, so a slow minute falls on both), and ``--instructions`` counts each candidate's instructions once
under valgrind's callgrind (the same count to within 0.1 % on every run, whatever the machine is doing; about
50 times slower, so once each). Both are beside the target, which is judged on CPU.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pydantic", "anthropic", "zenpy", "requests", "httpx")
FLOOR_X_PASS = 6.0  # issue 22: at most 6x ``python -c pass`` in CPU
PROBE = """
import json, sys
try:
    from zdtriage.cli import main
    sys.argv[0] = "zdtriage"
    main()
except SystemExit:
    pass
finally:
    print("HEAVY", json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)
"""
# what a command that reads the config and the state cannot do without (the CLI, the state file, the config file,
# JSON, the log): their import alone, beside the commands, says how much of a command's start-up is ours
LIBRARIES = ("click", "sqlite3", "tomllib", "json", "logging")
COMMANDS = {"version": ["--version"], "status": ["status"], "status_check": ["status", "--check"],
            "report": ["report"]}


def measure(args: list[str], env: dict[str, str]) -> tuple[float, list[str]]:
    """CPU seconds of one fresh interpreter running ``args``, and the heavy modules it imported."""
    child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    err = child.stderr.read() if child.stderr else ""
    _, _, usage = os.wait4(child.pid, 0)
    heavy = [json.loads(line[6:]) for line in err.splitlines() if line.startswith("HEAVY ")]
    return usage.ru_utime + usage.ru_stime, heavy[-1] if heavy else []


def instructions(args: list[str], env: dict[str, str]) -> int | None:
    """Instructions one fresh interpreter running ``args`` executes, counted by valgrind's callgrind; None
    without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={work}/out", *args], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found else None


def run(repeat: int, *, source: bool = False, count: bool = False) -> dict[str, Any]:
    """Least CPU of ``repeat`` runs of ``python -c pass`` and of each command of :data:`COMMANDS`, and the median
    of each round's ratio, the package byte-compiled first unless ``source``; with ``count``, the instructions of
    each too (:func:`instructions`)."""
    import zdtriage
    from zdtriage import store

    package = Path(zdtriage.__file__).parent
    if source:
        for cache in list(package.rglob("__pycache__")):
            shutil.rmtree(cache)
    else:  # into the package's __pycache__ folders (git ignores them); fresh ones are left as they are
        compileall.compile_dir(package, quiet=1)

    py = sys.executable
    with tempfile.TemporaryDirectory() as work:
        state = Path(work) / "state.db"
        store.open_db(state).conn.close()
        config = Path(work) / "zdtriage.toml"
        config.write_text(f'[zendesk]\nsubdomain = "bench"\nemail = "bot@example.com"\n\n[state]\npath = "{state}"\n')
        env = {**os.environ, "ZENDESK_API_TOKEN": "t", "ANTHROPIC_API_KEY": "k",
               **({"PYTHONDONTWRITEBYTECODE": "1"} if source else {})}
        # every candidate once a round, ``repeat`` rounds: a slow minute on the machine falls on all of them alike
        argv = {"pass": [py, "-c", "pass"], "libraries": [py, "-c", f"import {', '.join(LIBRARIES)}"],
                **{name: [py, "-c", PROBE.format(heavy=HEAVY), "--config", str(config), *args]
                   for name, args in COMMANDS.items()}}
        runs: dict[str, list[tuple[float, list[str]]]] = {name: [] for name in argv}
        for _ in range(repeat):
            for name, args in argv.items():
                runs[name].append(measure(args, env))
        counted = {name: instructions(args, env) for name, args in argv.items()} if count else {}
    passes = min(runs["pass"])[0]
    out: dict[str, Any] = {"python_pass_cpu_s": round(passes, 4), "floor_x_pass": FLOOR_X_PASS,
                           "bytecode": "source" if source else "compiled", "commands": {}}
    if counted.get("pass"):
        out["python_pass_instructions"] = counted["pass"]
    for name in argv:
        if name == "pass":
            continue
        cpu, heavy = min(runs[name])
        # each round's own ratio: the command and `python -c pass` a few seconds apart
        paired = statistics.median(c / p for (c, _), (p, _) in zip(runs[name], runs["pass"], strict=True))
        figure: dict[str, Any] = {"cpu_s": round(cpu, 4), "x_pass": round(cpu / passes, 1),
                                  "x_pass_median": round(paired, 1)}
        if counted.get(name) and counted.get("pass"):
            figure.update(instructions=counted[name], instructions_x_pass=round(counted[name] / counted["pass"], 2))
        if name == "libraries":
            out["libraries"] = {"imports": list(LIBRARIES), **figure}
        else:
            out["commands"][name] = {**figure, "heavy": heavy}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--source", action="store_true",
                        help="Remove the package's bytecode and compile nothing: each run compiles our modules.")
    parser.add_argument("--instructions", action="store_true",
                        help="Also count each candidate's instructions once under valgrind (about 20 s more).")
    args = parser.parse_args(argv)
    json.dump(run(args.repeat, source=args.source, count=args.instructions), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
