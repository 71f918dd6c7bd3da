"""Output formats of report tables: Excel (openpyxl: merged Chinese headers, #,##0.00,
frozen header, print setup), PDF (reportlab with the embedded WenQuanYi Micro Hei font,
so Chinese renders anywhere; charts as PNG), open data (the tables' CSV; the fiscal
CSV and datapackage.json are reports.opendata's) and charts (matplotlib, Agg backend)."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from reports.selectors import ExecutionReport
from reports.tables import Figure, Table, to_wan

CHART_TOP = 10  # bars in a chart before the rest is one 其他 bar

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT = "WQY"
NUMBER_FORMAT = "#,##0.00"


# ------------------------------------------------------------------ excel
def tables_xlsx(tables: Sequence[Table], *, title: str) -> bytes:
    """One sheet per table; amounts are numbers with format #,##0.00 (万元 or 元)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    # named cell styles, registered once: a cell then takes a style by name instead of
    # hashing a Font and a Border for every cell (the cost of a large table)
    for name, bold, fmt, align in (("sf_text", False, None, None), ("sf_total", True, None, None),
                                   ("sf_amount", False, NUMBER_FORMAT, None),
                                   ("sf_amount_total", True, NUMBER_FORMAT, None),
                                   ("sf_header", True, None, center)):
        style = NamedStyle(name=name, font=Font(bold=bold), border=border)
        if fmt:
            style.number_format = fmt
        if align:
            style.alignment = align
        wb.add_named_style(style)
    for t in tables:
        ws = wb.create_sheet(t.code)
        ncols = len(t.columns)
        ws.cell(1, 1, t.title).font = Font(bold=True, size=14)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
        ws.cell(1, 1).alignment = center
        ws.cell(2, 1, t.subtitle or title)
        ws.cell(2, ncols, t.unit_label).alignment = Alignment(horizontal="right")
        row0 = 3
        taken: set[tuple[int, int]] = set()
        for i, header_row in enumerate(t.header):
            c = 1
            for text, colspan, rowspan in header_row:
                while (row0 + i, c) in taken:
                    c += 1
                ws.cell(row0 + i, c, text).style = "sf_header"
                if colspan > 1 or rowspan > 1:
                    ws.merge_cells(start_row=row0 + i, start_column=c,
                                   end_row=row0 + i + rowspan - 1, end_column=c + colspan - 1)
                for dr in range(rowspan):
                    for dc in range(colspan):
                        taken.add((row0 + i + dr, c + dc))
                c += colspan
        first = row0 + len(t.header)
        for r, row in enumerate(t.rows, start=first):
            for c, column in enumerate(t.columns, start=1):
                value = row.cells.get(column.key, "")
                if isinstance(value, Figure):
                    ws.cell(r, c, t.display(value.fen)).style = (
                        "sf_amount_total" if row.total else "sf_amount")
                else:
                    text = str(value)
                    if column.key == "name" and row.level:
                        text = "  " * row.level + text
                    ws.cell(r, c, text).style = "sf_total" if row.total else "sf_text"
        for c, column in enumerate(t.columns, start=1):
            ws.column_dimensions[get_column_letter(c)].width = 16 if column.amount else (
                30 if column.key in ("name", "in_item", "out_item") else 14)
        ws.freeze_panes = ws.cell(first, 1)
        ws.print_title_rows = f"{row0}:{first - 1}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------ pdf
def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_PATH), subfontIndex=0))


def tables_pdf(tables: Sequence[Table], *, title: str,
               charts: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """A4 landscape; each table with its merged header; charts (caption, PNG) first."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Image,
        KeepTogether,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )
    from reportlab.platypus import Table as PdfTable

    _register_font()
    h1 = ParagraphStyle("h1", fontName=FONT, fontSize=15, leading=20, alignment=1)
    small = ParagraphStyle("small", fontName=FONT, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=title, author="smart-finance")
    story: list = [Paragraph(title, h1), Spacer(1, 4 * mm)]
    for caption, png in charts:
        # 9 x 3.4 inch figures; two fit on the first landscape page with the title
        story.append(KeepTogether([Paragraph(caption, small),
                                   Image(io.BytesIO(png), width=200 * mm, height=75.5 * mm)]))
    for i, t in enumerate(tables):
        if i or charts:
            story.append(PageBreak())
        story += [Paragraph(f"{t.code} {t.title}", h1),
                  Paragraph(f"{t.subtitle or title}　　{t.unit_label}", small), Spacer(1, 2 * mm)]
        data, spans = _pdf_grid(t, cell)
        widths = [(22 * mm if c.amount else (55 * mm if c.key in ("name", "in_item", "out_item")
                                             else 22 * mm)) for c in t.columns]
        grid = PdfTable(data, colWidths=widths, repeatRows=len(t.header))
        style = [("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 8),
                 ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                 ("BACKGROUND", (0, 0), (-1, len(t.header) - 1), colors.whitesmoke),
                 ("ALIGN", (0, 0), (-1, len(t.header) - 1), "CENTER"),
                 ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
        for c, column in enumerate(t.columns):
            if column.amount:
                style.append(("ALIGN", (c, len(t.header)), (c, -1), "RIGHT"))
        style += [("SPAN", a, b) for a, b in spans]
        grid.setStyle(TableStyle(style))
        story.append(grid)
    doc.build(story)
    return buf.getvalue()


def _pdf_grid(t: Table, cell_style: object) -> tuple[list[list], list]:
    from reportlab.platypus import Paragraph

    ncols = len(t.columns)
    grid: list[list] = [["" for _ in range(ncols)] for _ in t.header]
    spans = []
    taken: set[tuple[int, int]] = set()
    for r, header_row in enumerate(t.header):
        c = 0
        for text, colspan, rowspan in header_row:
            while (r, c) in taken:
                c += 1
            grid[r][c] = Paragraph(text, cell_style)
            if colspan > 1 or rowspan > 1:
                spans.append(((c, r), (c + colspan - 1, r + rowspan - 1)))
            for dr in range(rowspan):
                for dc in range(colspan):
                    taken.add((r + dr, c + dc))
            c += colspan
    for row in t.rows:
        line = []
        for column in t.columns:
            value = row.cells.get(column.key, "")
            if isinstance(value, Figure):
                line.append(f"{t.display(value.fen):,.2f}")
            else:
                indent = "　" * row.level if column.key == "name" else ""
                line.append(Paragraph(indent + str(value), cell_style))
        grid.append(line)
    return grid, spans


# ------------------------------------------------------------------ open data
def tables_csv(t: Table) -> bytes:
    """Long format: one figure per line, amount in yuan (exact), with its trace ref."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["table", "title", "row", "row_code", "row_name", "column", "column_label",
                "amount_yuan", "amount_wan", "trace"])
    for row, column, fig in t.figures():
        code = row.cells.get("code") or row.key
        name = row.cells.get("name") or row.cells.get(
            "in_item" if column.key == "in_amount" else "out_item", "")
        if row.total and not row.cells.get("name"):
            name = name or "合计"
        w.writerow([t.code, t.title, row.key, code, name, column.key, column.label,
                    f"{fig.yuan}", f"{t.display(fig.fen)}", fig.trace])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# ------------------------------------------------------------------ charts
def _wan_axis(ax: object) -> None:
    """Amounts on the y axis in 万元 with thousands separators (never "1e7")."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))  # type: ignore[attr-defined]


def bar_chart_png(labels: Sequence[str], values: Sequence[Decimal], *, title: str,
                  percent: bool = False) -> bytes:
    """A bar chart (e.g. execution rate by department). Values are Decimal (a fraction
    when `percent`, else 万元); matplotlib needs floats for drawing only, after every
    figure has been computed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    font_manager.fontManager.addfont(str(FONT_PATH))
    prop = font_manager.FontProperties(fname=str(FONT_PATH))
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=100)
    heights = [float(v * 100 if percent else v) for v in values]  # drawing only
    ax.bar(range(len(labels)), heights, color="#3b6ea8")
    ax.set_xticks(range(len(labels)), list(labels), fontproperties=prop, rotation=30,
                  ha="right", fontsize=8)
    ax.set_title(title, fontproperties=prop)
    ax.set_ylabel("%" if percent else "万元", fontproperties=prop)
    if not percent:
        _wan_axis(ax)
    fig.tight_layout()
    return _png(fig)


def line_chart_png(labels: Sequence[str], values: Sequence[Decimal], *, title: str) -> bytes:
    """A line over months; values in 万元."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    font_manager.fontManager.addfont(str(FONT_PATH))
    prop = font_manager.FontProperties(fname=str(FONT_PATH))
    fig, ax = plt.subplots(figsize=(9, 3.4), dpi=100)
    # float only for drawing the curve; every figure in tables and files stays Decimal
    ax.plot(range(len(labels)), [float(v) for v in values], marker="o", color="#a83b3b")
    ax.set_xticks(range(len(labels)), list(labels), fontproperties=prop)
    ax.set_title(title, fontproperties=prop)
    ax.set_ylabel("万元", fontproperties=prop)
    _wan_axis(ax)
    fig.tight_layout()
    return _png(fig)


def _png(fig: object) -> bytes:
    from matplotlib import pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


# ------------------------------------------------------------ execution charts
def execution_charts(report: ExecutionReport) -> list[tuple[str, bytes]]:
    """For the PDF: 执行率 of the ten largest of the first grouping (by budget; the rest
    as one 其他 bar), labelled code + name, and the monthly payments in 万元."""
    charts = []
    group = report.group_by[0] if report.group_by else ""
    rows = sorted((r for r in report.rows if r.budget_fen), key=lambda r: -r.budget_fen)
    if group and rows:
        top, rest = rows[:CHART_TOP], rows[CHART_TOP:]
        if len(rest) == 1:
            top, rest = rows, []
        labels = [" ".join(p for p in (r.keys.get(group, ""), r.labels.get(group, "")) if p)
                  or "—" for r in top]
        rates = [r.rate or Decimal("0") for r in top]
        if rest:
            budget = sum(r.budget_fen for r in rest)
            paid = sum(r.figures["paid"].fen for r in rest)
            labels.append(f"其他（{len(rest)}项）")
            rates.append((Decimal(paid) / Decimal(budget)).quantize(Decimal("0.0001")))
        charts.append(("执行率", bar_chart_png(labels, rates, title="预算执行率 (%)",
                                             percent=True)))
    charts.append(("月度支付（万元）", line_chart_png(
        [f"{m}月" for m in range(1, 13)], [to_wan(f.fen) for f in report.monthly_paid],
        title="月度支付进度（万元）")))
    return charts
