"""Figure 3: 100,000 requests of about 10 KB each, cut by ``zdtriage.batches.split_batches``.

Run as ``python -m bench.split`` from the repository root; prints one JSON object.

Requests are real ``prompt.request_params`` (system prompt, output schema, a conversation of
7–9.5 KB cut from the simulator's corpus), 64 different bodies drawn at random so sizes vary;
each request object shares one of those bodies, so memory stays small while ``split_batches``
measures every request's encoded size exactly as it does in ``submit``. Cut twice: at the API's
maximum (``MAX_BATCH_BYTES``, 256 MB and 100,000 requests) and at our default
``TARGET_BATCH_BYTES``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

REQUESTS = 100_000
VARIANTS = 64
ENVELOPE = len(b'{"requests":[]}')


def _bodies(seed: int) -> list[dict[str, Any]]:
    """``VARIANTS`` request params whose encoded size is spread around 10 KB."""
    from zdtriage import config as config_mod
    from zdtriage import prompt
    from zdtriage.sim import corpus

    triage = config_mod.TriageConfig()
    rng = random.Random(seed)
    text = "\n\n".join(s["description"] for s in corpus.generate(400, seed))
    out = []
    for _ in range(VARIANTS):
        size = rng.randrange(7_000, 9_500)
        start = rng.randrange(0, len(text) - size)
        message = prompt.Message("customer", text[start:start + size])
        out.append(prompt.request_params("Order sync keeps failing", [message], model="claude-haiku-4-5",
                                         max_tokens=512, triage=triage))
    return out


def requests(n: int, seed: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(key, request)`` pairs as ``submit`` hands them to ``split_batches`` (generated lazily)."""
    bodies = _bodies(seed)
    rng = random.Random(seed + 1)
    for i in range(n):
        yield i, {"custom_id": f"zt-{i + 1}-1", "params": bodies[rng.randrange(VARIANTS)]}


def cut(n: int, seed: int, max_bytes: int) -> dict[str, Any]:
    """Split ``n`` requests at ``max_bytes``; count and size the batches."""
    from zdtriage import batches as anth

    started = time.perf_counter()
    sizes: list[tuple[int, int]] = []  # (requests, bytes) per batch
    for chunk in anth.split_batches(requests(n, seed), max_bytes=max_bytes):
        # the create body: the envelope and the requests joined by commas (request_bytes counts one each)
        sizes.append((len(chunk), ENVELOPE + sum(anth.request_bytes(r) for _, r in chunk) - 1))
    total = sum(b for _, b in sizes)
    return {
        "limit_mb": round(max_bytes / 2**20, 1),
        "batches": len(sizes),
        "requests": sum(k for k, _ in sizes),
        "requests_per_batch": [min(k for k, _ in sizes), max(k for k, _ in sizes)],
        "mb_per_batch": [round(min(b for _, b in sizes) / 2**20, 1), round(max(b for _, b in sizes) / 2**20, 1)],
        "mean_request_kb": round(total / n / 1024, 1),
        "total_mb": round(total / 2**20, 1),
        "within_limits": all(k <= anth.MAX_REQUESTS and b <= max_bytes for k, b in sizes),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    from zdtriage import batches as anth

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    result = {"api_max": cut(args.requests, args.seed, anth.MAX_BATCH_BYTES),
              "default": cut(args.requests, args.seed, anth.TARGET_BATCH_BYTES)}
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
