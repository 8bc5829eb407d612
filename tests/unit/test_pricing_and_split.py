"""Cost arithmetic checked against figures computed by hand; batch splitting by count and bytes."""

import pytest

from zdtriage.batches import MAX_BATCH_BYTES, request_bytes, split_batches
from zdtriage.pricing import price_for, usage_cost, worst_case_cost


def test_haiku_batch_cost_by_hand():
    # 1,000,000 input at $0.50 + 1,000,000 output at $2.50 (batch = half of $1/$5)
    assert usage_cost("claude-haiku-4-5", {"input_tokens": 1_000_000, "output_tokens": 1_000_000}) == pytest.approx(3.0)
    assert usage_cost(
        "claude-haiku-4-5", {"input_tokens": 1_000_000, "output_tokens": 0}, batch=False
    ) == pytest.approx(1.0)


def test_cache_tokens_by_hand():
    usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 3_000_000,
             "cache_creation": {"ephemeral_5m_input_tokens": 1_000_000, "ephemeral_1h_input_tokens": 2_000_000},
             "cache_read_input_tokens": 10_000_000}
    # Sonnet $3 input: 5m write 1.25×3 = 3.75, 1h write 2×3×2 = 12, read 0.1×3×10 = 3 → 18.75 standard, 9.375 batch
    assert usage_cost("claude-sonnet-4-6", usage, batch=False) == pytest.approx(18.75)
    assert usage_cost("claude-sonnet-4-6", usage) == pytest.approx(9.375)


def test_tutorial_figure_is_42_50_not_4_25():
    per_ticket = worst_case_cost("claude-haiku-4-5", 2500, 1200)
    assert per_ticket * 10_000 == pytest.approx(42.50)
    assert worst_case_cost("claude-haiku-4-5", 2500, 1200, batch=False) * 10_000 == pytest.approx(85.00)


def test_dated_model_names_and_unknown_models():
    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")
    with pytest.raises(KeyError):
        price_for("claude-unknown-9")


def _req(i, size):
    return i, {"custom_id": f"zt-{i}-1", "params": {"model": "m", "max_tokens": 1,
                                                 "messages": [{"role": "user", "content": "x" * size}]}}


def test_split_by_count():
    chunks = list(split_batches((_req(i, 10) for i in range(25)), max_requests=10))
    assert [len(c) for c in chunks] == [10, 10, 5]


def test_split_by_bytes_keeps_every_batch_under_the_limit():
    limit = 50_000
    chunks = list(split_batches((_req(i, 10_000) for i in range(23)), max_bytes=limit))
    assert sum(len(c) for c in chunks) == 23
    for chunk in chunks:
        assert 15 + sum(request_bytes(r) for _, r in chunk) <= limit
    assert len(chunks) == 6  # 4 requests of ~10 KB per 50 KB batch


def test_limits_above_the_api_are_refused():
    with pytest.raises(ValueError):
        list(split_batches(iter([]), max_bytes=MAX_BATCH_BYTES + 1))
