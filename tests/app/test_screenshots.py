"""The listing screenshots assets/screenshot-<n>.png, made by app/screenshots.py from the real
sidebar in Chromium. Zendesk takes at most three, each exactly 1024x768 (zendesk_apps_support
validations/screenshots.rb); these tests read them as images, with the PNG reader in helpers.py."""
from __future__ import annotations

import ast
from collections import Counter

import pytest

from .helpers import ROOT, read_png

SHOTS = sorted((ROOT / "assets").glob("screenshot-*.png"))


def _shot_count_in_script() -> int:
    tree = ast.parse((ROOT / "app" / "screenshots.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SHOTS" for t in node.targets):
            return len(node.value.elts)
    raise AssertionError("app/screenshots.py has no SHOTS list")


def test_there_are_as_many_screenshots_as_the_script_makes():
    assert 1 <= len(SHOTS) <= 3
    assert [p.name for p in SHOTS] == [f"screenshot-{i}.png" for i in range(len(SHOTS))]
    assert _shot_count_in_script() == len(SHOTS)


def _luma(p):
    return (299 * p[0] + 587 * p[1] + 114 * p[2]) / 255000


@pytest.mark.parametrize("path", SHOTS, ids=lambda p: p.name)
def test_screenshot_is_a_1024x768_picture_of_a_sidebar(path):
    png = read_png(path.read_bytes())
    assert (png["width"], png["height"]) == (1024, 768)
    assert png["depth"] == 8 and png["channels"] in (3, 4)
    n = png["channels"]
    rows = png["rows"]
    all_px = Counter()
    sidebar_px = Counter()
    for y in range(0, 768, 2):
        row = rows[y]
        for x in range(0, 1024, 2):
            px = tuple(row[x * n : x * n + 3])
            all_px[px] += 1
            if x >= 680:  # the apps column of app/screenshot_frame.html
                sidebar_px[px] += 1
    total = sum(all_px.values())
    assert len(all_px) > 200, "too few colours: blank or flat"
    assert all_px.most_common(1)[0][1] / total < 0.9, "one colour fills the picture"
    assert len(sidebar_px) > 100, "the sidebar column is empty"
    # Garden's P1-P4 tag colours: red, yellow, blue or grey pills must be in the sidebar column.
    assert any(p[0] > 150 and p[1] < 120 and p[2] < 120 for p in sidebar_px) or any(
        p[2] > 150 and p[0] < 120 for p in sidebar_px
    ) or any(p[0] > 200 and 120 < p[1] < 200 and p[2] < 120 for p in sidebar_px), "no priority tag visible"


def test_one_screenshot_shows_dark_mode():
    means = []
    for path in SHOTS:
        png = read_png(path.read_bytes())
        n = png["channels"]
        sample = [tuple(png["rows"][y][x * n : x * n + 3]) for y in range(0, 768, 16) for x in range(0, 1024, 16)]
        means.append(sum(_luma(p) for p in sample) / len(sample))
    assert min(means) < 0.2 < 0.8 < max(means), means
