"""Leaderboard pictures as plain SVG and HTML: ratings with CI bars, a win-rate heatmap.

Hand-written markup instead of a plotting library: nothing to install, nothing
fetched from a CDN, it renders instantly, scales to a phone's width, and a
screen reader gets the same numbers as text.
"""

from __future__ import annotations

import math
from html import escape

ROW_HEIGHT = 28
LABEL_WIDTH = 120
PLOT_WIDTH = 260
RIGHT_MARGIN = 20


def rating_chart(rows: list[dict]) -> str:
    """Each model's rating as a dot on its 95% confidence interval, best first."""
    if not rows:
        return ""
    low = min(row["ci_low"] for row in rows)
    high = max(row["ci_high"] for row in rows)
    step = _nice_step(high - low)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    if high == low:
        high = low + step
    width = LABEL_WIDTH + PLOT_WIDTH + RIGHT_MARGIN
    height = ROW_HEIGHT * len(rows) + 36

    def x(value: float) -> float:
        return LABEL_WIDTH + (value - low) / (high - low) * PLOT_WIDTH

    parts = [
        f'<svg class="arena-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="arena-chart-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="arena-chart-title">Ratings with 95% confidence intervals</title>',
    ]
    tick = low
    while tick <= high + 1e-9:
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="4" y2="{height - 24}" class="arena-grid"/>'
            f'<text x="{x(tick):.1f}" y="{height - 8}" text-anchor="middle" class="arena-tick">{tick:g}</text>'
        )
        tick += step
    for i, row in enumerate(rows):
        y = 4 + ROW_HEIGHT * i + ROW_HEIGHT / 2
        name = escape(str(row["model"]))
        parts.append(
            f"<g><title>{name}: {row['rating']:.0f} (95% CI {row['ci_low']:.0f} to {row['ci_high']:.0f})</title>"
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 4:.1f}" text-anchor="end" class="arena-label">{name}</text>'
            f'<line x1="{x(row["ci_low"]):.1f}" x2="{x(row["ci_high"]):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'class="arena-ci"/>'
            f'<circle cx="{x(row["rating"]):.1f}" cy="{y:.1f}" r="5" class="arena-dot"/></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def win_rate_heatmap(matrix: dict[str, dict[str, float]], order: list[str]) -> str:
    """How often the row model beat the column model (ties count half), as a coloured table."""
    if not matrix:
        return ""
    header = "".join(f'<th scope="col">{escape(name)}</th>' for name in order)
    body = []
    for row in order:
        cells = []
        for column in order:
            value = matrix.get(row, {}).get(column)
            if row == column or value is None:
                cells.append('<td class="arena-heat-empty">–</td>')
            else:
                cells.append(f'<td style="background:{_heat(value)}">{value:.2f}</td>')
        body.append(f'<tr><th scope="row">{escape(row)}</th>{"".join(cells)}</tr>')
    return (
        '<div class="arena-table-wrap" tabindex="0" role="region" aria-label="Win-rate heatmap">'
        '<table class="arena-heatmap"><caption>Win rate of the row model against the column model '
        "(ties count half)</caption>"
        f'<thead><tr><th scope="col">vs</th>{header}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


def _heat(p: float) -> str:
    """Light blue for wins, light orange for losses: dark text stays readable on every cell."""
    strength = min(abs(p - 0.5) * 2, 1.0)
    hue = 210 if p >= 0.5 else 25
    return f"hsl({hue} 80% {96 - 26 * strength:.0f}%)"


def _nice_step(span: float) -> float:
    """A round tick step giving about five ticks over the span."""
    if span <= 0:
        return 10.0
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude
