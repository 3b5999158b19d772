"""plotting.py: SVG line plots without a plotting library. The SVG is parsed back with
xml.etree and the polylines checked against the data they were drawn from."""

import math
import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minilm
from minilm.plotting import data_range, line_plot_svg, nice_ticks, render_line_plot

SVG = "{http://www.w3.org/2000/svg}"


def parse(text):
    return ET.fromstring(text)


def plot_area(root):
    """(left, top, right, bottom) of the plot area, in pixels."""
    rect = next(r for r in root.iter(f"{SVG}rect") if r.get("class") == "plot-area")
    x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def polylines(root):
    """{series name: (N, 2) array of pixel points}."""
    out = {}
    for line in root.iter(f"{SVG}polyline"):
        pairs = [p.split(",") for p in line.get("points").split()]
        out[line.get("data-name")] = np.array(pairs, dtype=float).reshape(-1, 2)
    return out


def texts(root, cls=None):
    return [t.text or "" for t in root.iter(f"{SVG}text") if cls is None or t.get("class") == cls]


def expected_pixels(xs, ys, area, x_range, y_range):
    left, top, right, bottom = area
    px = left + (np.asarray(xs) - x_range[0]) / (x_range[1] - x_range[0]) * (right - left)
    py = bottom - (np.asarray(ys) - y_range[0]) / (y_range[1] - y_range[0]) * (bottom - top)
    return np.stack([px, py], axis=1)


def test_points_map_the_data_range_onto_the_axes():
    xs, ys = [10, 20, 30, 40], [3.0, 1.0, 2.0, 0.5]
    root = parse(render_line_plot({"train": (xs, ys)}, title="T", xlabel="X", ylabel="Y"))
    left, top, right, bottom = area = plot_area(root)
    pts = polylines(root)["train"]
    assert pts.shape == (4, 2)
    # smallest x on the left edge, largest on the right; largest y at the top, smallest at the bottom
    assert pts[0, 0] == pytest.approx(left, abs=0.01) and pts[-1, 0] == pytest.approx(right, abs=0.01)
    assert pts[0, 1] == pytest.approx(top, abs=0.01) and pts[3, 1] == pytest.approx(bottom, abs=0.01)
    np.testing.assert_allclose(pts, expected_pixels(xs, ys, area, (10, 40), (0.5, 3.0)), atol=0.01)


@given(
    st.lists(
        st.tuples(st.floats(-1e3, 1e3, allow_nan=False), st.floats(-1e3, 1e3, allow_nan=False)),
        min_size=2,
        max_size=20,
    ).filter(lambda p: len({x for x, _ in p}) > 1 and len({y for _, y in p}) > 1)
)
def test_two_series_share_the_axes(pairs):
    """Any data: both series are drawn with the range of ALL points, every point inside the area."""
    half = len(pairs) // 2 or 1
    a, b = pairs[:half], pairs[half:] or pairs[:1]
    series = {"a": ([p[0] for p in a], [p[1] for p in a]), "b": ([p[0] for p in b], [p[1] for p in b])}
    root = parse(render_line_plot(series))
    area = plot_area(root)
    xr = (min(p[0] for p in pairs), max(p[0] for p in pairs))
    yr = (min(p[1] for p in pairs), max(p[1] for p in pairs))
    lines = polylines(root)
    for name, (x, y) in series.items():
        want = expected_pixels(x, y, area, xr, yr)
        np.testing.assert_allclose(lines[name], want, atol=0.011)
        assert (lines[name][:, 0] >= area[0] - 0.01).all() and (lines[name][:, 0] <= area[2] + 0.01).all()
        assert (lines[name][:, 1] >= area[1] - 0.01).all() and (lines[name][:, 1] <= area[3] + 0.01).all()


def test_nan_and_inf_points_are_left_out():
    xs = [1, 2, 3, 4, 5, 6]
    ys = [4.0, math.nan, 2.0, math.inf, 1.0, -math.inf]
    root = parse(render_line_plot({"loss": (np.array(xs), minilm.tensor(ys))}))
    area = plot_area(root)
    pts = polylines(root)["loss"]
    np.testing.assert_allclose(pts, expected_pixels([1, 3, 5], [4.0, 2.0, 1.0], area, (1, 5), (1.0, 4.0)), atol=0.01)
    assert "nan" not in render_line_plot({"loss": (xs, ys)}).lower()


def test_labels_title_and_legend_are_present_and_escaped():
    text = render_line_plot(
        {"train <loss>": ([0, 1], [1, 0]), "eval & co": ([0, 1], [2, 1])},
        title="loss of a run",
        xlabel="optimizer step",
        ylabel="cross-entropy (nats)",
    )
    root = parse(text)  # would fail on an unescaped "<" or "&"
    assert texts(root, "title") == ["loss of a run"]
    assert texts(root, "xlabel") == ["optimizer step"] and texts(root, "ylabel") == ["cross-entropy (nats)"]
    assert {"train <loss>", "eval & co"} <= set(texts(root))
    assert set(polylines(root)) == {"train <loss>", "eval & co"}
    colors = {line.get("stroke") for line in root.iter(f"{SVG}polyline")}
    assert len(colors) == 2  # each series its own colour


def test_tick_labels_are_nice_numbers_inside_the_range():
    root = parse(render_line_plot({"s": ([0, 1000], [0.013, 0.987])}))
    groups = {g.get("class"): g for g in root.iter(f"{SVG}g")}
    x_labels = [float(t.text) for t in groups["x-ticks"].iter(f"{SVG}text")]
    y_labels = [float(t.text) for t in groups["y-ticks"].iter(f"{SVG}text")]
    assert x_labels == [0, 200, 400, 600, 800, 1000]
    assert y_labels == pytest.approx([0.2, 0.4, 0.6, 0.8])


@pytest.mark.parametrize(
    "lo, hi, want",
    [(0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (3, 97, [20, 40, 60, 80]), (-0.35, 0.12, [-0.3, -0.2, -0.1, 0, 0.1])],
)
def test_nice_ticks(lo, hi, want):
    assert nice_ticks(lo, hi) == pytest.approx(want)


@given(st.floats(-1e6, 1e6), st.floats(1e-6, 1e6))
def test_nice_ticks_lie_inside_and_are_evenly_spaced(lo, width):
    hi = lo + width
    ticks = nice_ticks(lo, hi)
    slack = 1e-9 * width + 1e-15 * max(abs(lo), abs(hi))  # float64 resolution at the range's magnitude
    assert ticks and all(lo - slack <= t <= hi + slack for t in ticks)
    steps = np.diff(ticks)
    if len(steps):
        np.testing.assert_allclose(steps, steps[0], rtol=1e-6, atol=1e-15 * max(abs(lo), abs(hi)))
        mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
        tolerance = 1e-6 + 1e-14 * max(abs(lo), abs(hi)) / steps[0]
        assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < tolerance


def test_a_flat_or_empty_series_still_gets_axes():
    assert data_range(np.array([2.0, 2.0])) == (1.8, 2.2)
    assert data_range(np.array([0.0])) == (-1.0, 1.0)
    root = parse(render_line_plot({"flat": ([1, 2, 3], [2.0, 2.0, 2.0]), "none": ([], [])}))
    left, top, right, bottom = plot_area(root)
    pts = polylines(root)["flat"]
    np.testing.assert_allclose(pts[:, 1], (top + bottom) / 2, atol=0.01)  # in the middle of the range
    assert len(polylines(root)["none"]) == 0


def test_bad_series_are_refused_with_their_name():
    with pytest.raises(ValueError, match="series 'a' has 3 x values but 2 y values"):
        render_line_plot({"a": ([1, 2, 3], [1, 2])})
    with pytest.raises(TypeError, match="series 'b' must be a pair"):
        render_line_plot({"b": [1, 2, 3]})
    with pytest.raises(TypeError, match="must be a dict"):
        render_line_plot([([1], [2])])


def test_line_plot_svg_writes_the_file_atomically(tmp_path, monkeypatch):
    path = tmp_path / "loss.svg"
    text = line_plot_svg({"train": ([1, 2], [1.0, 0.5])}, path, title="first")
    assert path.read_text(encoding="utf-8") == text and texts(parse(text), "title") == ["first"]

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        line_plot_svg({"train": ([1, 2], [1.0, 0.2])}, path, title="second")
    assert path.read_text(encoding="utf-8") == text  # the old plot is intact
    assert os.listdir(tmp_path) == ["loss.svg"]  # and no temporary file is left behind
