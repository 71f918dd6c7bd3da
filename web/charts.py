"""Server-side SVG charts built from Decimal amounts (no float, no JavaScript): bar
lengths are computed in Decimal and written with one decimal place. Colours come from
classes styled in web/static/web/web.css; every bar carries its amount as text, so the
chart reads without colour and is searchable in the page.

Readable at any size of the city: amounts are given in 元 and drawn in 万元 on a scale
with round ticks (never "1e7"); only the largest `top` categories get a bar, the rest
are summed into one "其他" bar (a 72-department chart is unreadable); labels are cut to
the room they have, the whole label and the exact amount in 元 stay in each bar's
tooltip and in the table of figures under the chart."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

WIDTH = 740
LABEL_W = 260  # the category labels on the left
VALUE_W = 110  # room for the amount text right of the longest bar
BAR_H = 16
GAP = 6
AXIS_H = 18  # the scale's tick labels above the bars
TENTH = Decimal("0.1")
CENT = Decimal("0.01")
WAN = Decimal("10000")
TOP = 10  # categories drawn as bars before the rest is folded into 其他
MONEY, PERCENT = "money", "percent"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Decimal]


@dataclass(frozen=True)
class Chart:
    """A chart and the figures it draws: the page shows the SVG and, under it, the same
    figures as a table (for screen readers and for copying), every category there.

    `kind` MONEY: values in 元, drawn in 万元; PERCENT: values are rates (0.1234 is
    12.34 %). `top`: bars drawn, the rest summed into 其他 (0: every category)."""

    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    chart_id: str = ""
    kind: str = MONEY
    top: int = TOP
    # a reference line (e.g. 序时进度, the share of the year elapsed) and a mark per
    # label ("" or a class suffix such as "yellow"/"red", with its words in `mark_names`)
    marker: Decimal | None = None
    marker_label: str = ""
    marks: Sequence[str] = ()
    mark_names: dict[str, str] | None = None

    @property
    def svg(self) -> SafeString:
        labels, series = (fold(self.labels, self.series, top=self.top)
                          if self.kind == MONEY else (self.labels, self.series))
        return bar_chart(title=self.title, labels=labels, series=series, kind=self.kind,
                         chart_id=self.chart_id, marker=self.marker,
                         marker_label=self.marker_label, marks=self.marks,
                         mark_names=self.mark_names)

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        fmt = _percent if self.kind == PERCENT else _money
        return [(label, [fmt(s.values[i]) for s in self.series])
                for i, label in enumerate(self.labels)]


def to_wan(yuan: Decimal) -> Decimal:
    """元 → 万元 with 2 places (ROUND_HALF_UP, display only)."""
    return (Decimal(yuan) / WAN).quantize(CENT, rounding=ROUND_HALF_UP)


def fold(labels: Sequence[str], series: Sequence[Series], *,
         top: int = TOP) -> tuple[list[str], list[Series]]:
    """The `top` largest categories (by their largest value over the series), largest
    first, and one "其他（N 项）" category summing the rest. Unchanged when at most one
    category would be folded (a bar named 其他 for a single category says less)."""
    labels = list(labels)
    if top <= 0 or len(labels) <= top + 1:
        return labels, list(series)
    size = [max((s.values[i] for s in series), default=Decimal("0"))
            for i in range(len(labels))]
    order = sorted(range(len(labels)), key=lambda i: (-size[i], i))
    kept, rest = order[:top], order[top:]
    other = ngettext("Other (%(n)d item)", "Other (%(n)d items)", len(rest)) % {"n": len(rest)}
    return ([labels[i] for i in kept] + [other],
            [Series(s.name, [s.values[i] for i in kept]
                    + [sum((s.values[i] for i in rest), Decimal("0"))]) for s in series])


def _len(value: Decimal, top: Decimal, span: int) -> Decimal:
    if top <= 0 or value <= 0:
        return Decimal("0.0")
    return (value * span / top).quantize(TENTH, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _percent(value: Decimal) -> str:
    return f"{(Decimal(value) * 100).quantize(CENT, rounding=ROUND_HALF_UP)}%"


def _nice_step(top: Decimal, ticks: int = 4) -> Decimal:
    """A round step (1, 2, 2.5 or 5 × 10^k) giving about `ticks` intervals up to `top`."""
    if top <= 0:
        return Decimal("1")
    raw = top / ticks
    exponent = raw.adjusted()
    base = Decimal(1).scaleb(exponent)
    for m in (Decimal("1"), Decimal("2"), Decimal("2.5"), Decimal("5"), Decimal("10")):
        if base * m >= raw:
            return base * m
    return base * 10  # pragma: no cover - the loop ends at 10


def _tick_text(value: Decimal, kind: str) -> str:
    if kind == PERCENT:
        return f"{(value * 100).normalize():f}%"
    return f"{value.normalize():,f}"


def _width(text: str) -> int:
    """Pixels of a label at 12 px, on the safe side: CJK characters are about 13 px
    wide in the fallback fonts, digits and Latin letters up to 8 px."""
    return sum(13 if ord(ch) > 0x2E80 else 8 for ch in text)


def _fit(text: str, room: int) -> str:
    if _width(text) <= room:
        return text
    out = ""
    for ch in text:
        if _width(out + ch + "…") > room:
            break
        out += ch
    return out + "…"


def bar_chart(*, title: str, labels: Sequence[str], series: Sequence[Series],
              kind: str = MONEY, chart_id: str = "", marker: Decimal | None = None,
              marker_label: str = "", marks: Sequence[str] = (),
              mark_names: dict[str, str] | None = None) -> SafeString:
    """Horizontal bars, one group per label and one bar per series (two series: budget
    vs final), on a scale with round ticks. Returns an <svg> element with a <title> for
    screen readers; each bar's tooltip has the whole label and the exact figure.
    `marker`: a vertical reference line at that value, labelled; `marks`: per label, a
    class `mark-<m>` on its bars and the words `mark_names[m]` after its figure."""
    percent = kind == PERCENT
    shown = [[v if percent else to_wan(v) for v in s.values] for s in series]
    unit = "%" if percent else _("10,000 yuan")
    span = WIDTH - LABEL_W - VALUE_W
    peak = max((v for vs in shown for v in vs), default=Decimal("0"))
    if marker is not None:
        marker = marker if percent else to_wan(marker)
        peak = max(peak, marker)
    step = _nice_step(peak)
    scale_top = (peak / step).to_integral_value(rounding=ROUND_CEILING) * step if peak > 0 \
        else step
    group_h = len(series) * (BAR_H + 2) + GAP
    legend_h = 22 if len(series) > 1 else 0
    height = 30 + legend_h + AXIS_H + max(len(labels), 1) * group_h + 10
    marker_h = 16 if marker is not None else 0
    height += marker_h
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
            x += 20 + _width(s.name) + 20
        y += legend_h
    bars_top, bars_bottom = y + AXIS_H, y + AXIS_H + max(len(labels), 1) * group_h
    tick = Decimal("0")
    while tick <= scale_top:
        x = LABEL_W + _len(tick, scale_top, span) if tick else Decimal(LABEL_W)
        out.append(f'<line class="grid" x1="{x}" y1="{bars_top - 4}" x2="{x}" '
                   f'y2="{bars_bottom - GAP}" stroke="#d0d7de" stroke-width="1"/>'
                   f'<text class="tick" x="{x}" y="{y + 10}" text-anchor="middle" '
                   f'font-size="10" fill="#555">'
                   f"{escape(_tick_text(tick, kind))}</text>")
        tick += step
    y = bars_top
    if not labels:
        out.append(f'<text class="empty" x="{LABEL_W}" y="{y + 14}">—</text>')
    for i, label in enumerate(labels):
        out.append(f'<text class="label" x="{LABEL_W - 8}" y="{y + BAR_H - 3}" '
                   f'text-anchor="end">{escape(_fit(label, LABEL_W - 12))}</text>')
        for n, s in enumerate(series):
            value, drawn = s.values[i], shown[n][i]
            exact = _percent(value) if percent else _money(value)  # in 元, as in the table
            text = _percent(value) if percent else _money(drawn)
            mark = marks[i] if i < len(marks) else ""
            if mark:
                text += f" {(mark_names or {}).get(mark, mark)}"
            w = _len(drawn, scale_top, span)
            by = y + n * (BAR_H + 2)
            out.append(f'<g class="bar-row"><title>{escape(label)} · {escape(s.name)}: '
                       f'{escape(exact)}</title>'
                       f'<rect class="bar s{n}{f" mark-{escape(mark)}" if mark else ""}" '
                       f'x="{LABEL_W}" y="{by}" width="{w}" '
                       f'height="{BAR_H}"/>'
                       f'<text class="value" x="{LABEL_W + w + 4}" y="{by + BAR_H - 3}">'
                       f"{escape(text)}</text></g>")
        y += group_h
    if marker is not None:
        x = LABEL_W + _len(marker, scale_top, span)
        out.append(f'<line class="marker" x1="{x}" y1="{bars_top - 4}" x2="{x}" '
                   f'y2="{bars_bottom - GAP + 4}" stroke="#222" stroke-width="2" '
                   f'stroke-dasharray="5 3"/>'
                   f'<text class="marker-label" x="{x}" y="{bars_bottom - GAP + 16}" '
                   f'text-anchor="middle" font-size="11" fill="#222">'
                   f"{escape(marker_label)} {escape(_tick_text(marker, kind) if not percent else _percent(marker))}</text>")
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped
