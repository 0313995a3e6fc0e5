"""SVG geometry for the portfolio dashboard, from numbers only (no text of the accounts, no
markup): the template draws what these functions place.

Pure and deterministic: every coordinate is rounded to 0.1 of a view-box unit, so the same
numbers give the same bytes. The charts:

* curve()    a cumulative curve over accounts ranked largest first (ranked_curve(): one whose
             running total the portfolio metrics already computed) — the Pareto curve (share
             of revenue against share of accounts) and the whale curve (cumulative profit,
             which rises above the total and falls back when some accounts lose money).
             At most MAX_POINTS points are kept (a 20,000-account book stays a few kB); the
             kept points are a subset of the exact curve, always with both ends and the peak,
             so a monotone curve stays monotone and the peak is exact.
* scatter()  accounts on current × potential value, with the 2×2 policy quadrants split at
             the rulebook's thresholds; accounts with the same scores are one dot whose area
             grows with their number (no random jitter: the bytes must not change).
* fit_label() a quadrant's label sized (and wrapped) to stay inside its quadrant, never
             across the divider; a label that cannot fit at the smallest size is left out
             (the legend under the chart names every quadrant).
* pyramid()  the value pyramid's bands, top tier first.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Mapping, Sequence

MAX_POINTS = 400
FONT_MAX = 11.0  # view-box units
FONT_MIN = 7.0
LINE = 1.25  # line height, in font sizes
PAD = 4.0  # between a label and its quadrant's edges


def r(v: float) -> float:
    """Coordinates to 0.1: short, stable text (and -0.0 written as 0.0)."""
    return round(v, 1) + 0.0


# --------------------------------------------------------------------------- frames

@dataclass(frozen=True)
class Box:
    """The plot area inside a view box: data is drawn between x..x+w and y..y+h."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class Tick:
    at: float  # view-box coordinate along its axis
    value: float  # data value (the template formats it)


@dataclass(frozen=True)
class Point:
    x: float
    y: float


def _scale(v: float, lo: float, hi: float, start: float, length: float) -> float:
    return start + (v - lo) / (hi - lo) * length if hi > lo else start


# --------------------------------------------------------------------------- curves

@dataclass(frozen=True)
class Curve:
    width: float  # view box
    height: float
    box: Box
    points: tuple[Point, ...]
    polyline: str  # "x,y x,y …" for <polyline points=…>
    y_lo: float  # data range of the y axis
    y_hi: float
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]  # at 0, 20, …, 100 % of the accounts
    zero_y: float  # where y = 0 is drawn
    total_y: float  # where the last cumulative value (the total) is drawn
    peak: Point  # highest point of the curve
    peak_rank: int  # accounts up to the peak
    peak_value: float
    n: int  # accounts on the curve
    total: float


def cumulative(values: Sequence[float]) -> list[float]:
    """0, then the running sum of the values ranked largest first."""
    out = [0.0]
    for v in sorted(values, reverse=True):
        out.append(out[-1] + v)
    return out


def _nice_step(span: float, count: int = 4) -> float:
    raw = span / count if span > 0 else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw:
            return float(m * mag)
    return float(10 * mag)


def _sample(n: int, keep: Sequence[int]) -> list[int]:
    """At most MAX_POINTS indices of 0..n, evenly spread, always with the ones in `keep`."""
    if n + 1 <= MAX_POINTS:
        return list(range(n + 1))
    step = n / (MAX_POINTS - 1 - len(keep))
    chosen = {min(n, round(i * step)) for i in range(MAX_POINTS - len(keep))}
    return sorted(chosen | {0, n, *keep})


def curve(values: Sequence[float], *, share: bool, width: float = 360, height: float = 240) -> Curve | None:
    """The cumulative curve of `values` ranked largest first. With share=True the y axis is the
    share of the total (0..1: the Pareto curve, for a total > 0); otherwise the values
    themselves (the whale curve: money). None when there is nothing to draw."""
    if not values:
        return None
    cum = cumulative(values)
    total = cum[-1]
    if share:
        if total <= 0:
            return None
        cum = [c / total for c in cum]
    return ranked_curve(cum[1:], share=share, width=width, height=height, total=total)


def ranked_curve(running: Sequence[float], *, share: bool, peak_rank: int | None = None, width: float = 360,
                 height: float = 240, total: float | None = None) -> Curve | None:
    """The curve of a running total already computed (after each account, ranked): the
    portfolio metrics' Pareto (shares) and whale (money) curves, drawn as they are computed.
    `peak_rank`: where the metrics put the peak (default: the highest point, the origin included);
    `total`: the sum the shares are of (default: the curve's end)."""
    if not running:
        return None
    cum = [0.0, *running]
    total = cum[-1] if total is None else total
    n = len(running)
    lo, hi = min(0.0, *cum), max(*cum, 1.0 if share else 0.0)
    if hi <= lo:
        hi = lo + 1.0
    step = _nice_step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    box = Box(44, 10, width - 56, height - 40)
    peak_i = peak_rank if peak_rank is not None and 0 <= peak_rank <= n else \
        max(range(n + 1), key=lambda i: (cum[i], -i))
    idx = _sample(n, [peak_i])

    def at(i: int) -> Point:
        return Point(r(_scale(i, 0, n, box.x, box.w)), r(_scale(cum[i], lo, hi, box.bottom, -box.h)))

    points = tuple(at(i) for i in idx)
    y_ticks = tuple(Tick(r(_scale(v, lo, hi, box.bottom, -box.h)), round(v, 10))
                    for v in (lo + k * step for k in range(int(round((hi - lo) / step)) + 1)))
    x_ticks = tuple(Tick(r(box.x + box.w * k / 5), k / 5) for k in range(6))
    return Curve(width, height, box, points, " ".join(f"{p.x:g},{p.y:g}" for p in points), lo, hi, y_ticks,
                 x_ticks, r(_scale(0.0, lo, hi, box.bottom, -box.h)), r(_scale(cum[-1], lo, hi, box.bottom, -box.h)),
                 at(peak_i), peak_i, cum[peak_i], n, total)


# --------------------------------------------------------------------------- labels

def text_width(text: str, size: float) -> float:
    """A generous estimate of the drawn width: wide (CJK) characters one em, capitals 0.72,
    everything else 0.62 (system sans fonts average about 0.55 em)."""
    em = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.0
        elif unicodedata.combining(ch):
            continue
        else:
            em += 0.72 if ch.isupper() else 0.62
    return em * size


@dataclass(frozen=True)
class Label:
    lines: tuple[str, ...]
    size: float
    x: float  # centre
    y: float  # baseline of the first line
    box: Box  # the space the text takes, for checks


def _wrap(text: str, size: float, room: float) -> list[str] | None:
    """Greedy wrapping at spaces, or between any two wide characters; None when one piece is
    wider than the room on its own."""
    pieces: list[str] = []
    word = ""
    for ch in text:
        if ch == " ":
            if word:
                pieces.append(word)
            pieces.append(" ")
            word = ""
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            if word:
                pieces.append(word)
            pieces.append(ch)
            word = ""
        else:
            word += ch
    if word:
        pieces.append(word)
    if any(text_width(p.strip(), size) > room for p in pieces):
        return None
    lines: list[str] = []
    cur = ""
    for p in pieces:
        trial = cur + p
        if text_width(trial.strip(), size) <= room or not cur.strip():
            cur = trial
        else:
            lines.append(cur.strip())
            cur = "" if p == " " else p
    if cur.strip():
        lines.append(cur.strip())
    return lines


def fit_label(text: str, area: Box, *, top: bool) -> Label | None:
    """`text` inside `area` (a quadrant), against its outer edge (top of a top quadrant,
    bottom of a bottom one), centred. The largest size from FONT_MAX down to FONT_MIN at
    which it fits on at most three lines; None when it does not fit at all."""
    room_w, room_h = area.w - 2 * PAD, area.h - 2 * PAD
    text = " ".join(text.split())
    if not text or room_w <= 0 or room_h <= 0:
        return None
    size = FONT_MAX
    while size >= FONT_MIN:
        lines = _wrap(text, size, room_w)
        if lines is not None and len(lines) <= 3 and len(lines) * size * LINE <= room_h:
            height = len(lines) * size * LINE
            y0 = area.y + PAD if top else area.bottom - PAD - height
            width = max(text_width(s, size) for s in lines)
            cx = area.x + area.w / 2
            # the baseline sits at about 0.8 em below the line's top; descenders stay inside LINE
            return Label(tuple(lines), size, r(cx), r(y0 + size * 0.9),
                         Box(cx - width / 2, y0, width, height))
        size -= 0.5
    return None


# --------------------------------------------------------------------------- scatter

@dataclass(frozen=True)
class Quadrant:
    value: str  # the scorecard dimension's value
    pos: str  # tl | tr | bl | br
    area: Box
    label: Label | None
    count: int  # accounts in it (by their scores)


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    radius: float
    count: int
    cur: float  # the scores, for the tooltip
    pot: float


@dataclass(frozen=True)
class Scatter:
    width: float
    height: float
    box: Box
    split_x: float  # the dividers
    split_y: float
    quadrants: tuple[Quadrant, ...]
    dots: tuple[Dot, ...]
    ticks_x: tuple[Tick, ...]
    ticks_y: tuple[Tick, ...]
    placed: int  # accounts with both scores
    unplaced: int


def scatter(points: Sequence[tuple[float | None, float | None]], *, x_max: float, y_max: float,
            x_split: float | None, y_split: float | None, quadrants: Mapping[str, str],
            labels: Mapping[str, str], width: float = 360, height: float = 300) -> Scatter:
    """`points` are (current, potential) per account; `quadrants` maps a dimension value to its
    corner (tl/tr/bl/br), `labels` a value to its text. The splits default to half the range."""
    box = Box(36, 10, width - 46, height - 44)
    x_max = x_max if x_max > 0 else 100.0
    y_max = y_max if y_max > 0 else 100.0
    xs = min(max(x_split if x_split is not None else x_max / 2, 0.0), x_max)
    ys = min(max(y_split if y_split is not None else y_max / 2, 0.0), y_max)
    sx, sy = r(_scale(xs, 0, x_max, box.x, box.w)), r(_scale(ys, 0, y_max, box.bottom, -box.h))

    def corner(pos: str) -> Box:
        x0, x1 = (box.x, sx) if pos[1] == "l" else (sx, box.right)
        y0, y1 = (box.y, sy) if pos[0] == "t" else (sy, box.bottom)
        return Box(x0, y0, x1 - x0, y1 - y0)

    groups: dict[tuple[float, float], int] = {}
    unplaced = 0
    for cur, pot in points:
        if cur is None or pot is None or not (math.isfinite(cur) and math.isfinite(pot)):
            unplaced += 1
            continue
        key = (min(max(cur, 0.0), x_max), min(max(pot, 0.0), y_max))
        groups[key] = groups.get(key, 0) + 1

    def where(cur: float, pot: float) -> str:
        return ("t" if pot >= ys else "b") + ("r" if cur >= xs else "l")

    counts: dict[str, int] = {}
    for (cur, pot), k in groups.items():
        counts[where(cur, pot)] = counts.get(where(cur, pot), 0) + k
    quads = []
    for value, pos in sorted(quadrants.items(), key=lambda kv: ("tl", "tr", "bl", "br").index(kv[1])
                             if kv[1] in ("tl", "tr", "bl", "br") else 9):
        if pos not in ("tl", "tr", "bl", "br"):
            continue
        area = corner(pos)
        quads.append(Quadrant(value, pos, area, fit_label(labels.get(value, value), area, top=pos[0] == "t"),
                              counts.get(pos, 0)))
    biggest = max(groups.values(), default=1)
    dots = tuple(Dot(r(_scale(c, 0, x_max, box.x, box.w)), r(_scale(p, 0, y_max, box.bottom, -box.h)),
                     r(min(3.0 + 5.0 * math.sqrt((k - 1) / max(biggest - 1, 1)), 8.0)), k, c, p)
                 for (c, p), k in sorted(groups.items(), key=lambda g: (-g[1], g[0])))
    ticks_x = tuple(Tick(r(box.x + box.w * k / 4), x_max * k / 4) for k in range(5))
    ticks_y = tuple(Tick(r(box.bottom - box.h * k / 4), y_max * k / 4) for k in range(5))
    return Scatter(width, height, box, sx, sy, tuple(quads), dots, ticks_x, ticks_y,
                   sum(groups.values()), unplaced)


# --------------------------------------------------------------------------- pyramid

@dataclass(frozen=True)
class Band:
    polygon: str  # "x,y x,y x,y x,y" (a triangle's top band has two equal top points)
    left: float  # the band's left and right edges at its vertical middle
    right: float
    mid_y: float
    top: float
    bottom: float


def pyramid(n: int, *, width: float = 200, height: float = 200, gap: float = 2) -> tuple[Band, ...]:
    """`n` bands of equal height stacked into a triangle, top first."""
    if n <= 0:
        return ()
    cx, band = width / 2, (height - gap * (n - 1)) / n

    def half(y: float) -> float:  # the triangle's half width at depth y
        return width / 2 * y / height

    out = []
    for i in range(n):
        y0 = i * (band + gap)
        y1 = y0 + band
        pts = [(cx - half(y0), y0), (cx + half(y0), y0), (cx + half(y1), y1), (cx - half(y1), y1)]
        mid = (y0 + y1) / 2
        out.append(Band(" ".join(f"{r(x):g},{r(y):g}" for x, y in pts), r(cx - half(mid)), r(cx + half(mid)),
                        r(mid), r(y0), r(y1)))
    return tuple(out)


def heat_level(count: int, of: int, levels: int = 5) -> int:
    """0 for none, else 1..levels by the share of a tier's accounts that have the warning."""
    if count <= 0 or of <= 0:
        return 0
    return max(1, min(levels, math.ceil(count / of * levels)))
