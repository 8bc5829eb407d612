"""The simulator's ground truth: every ticket carries what an agent would set, solved tickets carry it in
Zendesk's native fields, and agents disagree with one another the way a real team does."""

from __future__ import annotations

from collections import Counter

from zdtriage.sim import corpus
from zdtriage.sim.zendesk import ZendeskSim


def test_every_generated_ticket_has_a_truth_in_zendesk_terms():
    tickets = corpus.generate(300, 4)
    for t in tickets:
        truth = t["truth"]
        assert truth["priority"] in ("urgent", "high", "normal", "low")
        assert truth["category"] in corpus.CATEGORY_VALUES
        assert truth["type"] in ("question", "incident", "problem", "task")
    # open tickets are not categorised yet: their native fields say nothing about the truth
    for t in tickets:
        if t["status"] not in ("solved", "closed"):
            assert t["type"] is None and t["custom_fields"] == {}


def test_labels_do_not_shift_the_rest_of_the_corpus(monkeypatch):
    # the truth draws come from each ticket's own generator: texts, statuses and tags stay what they were
    # without labels, so seeded tests and benchmarks see the same tickets as before
    labelled = corpus.generate(120, 9)
    monkeypatch.setattr(corpus, "_label", lambda ticket, rng, solved: None)
    plain = corpus.generate(120, 9)
    keys = ("subject", "description", "comments", "status", "tags", "created_offset_seconds")
    assert [{k: t[k] for k in keys} for t in labelled] == [{k: t[k] for k in keys} for t in plain]
    assert [t["priority"] for t in labelled if t["status"] not in ("solved", "closed")] == \
        [t["priority"] for t in plain if t["status"] not in ("solved", "closed")]


def test_history_is_solved_with_native_fields_set_as_agents_leave_them():
    tickets = corpus.history(400, 2)
    assert corpus.history(400, 2) == tickets
    assert {t["status"] for t in tickets} == {"solved", "closed"}
    assert all(t["comments"][-1]["author"] == "agent" and t["comments"][-1]["public"] for t in tickets)
    set_priority = [t for t in tickets if t["priority"] is not None]
    assert all(t["priority"] == t["truth"]["priority"] for t in set_priority)
    assert 0.85 < len(set_priority) / len(tickets) < 0.98  # some agents never set a priority
    fields = [t["custom_fields"][corpus.CATEGORY_FIELD_ID] for t in tickets if t["custom_fields"]]
    assert set(fields) <= set(corpus.CATEGORY_VALUES) and len(fields) > 350
    assert any(corpus.SKIP_TAG in t["tags"] for t in tickets)  # opted out: an evaluation must skip it


def test_agents_disagree_within_a_kind_but_mostly_agree():
    tickets = corpus.history(2000, 3)
    for topic in ("technical", "billing", "login"):
        counts = Counter(t["truth"]["category"] for t in tickets if t["topic"] == topic)
        top, n = counts.most_common(1)[0]
        assert corpus.CATEGORY_MAP[top] in ("technical", "billing", "account")
        assert 0.7 < n / sum(counts.values()) < 0.97, counts


def test_the_simulator_exports_history_with_native_priority_type_and_fields():
    sim = ZendeskSim()
    sim.seed(30, 5, history=True)
    by_id = {t["id"]: t for t in sim.snapshot()}
    for spec, (_, t) in zip(corpus.history(30, 5), sorted(by_id.items()), strict=True):
        assert t["status"] == spec["status"] and t["priority"] == spec["priority"] and t["type"] == spec["type"]
        assert {f["id"]: f["value"] for f in t["custom_fields"]} == spec["custom_fields"]
