"""The dashboard's chart geometry (kamrules/portfolio/charts.py): properties over any numbers,
and a few values worked by hand."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamrules.portfolio import charts
from kamrules.portfolio.charts import Box

money = st.floats(min_value=-1e9, max_value=1e10, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0, max_value=1e10, allow_nan=False, allow_infinity=False)
EPS = 0.051  # coordinates are rounded to 0.1


def inside(x: float, y: float, width: float, height: float) -> bool:
    return -EPS <= x <= width + EPS and -EPS <= y <= height + EPS


def within(b: Box, area: Box) -> bool:
    return (b.x >= area.x - EPS and b.y >= area.y - EPS and b.x + b.w <= area.x + area.w + EPS
            and b.y + b.h <= area.y + area.h + EPS)


def polyline(c: charts.Curve) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in c.polyline.split())]


@settings(max_examples=300, deadline=None)
@given(st.lists(positive, min_size=1, max_size=1500))
def test_the_pareto_curve_rises_from_the_corner_to_the_top_inside_the_view(values: list[float]) -> None:
    c = charts.curve(values, share=True)
    if sum(values) <= 0:
        assert c is None
        return
    assert c is not None
    pts = polyline(c)
    assert 2 <= len(pts) <= charts.MAX_POINTS
    assert all(inside(x, y, c.width, c.height) for x, y in pts)
    assert all(b[0] > a[0] for a, b in zip(pts, pts[1:])), "x strictly increases"
    assert all(b[1] <= a[1] + 1e-9 for a, b in zip(pts, pts[1:])), "cumulative share never falls (y grows upwards)"
    assert pts[0] == (c.box.x, c.zero_y) and pts[-1] == (round(c.box.right, 1), c.total_y)
    assert c.y_lo == 0 and c.y_hi == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(money, min_size=1, max_size=1500))
def test_the_whale_curve_peaks_at_its_highest_point_inside_the_view(values: list[float]) -> None:
    c = charts.curve(values, share=False)
    assert c is not None
    pts = polyline(c)
    assert all(inside(x, y, c.width, c.height) for x, y in pts)
    assert all(c.box.y - EPS <= y <= c.box.bottom + EPS for _, y in pts)
    cum = charts.cumulative(values)
    assert c.peak_value == max(cum) and cum[c.peak_rank] == c.peak_value
    assert (c.peak.x, c.peak.y) in pts, "the peak is always drawn"
    assert min(y for _, y in pts) == pytest.approx(c.peak.y, abs=EPS), "nothing is drawn above the peak"
    # rises while accounts make money, then falls: one peak
    assert c.peak_rank <= sum(1 for v in values if v > 0)
    assert all(cum[i] < c.peak_value for i in range(c.peak_rank)), "the first time the curve is highest"
    assert c.y_lo <= min(cum) and c.y_hi >= max(cum)


def test_a_whale_curve_by_hand() -> None:
    c = charts.curve([50.0, -30.0, 100.0, 10.0, -40.0], share=False)
    assert c is not None
    assert charts.cumulative([50.0, -30.0, 100.0, 10.0, -40.0]) == [0, 100, 150, 160, 130, 90]
    assert (c.peak_rank, c.peak_value, c.total, c.n) == (3, 160, 90, 5)


def test_a_curve_the_metrics_computed_is_drawn_as_computed() -> None:
    """ranked_curve draws the portfolio metrics' running totals (whale, concentration): the same
    geometry as curve() on the values, and the peak where the metrics put it — a book where every
    account loses money peaks after its first account, not at the origin."""
    from kamrules.portfolio import metrics

    values = [50.0, -30.0, 100.0, 10.0, -40.0]
    w = metrics.whale([(f"a{i}", v) for i, v in enumerate(values)])
    assert w is not None
    drawn = charts.ranked_curve(w.cumulative, share=False, peak_rank=w.peak_rank)
    assert drawn == charts.curve(values, share=False)
    losing = metrics.whale([("a", -1.0), ("b", -3.0)])
    assert losing is not None and losing.peak_rank == 1
    c = charts.ranked_curve(losing.cumulative, share=False, peak_rank=losing.peak_rank)
    assert c is not None and (c.peak_rank, c.peak_value) == (1, -1.0)
    assert charts.curve([-1.0, -3.0], share=False).peak_rank == 0  # type: ignore[union-attr]
    conc = metrics.concentration([("a", 60.0), ("b", 30.0), ("c", 10.0), ("d", 0.0)])
    assert conc is not None and conc.curve == pytest.approx((0.6, 0.9, 1.0))
    p = charts.ranked_curve(conc.curve, share=True, total=conc.total)
    assert p == charts.curve([60.0, 30.0, 10.0], share=True)


def test_no_pareto_curve_without_revenue() -> None:
    assert charts.curve([0.0, 0.0], share=True) is None and charts.curve([], share=True) is None


def test_a_large_book_keeps_few_points_and_its_ends() -> None:
    c = charts.curve([float(i % 97) for i in range(20_000)], share=True)
    assert c is not None and len(c.points) <= charts.MAX_POINTS
    assert c.points[0].x == c.box.x and c.points[-1].x == round(c.box.right, 1)


splits = st.one_of(st.none(), st.floats(min_value=-10, max_value=120, allow_nan=False))
scores = st.one_of(st.none(), st.floats(min_value=-20, max_value=130, allow_nan=False))
labels = st.text(min_size=0, max_size=40)
CORNERS = {"invest": "tr", "develop": "tl", "maintain": "br", "reduce_cost": "bl"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(scores, scores), max_size=200), splits, splits,
       st.fixed_dictionaries({k: labels for k in CORNERS}))
def test_scatter_dots_and_labels_stay_inside(points: list[tuple[float | None, float | None]], xs: float | None,
                                             ys: float | None, names: dict[str, str]) -> None:
    s = charts.scatter(points, x_max=100, y_max=100, x_split=xs, y_split=ys, quadrants=CORNERS, labels=names)
    assert s.placed + s.unplaced == len(points) and sum(d.count for d in s.dots) == s.placed
    assert sum(q.count for q in s.quadrants) == s.placed
    for d in s.dots:
        assert s.box.x - EPS <= d.x <= s.box.right + EPS and s.box.y - EPS <= d.y <= s.box.bottom + EPS
        assert 3 <= d.radius <= 8
    assert s.box.x - EPS <= s.split_x <= s.box.right + EPS and s.box.y - EPS <= s.split_y <= s.box.bottom + EPS
    for q in s.quadrants:
        # the four quadrants tile the plot, split at the dividers
        assert within(q.area, s.box)
        assert q.area.x == (s.box.x if q.pos[1] == "l" else s.split_x)
        assert q.area.y == (s.box.y if q.pos[0] == "t" else s.split_y)
        assert q.area.x + q.area.w == pytest.approx(s.split_x if q.pos[1] == "l" else s.box.right)
        assert q.area.y + q.area.h == pytest.approx(s.split_y if q.pos[0] == "t" else s.box.bottom)
        if q.label is not None:
            assert within(q.label.box, q.area), "a label never crosses a divider"
            assert charts.FONT_MIN <= q.label.size <= charts.FONT_MAX and 1 <= len(q.label.lines) <= 3
            assert "".join(q.label.lines).replace(" ", "") == "".join(names[q.value].split()).replace(" ", "")
            for line in q.label.lines:
                assert charts.text_width(line, q.label.size) <= q.area.w - 2 * charts.PAD + 1e-9


def test_labels_shrink_then_wrap_then_give_up() -> None:
    wide = Box(0, 0, 200, 100)
    assert charts.fit_label("Invest for growth", wide, top=True).lines == ("Invest for growth",)
    narrow = charts.fit_label("Reduce cost to serve", Box(0, 0, 60, 100), top=False)
    assert narrow is not None and len(narrow.lines) > 1
    assert charts.fit_label("降低服务成本", Box(0, 0, 40, 60), top=True) is not None  # CJK wraps anywhere
    assert charts.fit_label("Reduce cost to serve", Box(0, 0, 6, 100), top=True) is None
    assert charts.fit_label("x", Box(0, 0, 100, 5), top=True) is None


def test_identical_scores_are_one_dot_sized_by_count() -> None:
    s = charts.scatter([(80, 80)] * 5 + [(10, 10)], x_max=100, y_max=100, x_split=50, y_split=50,
                       quadrants=CORNERS, labels={})
    assert [(d.count, d.radius) for d in s.dots] == [(5, 8.0), (1, 3.0)]
    assert {q.value: q.count for q in s.quadrants} == {"invest": 5, "reduce_cost": 1, "develop": 0, "maintain": 0}


@given(st.integers(min_value=1, max_value=12))
def test_pyramid_bands_narrow_upwards_inside_the_view(n: int) -> None:
    bands = charts.pyramid(n, width=200, height=200)
    assert len(bands) == n
    for a, b in zip(bands, bands[1:]):
        assert a.bottom <= b.top and (a.right - a.left) < (b.right - b.left)
    for band in bands:
        for pt in band.polygon.split():
            x, y = map(float, pt.split(","))
            assert inside(x, y, 200, 200)


@pytest.mark.parametrize("count,of,level", [(0, 10, 0), (1, 10, 1), (10, 10, 5), (3, 10, 2), (5, 0, 0)])
def test_heat_levels(count: int, of: int, level: int) -> None:
    assert charts.heat_level(count, of) == level


def test_no_negative_zero_in_coordinates() -> None:
    assert str(charts.r(-0.01)) == "0.0" and not math.copysign(1, charts.r(-0.0)) < 0
