"""The table ``bench/year.py`` prints: each figure on the one-day and the big database, the ratio, the target."""

from __future__ import annotations

from typing import Any

from bench.run import machine  # noqa: F401  (one line: cores, memory, CPU, Python)

RATIO_TARGET = 1.5
REPORT_RSS_TARGET_MB = 300.0
COMMANDS = (("run_once", "`run --once`, network stubbed: CPU-s"), ("status", "`status`: CPU-s"),
            ("report", "`report`: CPU-s"), ("report_since", "`report --since` (last 24 h): CPU-s"),
            ("estimate", "`estimate`: CPU-s"))


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def rows(r: dict[str, Any]) -> list[tuple[str, ...]]:
    """``(figure, small, big, ratio, target, result)`` for every line of the table."""
    small, big = r["small"], r["year"]
    out: list[tuple[str, ...]] = []
    for key, label in COMMANDS:
        s, b = small["commands"][key]["cpu_s"], big["commands"][key]["cpu_s"]
        out.append((label, f"{s:.2f}", f"{b:.2f}", f"{b / s:.2f}x", f"<= {RATIO_TARGET}x", _met(b <= RATIO_TARGET * s)))
    s, b = small["commands"]["report"]["peak_rss_mb"], big["commands"]["report"]["peak_rss_mb"]
    out.append(("`report`: peak RSS, MB", f"{s:.0f}", f"{b:.0f}", f"{b / s:.2f}x", f"< {REPORT_RSS_TARGET_MB:.0f} MB",
                _met(b < REPORT_RSS_TARGET_MB)))
    peak = {
        db: max(v["peak_rss_mb"] for k, v in d["commands"].items() if k != "report")
        for db, d in (("s", small), ("b", big))
    }
    out.append(("peak RSS of the other commands, largest, MB", f"{peak['s']:.0f}", f"{peak['b']:.0f}",
                f"{peak['b'] / peak['s']:.2f}x", "-", "info"))
    for label, key in (("tickets in the database", "tickets"),):
        out.append((label, f"{small[key]:,}", f"{big[key]:,}", "-", "-", "info"))
    out.append(("file size, MB (bytes per ticket)",
                f"{small['bytes'] / 1e6:,.0f} ({small['bytes'] / small['tickets']:,.0f})",
                f"{big['bytes'] / 1e6:,.0f} ({big['bytes'] / big['tickets']:,.0f})", "-", "-", "info"))
    out.append(("time to build, s", f"{small['build_s']:.0f}", f"{big['build_s']:.0f}", "-", "-", "info"))
    u = r["upgrade"]
    out.append(("upgrade to this version (m0010 indexes, m0011 totals): CPU-s, wall s", "-",
                f"{u['cpu_s']:.0f}, {u['wall_s']:.0f}", "-", "-", "info"))
    p = r["prune"]
    out.append(("first retention run (keep_days 90): tickets deleted, CPU-s, wall s", "-",
                f"{p['tickets']:,}, {p['cpu_s']:.0f}, {p['wall_s']:.0f}"
                + (" (more next hour)" if p.get("more") else ""),
                "-", "-", "info"))
    out.append(("   file size before, after that run, MB", "-",
                f"{p['bytes_before'] / 1e6:,.0f}, {p['bytes_after'] / 1e6:,.0f}", "-", "-", "info"))
    st = r["startup"]
    out.append(("start-up: `python -c pass` / `import zdtriage.cli` / `config check`, CPU-s",
                f"{st['python_pass']:.3f} / {st['import_cli']:.2f} / {st['config_check']:.2f}", "-",
                f"{st['config_check'] / st['python_pass']:.0f}x pass", "no SDK imported", "info"))
    out.append(("   `status` on the one-day database / `import anthropic` (no longer paid), CPU-s",
                f"{small['commands']['status']['cpu_s']:.2f} / {st['import_anthropic']:.2f}", "-",
                f"{small['commands']['status']['cpu_s'] / st['python_pass']:.0f}x pass", "-", "info"))
    bpt = r["bytes_per_ticket"]
    out.append((f"bytes per ticket after write-back, real pipeline, {bpt['default']['tickets_seeded']:,} "
                "simulated tickets",
                f"{bpt['default']['bytes_per_ticket']:,}",
                f"{bpt['drop_text']['bytes_per_ticket']:,} with drop_text_after_write",
                "-", "-", "info"))
    return out


def table(lines: list[tuple[str, ...]]) -> str:
    """A Markdown table (it reads as plain text too)."""
    head = ("Figure", "1 day", "big", "ratio", "target", "result")
    widths = [max(len(row[i]) for row in [head, *lines]) for i in range(len(head))]

    def fmt(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"

    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, lines)])
