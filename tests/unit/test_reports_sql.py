"""``report`` aggregates in SQL: the same figures as the row-by-row definition it replaced, with flat memory.

The reference below is the earlier implementation (every row loaded into Python), kept as the definition
of each figure; random stores are compared against it, with and without ``since``. The whole-history report
reads running totals kept by triggers (store/totals.py): random changes of every kind the service makes must
leave them equal to the same sums over the rows.
"""

from __future__ import annotations

import json
import random
import tracemalloc
from statistics import median

import pytest

from zdtriage import reports, store
from zdtriage.config import parse
from zdtriage.pricing import cache_hit_rate
from zdtriage.store import ALL_STATES, retention
from zdtriage.store import tickets as queue
from zdtriage.store import totals as store_totals
from zdtriage.timeutil import iso, parse_time

ENV = {"ZENDESK_API_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}
NOW = 1_790_000_000.0
CONFIG = parse({"zendesk": {"subdomain": "a", "email": "a@b.c"}}, ENV)


def reference(db, config, since=None):
    """The report as it was computed before: every counted row in Python."""
    where, params = (" and changed_at >= ?", [since]) if since else ("", [])
    rows = list(db.query(f"select * from tickets where state in ('written', 'dead', 'skipped', 'answered'){where}",
                         params))
    written = [r for r in rows if r["state"] == "written"]
    dead = [r for r in rows if r["state"] == "dead"]
    cost = sum(r["cost_usd"] or 0 for r in rows)
    durations = sorted(parse_time(r["written_at"]) - parse_time(r["submitted_at"])
                       for r in written if r["written_at"] and r["submitted_at"])
    by = {"priority": {}, "category": {}, "sentiment": {}}
    used = rejected = 0
    p = config.triage.tag_prefix
    for r in written:
        answer = json.loads(r["answer"] or "{}")
        for key in by:
            if key in answer:
                by[key][answer[key]] = by[key].get(answer[key], 0) + 1
        tags = set(json.loads(r["zd_tags"] or "[]"))
        used += f"{p}draft_used" in tags
        rejected += f"{p}draft_rejected" in tags
    done = len(written) + len(dead)
    p95 = durations[min(len(durations) - 1, max(0, round(0.95 * (len(durations) - 1))))] if durations else None
    rate = cache_hit_rate(json.loads(r["usage"]) for r in rows if r["usage"])
    return {
        "tickets_written": len(written), "tickets_dead": len(dead), "cost_usd": round(cost, 6),
        "cost_per_ticket_usd": round(cost / len(written), 6) if written else 0.0,
        "error_rate": round(len(dead) / done, 4) if done else 0.0,
        "submit_to_written_seconds": {"median": round(median(durations), 1) if durations else None,
                                      "p95": round(p95, 1) if durations else None},
        "by_priority": by["priority"], "by_category": by["category"], "by_sentiment": by["sentiment"],
        "drafts_used": used, "drafts_rejected": rejected,
        "draft_acceptance_rate": round(used / (used + rejected), 4) if used + rejected else None,
        "cache_hit_rate": round(rate, 4) if rate is not None else None,
    }


TAGS = ["ai_draft_used", "ai_draft_rejected", "vip", "ai_draft_used_twice", "xai_draft_used", "ai_triaged"]


def random_row(rng: random.Random, id_: int) -> dict:
    state = rng.choice([*ALL_STATES, "written", "written", "written"])
    submitted = NOW - rng.uniform(0, 40 * 86400)
    answer = {k: rng.choice(v) for k, v in (("priority", ["P1", "P2", "P3"]), ("category", ["billing", "other"]),
                                            ("sentiment", ["neutral", "angry"])) if rng.random() < 0.9}
    usage = rng.choice([None, "null", json.dumps({"input_tokens": rng.randint(0, 3000),
                                                  "cache_read_input_tokens": rng.choice([None, rng.randint(0, 5000)]),
                                                  "output_tokens": rng.randint(1, 500)}),
                        json.dumps({"input_tokens": rng.randint(0, 3000),
                                    "cache_creation_input_tokens": rng.randint(0, 5000)})])
    return {
        "id": id_, "state": state, "cost_usd": rng.choice([None, round(rng.uniform(0, 0.01), 6)]),
        "submitted_at": iso(submitted) if rng.random() < 0.95 else None,
        "written_at": iso(submitted + rng.uniform(60, 7200)) if rng.random() < 0.95 else None,
        "changed_at": iso(submitted + rng.uniform(0, 9000)) if rng.random() < 0.97 else None,
        "answer": json.dumps({**answer, "draft": "Hello"}) if rng.random() < 0.95 else None,
        "zd_tags": json.dumps(rng.sample(TAGS, rng.randint(0, 3))) if rng.random() < 0.95 else None,
        "usage": usage,
    }


QUALITY = {"window", "live_agreement", "draft_adoption", "evaluation", "evaluation_before",
           "answered_not_written"}  # not part of the row-by-row definition


def comparable(data: dict) -> dict:
    out = {k: v for k, v in data.items() if k not in QUALITY}
    out["submit_to_written_seconds"] = dict(out["submit_to_written_seconds"])
    return out


@pytest.mark.parametrize("seed", range(8))
def test_sql_report_matches_the_row_by_row_definition(seed):
    rng = random.Random(seed)
    db = store.open_db(":memory:")
    db["tickets"].insert_all(random_row(rng, i) for i in range(1, rng.randint(1, 400)))
    for since in (None, iso(NOW - rng.uniform(0, 30 * 86400)), iso(NOW + 86400)):
        got, want = comparable(reports.report(db, CONFIG, since=since)), reference(db, CONFIG, since)
        # SQLite's julianday() keeps milliseconds: a time may round to the next tenth of a second
        for key in ("median", "p95"):
            g, w = got["submit_to_written_seconds"].pop(key), want["submit_to_written_seconds"].pop(key)
            assert (g is None) == (w is None) and (g is None or abs(g - w) <= 0.11), (since, key, g, w)
        assert got == want, since


def test_every_key_of_the_documented_report_is_kept_and_the_window_added():
    data = reports.report(store.open_db(":memory:"), CONFIG)
    for key in ("tickets_written", "cost_usd", "cost_per_ticket_usd", "error_rate", "submit_to_written_seconds",
                "by_priority", "by_category", "by_sentiment", "tickets_dead", "drafts_used", "drafts_rejected",
                "draft_acceptance_rate", "cache_hit_rate"):
        assert key in data
    assert data["window"] == {"from": None, "to": None, "pruned_before": None}
    assert data["submit_to_written_seconds"] == {"median": None, "p95": None}


def test_the_window_names_since_the_newest_change_and_what_retention_pruned():
    db = store.open_db(":memory:")
    db["tickets"].insert_all([
        {"id": 1, "state": "written", "changed_at": iso(NOW - 3 * 86400)},
        {"id": 2, "state": "dead", "changed_at": iso(NOW - 86400)},
        {"id": 3, "state": "queued", "changed_at": iso(NOW)},  # not done: outside every report
    ])
    assert reports.report(db, CONFIG)["window"] == {"from": iso(NOW - 3 * 86400), "to": iso(NOW - 86400),
                                                    "pruned_before": None}
    store.set_sync(db, retention.PRUNED_BEFORE, iso(NOW - 90 * 86400))
    window = reports.report(db, CONFIG, since=iso(NOW - 2 * 86400))["window"]
    assert window == {"from": iso(NOW - 2 * 86400), "to": iso(NOW - 86400), "pruned_before": iso(NOW - 90 * 86400)}


def test_an_odd_count_has_the_middle_value_as_median_and_an_even_one_the_mean_of_two():
    db = store.open_db(":memory:")
    for i, minutes in enumerate([10, 30, 20], start=1):
        db["tickets"].insert(
            {"id": i, "state": "written", "submitted_at": iso(NOW), "written_at": iso(NOW + minutes * 60)}
        )
    assert reports.report(db, CONFIG)["submit_to_written_seconds"] == {"median": 1200.0, "p95": 1800.0}
    db["tickets"].insert({"id": 4, "state": "written", "submitted_at": iso(NOW), "written_at": iso(NOW + 40 * 60)})
    assert reports.report(db, CONFIG)["submit_to_written_seconds"] == {"median": 1500.0, "p95": 2400.0}


def test_report_memory_does_not_grow_with_the_tickets(tmp_path):
    db = store.open_db(tmp_path / "state.db")
    rng = random.Random(1)

    def python_peak() -> int:
        tracemalloc.start()
        reports.report(db, CONFIG)
        reports.report(db, CONFIG, since=iso(NOW - 86400))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    with db.atomic():
        db["tickets"].insert_all(random_row(rng, i) for i in range(1, 1_001))
    small = python_peak()
    with db.atomic():
        db["tickets"].insert_all(random_row(rng, i) for i in range(1_001, 40_001))
    # the rows themselves would be tens of MB in Python; the aggregates stay a few KB whatever the count
    assert python_peak() < max(2 * small, 200_000)


def test_the_report_command_says_which_window_it_covers(tmp_path):
    from click.testing import CliRunner

    from zdtriage.cli import cli

    config = tmp_path / "zdtriage.toml"
    config.write_text(f'[zendesk]\nsubdomain = "acme"\nemail = "bot@acme.com"\n[state]\npath = "{tmp_path}/s.db"\n')
    db = store.open_db(tmp_path / "s.db")
    db["tickets"].insert({"id": 1, "state": "written", "changed_at": iso(NOW)})
    store.set_sync(db, retention.PRUNED_BEFORE, iso(NOW - 90 * 86400))
    db.close()
    out = CliRunner().invoke(cli, ["--config", str(config), "report"], env=ENV, catch_exceptions=False).output
    assert (
        f"window: tickets done from {iso(NOW)} to {iso(NOW)}; those done before {iso(NOW - 90 * 86400)} were pruned"
        in out
    )


# -- the running totals behind the whole-history report (store/totals.py) ---------------------------------


def mutate(rng: random.Random, db, ids: list[int]) -> None:
    """One random change of the kinds the service makes: a transition, a re-read in Zendesk, retention."""
    id_ = rng.choice(ids)
    fresh = random_row(rng, id_)
    kind = rng.randrange(7)
    if kind == 0:
        db.execute(
            "update tickets set state = ?, changed_at = ? where id = ?", [fresh["state"], fresh["changed_at"], id_]
        )
    elif kind == 1:
        db.execute("update tickets set answer = ?, usage = ?, cost_usd = ? where id = ?",
                   [fresh["answer"], fresh["usage"], fresh["cost_usd"], id_])
    elif kind == 2:
        db.execute("update tickets set zd_tags = ?, zd_status = 'open' where id = ?", [fresh["zd_tags"], id_])
    elif kind == 3:
        db.execute("update tickets set written_at = ?, submitted_at = ? where id = ?",
                   [fresh["written_at"], fresh["submitted_at"], id_])
    elif kind == 4:
        db.execute("delete from tickets where id = ?", [id_])
    elif kind == 5:
        db["tickets"].insert(fresh, replace=True)  # INSERT OR REPLACE: the old row's part goes, the new one's comes
    else:
        db.execute("update tickets set answer = ?, zd_tags = ?, state = ? where id = ?",
                   ["not json", "{also not", fresh["state"], id_])


@pytest.mark.parametrize("seed", range(6))
def test_the_running_totals_stay_the_sums_over_the_rows(seed):
    rng = random.Random(100 + seed)
    db = store.open_db(":memory:")
    ids = list(range(1, 60))
    db["tickets"].insert_all(random_row(rng, i) for i in ids)
    for step in range(400):
        mutate(rng, db, ids)
        if step % 50 == 49:
            rows = comparable(reports._from_rows(db, CONFIG, None))
            totals = comparable(reports._from_totals(db, CONFIG))
            for key in ("median", "p95"):
                g, w = totals["submit_to_written_seconds"].pop(key), rows["submit_to_written_seconds"].pop(key)
                assert (g is None) == (w is None) and (g is None or abs(g - w) <= 0.11), (step, key, g, w)
            assert totals == rows, step
            assert reports.status(db, CONFIG, NOW)["tickets"] == queue.counts(db)


def test_totals_fill_from_the_rows_already_there_when_the_migration_runs(tmp_path):
    db = store.open_db(tmp_path / "state.db")
    rng = random.Random(7)
    db.execute("delete from _sqlite_migrations where name = 'm0011_report_totals'")
    for name in store_totals.TRIGGERS:
        db.execute(f"drop trigger {name}")
    db["tickets"].insert_all(random_row(rng, i) for i in range(1, 300))  # rows written before the upgrade
    assert not store_totals.installed(db)
    store.migrations.apply(db)
    assert store_totals.installed(db)
    assert comparable(reports._from_totals(db, CONFIG)) == comparable(reports._from_rows(db, CONFIG, None))


def test_a_transform_of_tickets_drops_the_triggers_and_the_report_falls_back_to_the_rows():
    db = store.open_db(":memory:")
    rng = random.Random(8)
    db["tickets"].insert_all(random_row(rng, i) for i in range(1, 100))
    db["tickets"].transform(types={"input_chars": float})  # what a later migration might do
    assert not store_totals.installed(db)
    db["tickets"].insert(random_row(rng, 500))  # no trigger saw this one
    assert comparable(reports.report(db, CONFIG)) == comparable(reports._from_rows(db, CONFIG, None))
    store_totals.install(db)  # what that migration must do next
    assert comparable(reports._from_totals(db, CONFIG)) == comparable(reports._from_rows(db, CONFIG, None))


def test_the_whole_history_report_reads_the_totals_not_the_rows(tmp_path):
    db = store.open_db(tmp_path / "state.db")
    rng = random.Random(9)
    with db.atomic():
        db["tickets"].insert_all(random_row(rng, i) for i in range(1, 5_001))
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    reports.report(db, CONFIG)
    db.conn.set_trace_callback(None)
    touching = [s for s in statements if "from tickets" in s]
    # the window's ends, and the answers not written (few, but for a pilot with writeback.mode = "off")
    assert touching and all("min(changed_at)" in s or "max(changed_at)" in s or "where state = 'answered' group by" in s
                            for s in touching)
