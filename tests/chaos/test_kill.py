"""The short kill test: 10 SIGKILLs of a real `zdtriage run` against faulty simulators."""

import pytest
from killharness import run


@pytest.mark.slow
def test_killed_ten_times_nothing_lost_nothing_written_twice():
    out = run(kills=10, tickets=80, seed=7)
    assert out["problems"] == []
    assert out["written"] + out["failed"] == out["eligible"] > 50
    assert out["clean_exit"], f"daemon did not stop cleanly on SIGTERM (see {out['workdir']})"
