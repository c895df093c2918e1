"""The charts' PNGs at zlib's fastest level: the pixels of the default level, and the same bytes each time."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from harness.report.chart_style import DPI, PNG_COMPRESS_LEVEL, figure, header, to_png


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _chart() -> Figure:
    fig, (ax,) = figure()
    x = np.linspace(0, 120, 600)
    ax.plot(x, np.sin(x / 7) * 40 + 50, label="a line")
    ax.stairs(np.abs(np.cos(x[:-1] / 11)) * 30, x, fill=True, alpha=0.4, label="stairs")
    header(ax, "A chart")
    return fig


def test_the_fast_level_keeps_every_pixel() -> None:
    assert PNG_COMPRESS_LEVEL == 1
    fig = _chart()
    png, width, height = to_png(fig)
    default = io.BytesIO()
    fig.savefig(default, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    fast, slow = _pixels(png), _pixels(default.getvalue())
    assert fast.shape == (height, width, 4)
    assert np.array_equal(fast, slow)
    assert png != default.getvalue()  # other bytes: the level is really applied


def test_the_same_chart_gives_the_same_bytes() -> None:
    assert to_png(_chart())[0] == to_png(_chart())[0]
