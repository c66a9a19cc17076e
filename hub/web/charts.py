"""Bar charts drawn on the server as SVG geometry: the pages run no JavaScript (their
Content-Security-Policy allows none), so a chart is rectangles and text whose positions are
worked out here, and the template writes them out. A suppressed value has no bar: it is marked
``[c]`` at the foot of its place, so a reader never mistakes it for zero.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 720
HEIGHT = 240
MARGIN_LEFT = 56
MARGIN_BOTTOM = 48
MARGIN_TOP = 12


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None
    x: float
    y: float
    width: float
    height: float
    label_x: float
    show_label: bool


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    base: float = HEIGHT - MARGIN_BOTTOM


def _nice_top(top: int) -> int:
    """A round number at or above ``top`` for the axis."""
    if top <= 0:
        return 10
    step = 10 ** (len(str(top)) - 1)
    for multiple in (1, 2, 2.5, 5, 10):
        if top <= multiple * step:
            return int(multiple * step)
    return top


def bar_chart(title: str, labels: list[str], values: list[int | None]) -> BarChart:
    """Bars for ``values`` (None: suppressed) labelled by ``labels``; at most about 16 labels
    are written under the axis so they stay legible."""
    top = _nice_top(max((v for v in values if v is not None), default=0))
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    base = HEIGHT - MARGIN_BOTTOM
    n = max(len(values), 1)
    slot = (WIDTH - MARGIN_LEFT - 8) / n
    every = max(1, round(n / 16))
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = 0.0 if value is None else plot_height * value / top
        x = MARGIN_LEFT + i * slot + slot * 0.1
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(x, 1),
                y=round(base - height, 1),
                width=round(slot * 0.8, 1),
                height=round(height, 1),
                label_x=round(x + slot * 0.4, 1),
                show_label=i % every == 0,
            )
        )
    ticks = tuple(Tick(round(top * k / 4), round(base - plot_height * k / 4, 1)) for k in range(5))
    return BarChart(title, tuple(bars), ticks)
