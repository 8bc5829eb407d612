"""Helpers shared by the Zendesk app tests (tests/app)."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_json(path: Path):
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


class PNGError(ValueError):
    pass


def read_png(data: bytes) -> dict:
    """Parse a PNG by hand: check the signature and every chunk's CRC, read IHDR, inflate and
    unfilter the image data. Returns width, height, bit depth, colour type and the raw pixel rows."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise PNGError("no PNG signature")
    pos = 8
    chunks = []
    while pos < len(data):
        if pos + 8 > len(data):
            raise PNGError("truncated chunk header")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise PNGError(f"truncated {kind!r} chunk")
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise PNGError(f"bad CRC in {kind!r} chunk")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR":
        raise PNGError("IHDR is not the first chunk")
    if chunks[-1][0] != b"IEND":
        raise PNGError("no IEND chunk")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise PNGError(f"unsupported colour type {colour} / depth {depth}")
    if compression or filtering or interlace:
        raise PNGError("unsupported compression, filter method or interlacing")
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    bpp = max(1, channels * depth // 8)
    stride = (width * channels * depth + 7) // 8
    if len(raw) != height * (stride + 1):
        raise PNGError("image data has the wrong size for IHDR")
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
            elif ftype != 0:
                raise PNGError(f"bad filter type {ftype}")
        rows.append(bytes(line))
        prev = line
    return {
        "width": width,
        "height": height,
        "depth": depth,
        "colour": colour,
        "channels": channels,
        "rows": rows,
    }


def pixels(png: dict) -> list[tuple[int, ...]]:
    """All pixels as tuples (8-bit images only)."""
    n = png["channels"]
    out = []
    for row in png["rows"]:
        out.extend(tuple(row[i : i + n]) for i in range(0, len(row), n))
    return out


def load_app_module(name: str):
    """Import app/<name>.py (the app's build tools live outside any Python package)."""
    import importlib.util
    import sys

    path = ROOT / "app" / f"{name}.py"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
