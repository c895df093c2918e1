"""Time-bucketing maths for the report's charts: arrays in, arrays out (numpy, no records, no drawing).

Every function takes times as seconds since the run start (``t - facts.t0``) and a :class:`Grid` of
fixed buckets. A long run does not get 10,000 bars of 100 ms: :func:`grid_for` widens the bucket to
the next "nice" width (0.2 s, 0.5 s, 1 s, 2 s, 5 s …) so the chart keeps at most ``max_buckets``, and
:func:`fine_peak_and_mean` keeps the per-100 ms peak visible inside each wider bucket, so the herd gate
(a per-100 ms number) can still be drawn on the same axis.

Example::

    grid = grid_for(duration_s=60.0, min_width_s=0.1, max_buckets=1200)   # 600 buckets of 100 ms
    per_bucket = counts(arrival_times, grid)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "NICE_WIDTHS_S",
    "FloatArray",
    "Grid",
    "IntArray",
    "bucket_index",
    "category_counts",
    "counts",
    "cumulative_at",
    "fine_peak_and_mean",
    "format_width",
    "grid_for",
    "percentiles",
    "sliding_sum_at",
    "sliding_sum_peak",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: bucket widths a grid may take (each a whole multiple of 100 ms, so fine buckets nest inside)
NICE_WIDTHS_S: tuple[float, ...] = (
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
)  # fmt: skip

# a time sitting exactly on a bucket edge belongs to the bucket it opens, whatever float rounding
# does to t / width (0.3 / 0.1 == 2.9999999999999996); 1e-9 of a bucket is far below clock precision
_EDGE_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Grid:
    """``count`` fixed buckets of ``width`` seconds, the first starting at ``start`` (seconds since t0)."""

    width: float  # bucket width in seconds
    count: int  # number of buckets
    start: float = 0.0  # left edge of the first bucket

    @property
    def end(self) -> float:
        return self.start + self.width * self.count

    @property
    def edges(self) -> FloatArray:
        """``count + 1`` bucket edges."""
        return self.start + self.width * np.arange(self.count + 1, dtype=np.float64)

    @property
    def lefts(self) -> FloatArray:
        return self.edges[:-1]

    @property
    def centers(self) -> FloatArray:
        return self.edges[:-1] + self.width / 2

    def label(self) -> str:
        """The bucket width for an axis label: ``"100 ms"``, ``"2 s"``, ``"5 min"``."""
        return format_width(self.width)


def format_width(width_s: float) -> str:
    """``0.1`` → ``"100 ms"``, ``2.0`` → ``"2 s"``, ``300.0`` → ``"5 min"``, ``7200.0`` → ``"2 h"``."""
    if width_s < 1.0:
        return f"{round(width_s * 1000):d} ms"
    if width_s >= 7200.0 and width_s % 3600.0 == 0:
        return f"{round(width_s / 3600):d} h"
    if width_s >= 60.0 and width_s % 60.0 == 0:
        return f"{round(width_s / 60):d} min"
    return f"{width_s:g} s"


def grid_for(duration_s: float, min_width_s: float = 0.1, max_buckets: int = 1200) -> Grid:
    """Buckets covering ``[0, duration_s]``: the narrowest nice width ≥ ``min_width_s`` giving ≤ ``max_buckets``.

    Runs longer than the widest nice width allows get wider buckets still (whole multiples of an hour).
    """
    duration = duration_s if math.isfinite(duration_s) and duration_s > 0 else 0.0
    max_buckets = max(1, max_buckets)
    for width in NICE_WIDTHS_S:
        if width + _EDGE_EPS < min_width_s:
            continue
        n = max(1, math.ceil(duration / width - _EDGE_EPS))
        if n <= max_buckets:
            return Grid(width, n)
    width = NICE_WIDTHS_S[-1] * math.ceil(duration / (NICE_WIDTHS_S[-1] * max_buckets))
    return Grid(width, max(1, math.ceil(duration / width - _EDGE_EPS)))


def bucket_index(times: FloatArray, grid: Grid) -> IntArray:
    """Bucket of each time; ``-1`` for times outside the grid (before its start, at or after its end)."""
    pos = np.floor((np.asarray(times, dtype=np.float64) - grid.start) / grid.width + _EDGE_EPS)
    inside = np.isfinite(pos) & (pos >= 0) & (pos < grid.count)  # NaN, ±inf and far-off times never cast
    idx = np.full(pos.shape, -1, dtype=np.int64)
    idx[inside] = pos[inside].astype(np.int64)
    return idx


def counts(times: FloatArray, grid: Grid, weights: FloatArray | None = None) -> FloatArray:
    """Points (or the sum of ``weights``) per bucket; points outside the grid are dropped."""
    idx = bucket_index(times, grid)
    keep = idx >= 0
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
    return np.bincount(idx[keep], weights=w, minlength=grid.count).astype(np.float64)


def fine_peak_and_mean(times: FloatArray, grid: Grid, fine_s: float = 0.1) -> tuple[FloatArray, FloatArray]:
    """Per bucket of ``grid``: the most and the mean points per ``fine_s`` sub-bucket.

    When the grid's width is ``fine_s`` both equal :func:`counts`; on a coarser grid the peak keeps a
    one-bucket burst visible that the mean would flatten. ``grid.width`` must be a multiple of ``fine_s``.
    Work grows with the number of points, not with the run's length.
    """
    k = round(grid.width / fine_s)
    if k < 1 or not math.isclose(k * fine_s, grid.width, rel_tol=1e-9):
        raise ValueError(f"grid width {grid.width} s is not a whole multiple of {fine_s} s")
    fine_idx = bucket_index(times, Grid(fine_s, grid.count * k, grid.start))
    occupied, per_fine = np.unique(fine_idx[fine_idx >= 0], return_counts=True)
    peak = np.zeros(grid.count)
    np.maximum.at(peak, occupied // k, per_fine.astype(np.float64))
    return peak, counts(times, grid) / k


def percentiles(times: FloatArray, values: FloatArray, grid: Grid, qs: Sequence[float]) -> FloatArray:
    """Percentiles ``qs`` of ``values`` grouped by the bucket of ``times``; shape ``(len(qs), count)``.

    Same interpolation as ``np.percentile`` (linear), computed for every bucket at once by sorting on
    (bucket, value); empty buckets are NaN, which matplotlib draws as a gap.
    """
    v_all = np.asarray(values, dtype=np.float64)
    idx = bucket_index(times, grid)
    keep = (idx >= 0) & np.isfinite(v_all)
    idx, v = idx[keep], v_all[keep]
    out = np.full((len(qs), grid.count), np.nan)
    if v.size == 0:
        return out
    order = np.lexsort((v, idx))
    idx, v = idx[order], v[order]
    n = np.bincount(idx, minlength=grid.count)
    first = np.concatenate(([0], np.cumsum(n)[:-1]))
    has = n > 0
    for row, q in enumerate(qs):
        pos = first[has] + (q / 100.0) * (n[has] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, first[has] + n[has] - 1)
        frac = pos - lo
        out[row, has] = v[lo] + (v[hi] - v[lo]) * frac
    return out


def sliding_sum_at(times: FloatArray, weights: FloatArray, at: FloatArray, window_s: float) -> FloatArray:
    """Sum of ``weights`` whose time is in ``(a − window_s, a]``, for each ``a`` in ``at``.

    The window the provider's quota uses: a point leaves it exactly ``window_s`` after it arrived.
    """
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t = t[order]
    cum = np.concatenate(([0.0], np.cumsum(np.asarray(weights, dtype=np.float64)[order])))
    a = np.asarray(at, dtype=np.float64)
    hi = np.searchsorted(t, a, side="right")
    lo = np.searchsorted(t, a - window_s, side="right")
    return cum[hi] - cum[lo]


def sliding_sum_peak(times: FloatArray, weights: FloatArray, grid: Grid, window_s: float) -> FloatArray:
    """Per bucket, the highest trailing-window sum reached at any instant inside it.

    The sum only rises at a point, so its maximum over ``[left, right)`` is the larger of its value at
    ``left`` and its values just after each point inside the bucket; a limit violation is never lost
    between two samples.
    """
    t = np.asarray(times, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    peak = sliding_sum_at(t, w, grid.lefts, window_s)
    idx = bucket_index(t, grid)
    keep = idx >= 0
    if keep.any():
        np.maximum.at(peak, idx[keep], sliding_sum_at(t, w, t[keep], window_s))
    return peak


def cumulative_at(times: FloatArray, amounts: FloatArray, at: FloatArray) -> FloatArray:
    """Running total of ``amounts`` with time ≤ ``a``, for each ``a`` in ``at``."""
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    cum = np.concatenate(([0.0], np.cumsum(np.asarray(amounts, dtype=np.float64)[order])))
    return cum[np.searchsorted(t[order], np.asarray(at, dtype=np.float64), side="right")]


def category_counts(
    times: FloatArray, categories: Sequence[str], grid: Grid, order: Sequence[str]
) -> dict[str, FloatArray]:
    """Points per bucket for each category in ``order`` (categories not in ``order`` are dropped)."""
    cats = np.asarray(categories, dtype=object)
    t = np.asarray(times, dtype=np.float64)
    return {name: counts(t[cats == name], grid) for name in order}
