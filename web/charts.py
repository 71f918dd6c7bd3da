"""Server-side SVG charts built from Decimal amounts (no float, no JavaScript): bar
lengths are computed in Decimal and written with one decimal place. Colours come from
classes styled in web/static/web/web.css; every bar carries its amount as text, so the
chart reads without colour and is searchable in the page."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
LABEL_W = 230  # the category labels on the left
VALUE_W = 130  # room for the amount text right of the longest bar
BAR_H = 16
GAP = 6
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal]


@dataclass(frozen=True)
class Chart:
    """A chart and the figures it draws: the page shows the SVG and, under it, the same
    figures as a table (for screen readers and for copying)."""

    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    chart_id: str = ""
    unit: str = "元"

    @property
    def svg(self) -> SafeString:
        return bar_chart(title=self.title, labels=self.labels, series=self.series,
                         unit=self.unit, chart_id=self.chart_id)

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        return [(label, [_money(s.values[i]) for s in self.series])
                for i, label in enumerate(self.labels)]


def _len(value: Decimal, top: Decimal, span: int) -> Decimal:
    if top <= 0 or value <= 0:
        return Decimal("0.0")
    return (value * span / top).quantize(TENTH, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def bar_chart(*, title: str, labels: Sequence[str], series: Sequence[Series],
              unit: str = "元", chart_id: str = "") -> SafeString:
    """Horizontal bars, one group per label and one bar per series (two series: budget
    vs final). Returns an <svg> element with a <title> for screen readers."""
    span = WIDTH - LABEL_W - VALUE_W
    top = max((v for s in series for v in s.values), default=Decimal("0"))
    group_h = len(series) * (BAR_H + 2) + GAP
    legend_h = 22 if len(series) > 1 else 0
    height = 30 + legend_h + max(len(labels), 1) * group_h + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
           f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
           + (f' id="{escape(chart_id)}"' if chart_id else "")
           + f' aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>",
           f'<text class="chart-title" x="0" y="18">{escape(title)} ({escape(unit)})</text>']
    y = 30
    if len(series) > 1:
        x = LABEL_W
        for n, s in enumerate(series):
            out.append(f'<rect class="bar s{n}" x="{x}" y="{y}" width="12" height="12"/>'
                       f'<text class="legend" x="{x + 16}" y="{y + 11}">{escape(s.name)}</text>')
            x += 20 + 14 * len(s.name) + 20
        y += legend_h
    if not labels:
        out.append(f'<text class="empty" x="{LABEL_W}" y="{y + 14}">—</text>')
    for i, label in enumerate(labels):
        out.append(f'<text class="label" x="{LABEL_W - 8}" y="{y + BAR_H - 3}" '
                   f'text-anchor="end">{escape(label)}</text>')
        for n, s in enumerate(series):
            value = s.values[i]
            w = _len(value, top, span)
            by = y + n * (BAR_H + 2)
            out.append(f'<g class="bar-row"><title>{escape(label)} · {escape(s.name)}: '
                       f'{_money(value)}</title>'
                       f'<rect class="bar s{n}" x="{LABEL_W}" y="{by}" width="{w}" '
                       f'height="{BAR_H}"/>'
                       f'<text class="value" x="{LABEL_W + w + 4}" y="{by + BAR_H - 3}">'
                       f"{_money(value)}</text></g>")
        y += group_h
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped
