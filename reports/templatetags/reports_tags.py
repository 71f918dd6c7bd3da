"""Template tag rendering one report cell (amounts in the table's unit, with the trace
reference as a data attribute so auditors can follow a figure)."""
from django import template
from django.utils.html import format_html

from reports.selectors import Figure

register = template.Library()


@register.simple_tag
def cell(table, row, column):  # noqa: ANN001, ANN201
    value = row.cells.get(column.key, "")
    if isinstance(value, Figure):
        return format_html('<td class="num" data-trace="{}">{}</td>', value.trace,
                           f"{table.display(value.fen):,}")
    indent = "\u3000" * row.level if column.key == "name" else ""
    return format_html("<td>{}{}</td>", indent, value)
