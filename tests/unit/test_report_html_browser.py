"""The HTML report in a real browser: Debian's headless chromium (installed by ``make setup``) renders the file,
and the screenshot and the DOM it builds are checked. Without chromium these tests fail, they do not skip."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer.report.advice import advise
from consumer.report.render_html import render_html
from tests.unit.coverage_factories import sample_rows

WIDTH, HEIGHT = 1280, 1600
GREEN = (0x2E, 0x7D, 0x32)  # rect.ok: an identifier share that meets its threshold
ORANGE = (0xE6, 0x51, 0x00)  # rect.low: an identifier share under its threshold


def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is missing: run `make setup` (it installs it with apt-get)"
    return path


def run_chromium(tmp_path: Path, page: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    """Headless chromium with everything that could reach the network switched off."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={WIDTH},{HEIGHT}",
        *mode,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> bytearray:
    """Undo one scanline's PNG filter (RFC 2083, section 6) in place."""
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + previous[i]) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + previous[i]) // 2) & 0xFF
        elif kind == 4:
            line[i] = (line[i] + _paeth(left, previous[i], previous[i - bpp] if i >= bpp else 0)) & 0xFF
    return line


def png_pixels(data: bytes) -> tuple[int, int, Iterator[tuple[int, int, int]]]:
    """Width, height and the RGB pixels of an 8-bit RGB or RGBA, non-interlaced PNG, decoded with zlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    chunks: dict[bytes, list[bytes]] = {}
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunks.setdefault(kind, []).append(data[position + 8 : position + 8 + length])
        position += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    assert (depth, interlace) == (8, 0) and colour_type in (2, 6), "unexpected PNG format"
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = width * bpp

    def pixels() -> Iterator[tuple[int, int, int]]:
        previous = bytearray(stride)
        for y in range(height):
            start = y * (stride + 1)
            line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, bpp)
            for x in range(0, stride, bpp):
                yield line[x], line[x + 1], line[x + 2]
            previous = line

    return width, height, pixels()


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = sample_rows()
    page = tmp_path_factory.mktemp("report") / "report.html"
    page.write_text(render_html("orders, crm-leads: sample", rows, advise(rows)), encoding="utf-8")
    return page


def test_screenshot_shows_the_report_with_its_bars(tmp_path: Path, report_page: Path) -> None:
    """The screenshot is a real 1280x1600 image, not blank: many colours, white not everywhere, and both the green
    of an identifier bar that meets its threshold and the orange of one under it are painted."""
    screenshot = tmp_path / "report.png"
    run_chromium(tmp_path, report_page, f"--screenshot={screenshot}")
    width, height, pixels = png_pixels(screenshot.read_bytes())
    colours = Counter(pixels)
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(colours) > 50
    assert colours[(255, 255, 255)] < 0.98 * width * height
    assert colours[GREEN] > 1000
    assert colours[ORANGE] > 1000


def test_dom_has_the_table_rows_and_svg_bars(tmp_path: Path, report_page: Path) -> None:
    """The DOM chromium builds from the file holds both coverage rows, the advice and the SVG bars."""
    dom = run_chromium(tmp_path, report_page, "--dump-dom").stdout
    assert dom.count('class="coverage-row"') == 2
    assert 'data-event="Purchase"' in dom
    assert 'data-event="Lead"' in dom
    assert dom.count("<svg") == 6
    assert dom.count('class="bar low"') == 2
    assert "Purchase: 38% carry phone" in dom
