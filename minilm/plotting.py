"""Line plots as SVG text, with no plotting library: the loss curves of a training run.

An SVG file is XML that a browser (or Jupyter, or an image viewer) draws. A line plot needs only
a few of its elements::

    <svg width="640" height="400">                      the canvas, in pixels
      <rect x=.. y=.. width=.. height=../>              the plot area, framed
      <line .../> <text>0.5</text>                      a tick and its label, on each axis
      <polyline points="x0,y0 x1,y1 ..."/>              one series: its points, joined
      <text>train</text>                                the legend
    </svg>

The one idea to get right is the mapping from data to pixels. The plot area spans pixels
``left..right`` horizontally and ``top..bottom`` vertically, and the axes span the data range
``x_lo..x_hi`` and ``y_lo..y_hi`` of all series together. A value is placed by the linear map

    px = left + (x - x_lo) / (x_hi - x_lo) * (right - left)
    py = bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top)

with a minus sign for y, because SVG's y axis points DOWN (0 is the top of the canvas). So the
smallest x lands on the left edge, the largest on the right edge, the smallest y on the bottom
edge and the largest on the top edge. Ticks are placed at "nice" numbers (1, 2 or 5 times a power
of ten) inside the range. Points whose x or y is NaN or infinite cannot be placed and are left out
(a diverged run still gets a plot of its finite part).

    >>> svg = line_plot_svg({"train": ([1, 2, 3], [2.0, 1.2, 0.9])}, "loss.svg", title="loss", xlabel="step")
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from minilm.io import atomic_open

__all__ = ["data_range", "line_plot_svg", "nice_ticks", "render_line_plot", "to_pixels"]

#: Colours of the series, in order (a colour-blind-safe palette); the 9th series reuses the 1st.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")

#: Margins around the plot area, in pixels: room for the title, tick labels and axis labels.
MARGIN = {"left": 70, "right": 20, "top": 40, "bottom": 55}


def finite_points(xs, ys, name: str = "series") -> tuple[np.ndarray, np.ndarray]:
    """The ``(x, y)`` pairs of one series as two float64 arrays, without the pairs where x or y
    is NaN or infinite. ``xs`` and ``ys`` are sequences, NumPy arrays or minilm Tensors of equal
    length."""
    x, y = _values(xs, f"{name}: xs"), _values(ys, f"{name}: ys")
    if x.shape != y.shape:
        raise ValueError(f"line_plot_svg: series {name!r} has {x.size} x values but {y.size} y values")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _values(values, what: str) -> np.ndarray:
    """``values`` as a 1-d float64 array (lists, tuples, ranges, NumPy arrays, minilm Tensors)."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    try:
        array = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"line_plot_svg: {what} must be a sequence of numbers ({e})") from None
    if array.ndim != 1:
        raise ValueError(f"line_plot_svg: {what} must be one-dimensional, got shape {array.shape}")
    return array


def data_range(values: np.ndarray) -> tuple[float, float]:
    """``(lo, hi)``: the smallest and largest of ``values``. An axis needs ``lo < hi`` to divide by
    ``hi - lo``, so a single value ``v`` gets the range ``v - d .. v + d`` with ``d = |v|/10`` (or 1
    for ``v = 0``), and no values at all get ``0 .. 1``."""
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        d = abs(lo) / 10 or 1.0
        return lo - d, hi + d
    return lo, hi


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` tick values inside ``[lo, hi]``, at multiples of a "nice" step.

    The raw step ``(hi - lo) / count`` is rounded UP to 1, 2 or 5 times a power of ten (0.37 ->
    0.5, 140 -> 200), and the ticks are the multiples of that step between ``lo`` and ``hi``."""
    raw = (hi - lo) / max(1, count)
    exponent = math.floor(math.log10(raw))
    mantissa = next(m for m in (1, 2, 5, 10) if m * 10.0**exponent >= raw * (1 - 1e-9))
    step = mantissa * 10.0**exponent
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    # k * m / 10^-e, not k * step: dividing by an exact power of ten rounds once, so 3 * 0.2
    # comes out as 0.6 and not 0.6000000000000001 (which would be a long label)
    if exponent >= 0:
        return [float(k * mantissa * 10**exponent) for k in range(first, last + 1)]
    return [k * mantissa / 10 ** (-exponent) for k in range(first, last + 1)]


def to_pixels(v, lo: float, hi: float, start: float, end: float):
    """The linear map taking ``lo`` to pixel ``start`` and ``hi`` to pixel ``end`` (``end < start``
    for the y axis, which points down)."""
    return start + (np.asarray(v, dtype=np.float64) - lo) / (hi - lo) * (end - start)


def _label(v: float) -> str:
    """A tick value as short text: ``0.5``, ``1e-05``, ``2000``."""
    return f"{v:.6g}"


def render_line_plot(series: dict, title: str = "", xlabel: str = "", ylabel: str = "", width=640, height=400) -> str:
    """The SVG text of a line plot of ``series`` (``{name: (xs, ys)}``), all on the same axes;
    see the module docstring. Does not write anything (``line_plot_svg`` does)."""
    if not isinstance(series, dict):
        raise TypeError(f"line_plot_svg: series must be a dict {{name: (xs, ys)}}, got {type(series).__name__}")
    points = {}
    for name, pair in series.items():
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"line_plot_svg: series {name!r} must be a pair (xs, ys), got {type(pair).__name__}")
        points[str(name)] = finite_points(pair[0], pair[1], str(name))
    all_x = np.concatenate([p[0] for p in points.values()] or [np.zeros(0)])
    all_y = np.concatenate([p[1] for p in points.values()] or [np.zeros(0)])
    (x_lo, x_hi), (y_lo, y_hi) = data_range(all_x), data_range(all_y)
    left, right = MARGIN["left"], width - MARGIN["right"]
    top, bottom = MARGIN["top"], height - MARGIN["bottom"]

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text class="title" x="{width / 2:.2f}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
        f'<rect class="plot-area" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        'fill="none" stroke="#333"/>',
        _ticks(x_lo, x_hi, "x", left, right, top, bottom),
        _ticks(y_lo, y_hi, "y", bottom, top, left, right),
        f'<text class="xlabel" x="{(left + right) / 2:.2f}" y="{height - 12}" text-anchor="middle">'
        f"{escape(xlabel)}</text>",
        f'<text class="ylabel" x="16" y="{(top + bottom) / 2:.2f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + bottom) / 2:.2f})">{escape(ylabel)}</text>',
    ]
    for k, (name, (x, y)) in enumerate(points.items()):
        px, py = to_pixels(x, x_lo, x_hi, left, right), to_pixels(y, y_lo, y_hi, bottom, top)
        coords = " ".join(f"{a:.2f},{b:.2f}" for a, b in zip(px, py, strict=True))
        out.append(
            f'<polyline class="series" data-name={quoteattr(name)} points="{coords}" fill="none" '
            f'stroke="{COLORS[k % len(COLORS)]}" stroke-width="1.5"/>'
        )
    out.append(_legend(list(points), right))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _ticks(lo: float, hi: float, axis: str, start: float, end: float, across_lo: float, across_hi: float) -> str:
    """The ticks of one axis with their labels and faint grid lines, as an SVG group. For the x
    axis ``start..end`` are the left and right pixels and ``across_*`` the top and bottom; for the
    y axis it is the other way round."""
    parts = [f'<g class="{axis}-ticks">']
    for v in nice_ticks(lo, hi):
        p = float(to_pixels(v, lo, hi, start, end))
        if axis == "x":
            parts.append(f'<line x1="{p:.2f}" y1="{across_lo}" x2="{p:.2f}" y2="{across_hi}" stroke="#eee"/>')
            parts.append(f'<line x1="{p:.2f}" y1="{across_hi}" x2="{p:.2f}" y2="{across_hi + 5}" stroke="#333"/>')
            parts.append(f'<text x="{p:.2f}" y="{across_hi + 18}" text-anchor="middle">{_label(v)}</text>')
        else:
            parts.append(f'<line x1="{across_lo}" y1="{p:.2f}" x2="{across_hi}" y2="{p:.2f}" stroke="#eee"/>')
            parts.append(f'<line x1="{across_lo - 5}" y1="{p:.2f}" x2="{across_lo}" y2="{p:.2f}" stroke="#333"/>')
            parts.append(f'<text x="{across_lo - 8}" y="{p + 4:.2f}" text-anchor="end">{_label(v)}</text>')
    parts.append("</g>")
    return "\n".join(parts)


def _legend(names: list, right: float) -> str:
    """One short line in the series' colour and its name per series, in the top right corner."""
    parts = ['<g class="legend">']
    for k, name in enumerate(names):
        y = MARGIN["top"] + 16 + 18 * k
        color = COLORS[k % len(COLORS)]
        parts.append(f'<line x1="{right - 120}" y1="{y - 4}" x2="{right - 100}" y2="{y - 4}" stroke="{color}"/>')
        parts.append(f'<text x="{right - 94}" y="{y}">{escape(name)}</text>')
    parts.append("</g>")
    return "\n".join(parts)


def line_plot_svg(series: dict, path, title: str = "", xlabel: str = "", ylabel: str = "") -> str:
    """Draw ``series`` (``{name: (xs, ys)}``) as lines on one pair of axes, with ticks, axis labels
    and a legend, and write the SVG to ``path`` atomically (a temporary file renamed over it: a
    crash leaves the old file, never half a new one). Returns the SVG text, which Jupyter shows
    with ``IPython.display.SVG(text)``. NaN and infinite points are left out."""
    text = render_line_plot(series, title, xlabel, ylabel)
    with atomic_open(path, "line_plot_svg") as f:
        f.write(text.encode("utf-8"))
    return text
