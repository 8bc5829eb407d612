"""Regenerate assets/logo.png (320x320) and assets/logo-small.png (128x128).

Zendesk's "Create app brand assets" asks for exactly these sizes, as PNG, with square corners:
Zendesk rounds the corners itself. Run by hand (python3 app/make_logos.py); the PNGs are committed
and the tests only read them. Standard library only: the shapes are drawn at 4x and box-filtered
down for smooth edges.

The mark: a full-bleed indigo square holding a white speech bubble (the drafted reply) with three
bars in the priority colours red, amber and green (the triage tags).
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SS = 4  # supersampling factor

BG = (55, 48, 163)  # indigo
WHITE = (255, 255, 255)
BARS = [(220, 38, 38), (245, 158, 11), (22, 163, 74)]


def _rounded_rect(x, y, x0, y0, x1, y1, r):
    if x < x0 or x > x1 or y < y0 or y > y1:
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _triangle(x, y, a, b, c):
    def side(p, q, r):
        return (p[0] - r[0]) * (q[1] - r[1]) - (q[0] - r[0]) * (p[1] - r[1])

    d1, d2, d3 = side((x, y), a, b), side((x, y), b, c), side((x, y), c, a)
    neg = d1 < 0 or d2 < 0 or d3 < 0
    pos = d1 > 0 or d2 > 0 or d3 > 0
    return not (neg and pos)


def pixel(u: float, v: float):
    """Colour (r, g, b, a) at normalised coordinates u, v in [0, 1)."""
    colour = BG
    in_bubble = _rounded_rect(u, v, 0.16, 0.18, 0.84, 0.70, 0.09) or _triangle(
        u, v, (0.28, 0.66), (0.46, 0.66), (0.26, 0.84)
    )
    if in_bubble:
        colour = WHITE
        for i, bar in enumerate(BARS):
            top = 0.28 + i * 0.125
            right = 0.74 - i * 0.12
            if _rounded_rect(u, v, 0.26, top, right, top + 0.07, 0.035):
                colour = bar
    return (*colour, 255)


def render(size: int) -> bytes:
    big = size * SS
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type 0
        for x in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(SS):
                for sx in range(SS):
                    r, g, b, a = pixel((x * SS + sx + 0.5) / big, (y * SS + sy + 0.5) / big)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            alpha = acc[3] / (SS * SS)
            rgb = [round(c / acc[3]) for c in acc[:3]] if acc[3] else [0, 0, 0]
            row += bytes([*rgb, round(alpha)])
        rows.append(bytes(row))
    return b"".join(rows)


def png(size: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(render(size), 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    (ROOT / "assets" / "logo.png").write_bytes(png(320))
    (ROOT / "assets" / "logo-small.png").write_bytes(png(128))
    print("wrote assets/logo.png and assets/logo-small.png")
