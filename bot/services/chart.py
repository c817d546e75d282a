"""A bar chart as a PNG, with no imaging dependency: zlib + struct and a 3x5 digit font.

Each bar is numbered (1, 2, ...) under it and its vote count is drawn above it; the option
texts and percentages go in the message caption, in the reader's language.
"""

from __future__ import annotations

import struct
import zlib

WHITE = (255, 255, 255)
INK = (60, 60, 60)
PALETTE = [
    (52, 120, 246),
    (246, 130, 52),
    (46, 170, 90),
    (214, 60, 60),
    (140, 90, 200),
    (30, 170, 180),
    (200, 170, 30),
    (120, 120, 120),
    (230, 90, 160),
    (90, 140, 60),
]

# 3x5 bitmaps for 0-9, one string of 15 pixels per digit (rows top to bottom).
DIGITS = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
}


def encode_png(width: int, height: int, pixels: list[bytearray]) -> bytes:
    """An 8-bit RGB PNG from rows of `width * 3` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return (
            struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(WHITE * width) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        for y in range(max(0, y0), min(self.height, y1)):
            self.rows[y][x0 * 3 : x1 * 3] = bytes(color) * max(0, x1 - x0)

    def number(
        self, x: int, y: int, value: int, scale: int = 3, color: tuple[int, int, int] = INK
    ) -> None:
        """Draw `value` with its left edge at x and top at y."""
        for i, ch in enumerate(str(value)):
            bits = DIGITS[ch]
            for row in range(5):
                for col in range(3):
                    if bits[row * 3 + col] == "1":
                        left = x + i * 4 * scale + col * scale
                        self.rect(left, y + row * scale, left + scale, y + (row + 1) * scale, color)

    def png(self) -> bytes:
        return encode_png(self.width, self.height, self.rows)


def number_width(value: int, scale: int = 3) -> int:
    return len(str(value)) * 4 * scale - scale


def bar_chart(counts: list[int], *, width: int = 480, height: int = 300) -> bytes:
    """Vertical bars, one per option: its count above, its number (1-based) below."""
    n = max(1, len(counts))
    canvas = Canvas(width, height)
    top, bottom, margin = 30, height - 30, 20
    slot = (width - 2 * margin) // n
    bar = max(4, int(slot * 0.6))
    peak = max(counts or [0]) or 1
    canvas.rect(margin, bottom, width - margin, bottom + 2, INK)
    for i, value in enumerate(counts):
        x = margin + i * slot + (slot - bar) // 2
        h = int((bottom - top - 20) * value / peak)
        canvas.rect(x, bottom - h, x + bar, bottom, PALETTE[i % len(PALETTE)])
        canvas.number(x + (bar - number_width(value)) // 2, bottom - h - 20, value)
        canvas.number(x + (bar - number_width(i + 1)) // 2, bottom + 8, i + 1)
    return canvas.png()
