"""The bar chart is a valid PNG drawn with zlib + struct only."""

import struct
import zlib

from bot.services.chart import bar_chart


def test_bar_chart_is_a_valid_png_with_the_requested_size() -> None:
    png = bar_chart([12, 40, 7, 0], width=200, height=120)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and struct.unpack(">II", png[16:24]) == (200, 120)
    idat_at = png.index(b"IDAT")
    size = struct.unpack(">I", png[idat_at - 4 : idat_at])[0]
    raw = zlib.decompress(png[idat_at + 4 : idat_at + 4 + size])
    assert len(raw) == 120 * (1 + 200 * 3)
