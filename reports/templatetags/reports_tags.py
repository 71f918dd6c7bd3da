"""Template tag rendering one report cell (amounts in the table's unit, with the trace
reference as a data attribute so auditors can follow a figure)."""
from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from reports.selectors import Figure

register = template.Library()


@register.simple_tag(takes_context=True)
def cell(context, table, row, column):  # noqa: ANN001, ANN201
    """An amount links to where it comes from (reports:figure; on a published set's
    public page, the public figure page of that set)."""
    value = row.cells.get(column.key, "")
    if isinstance(value, Figure):
        ds = context.get("public_set")
        url = (reverse("reports:public_figure", args=[ds.pk]) if ds is not None
               else reverse("reports:figure"))
        return format_html('<td class="num" data-trace="{}"><a href="{}?{}">{}</a></td>',
                           value.trace, url, urlencode({"ref": value.trace}),
                           f"{table.display(value.fen):,}")
    indent = "\u3000" * row.level if column.key == "name" else ""
    return format_html("<td>{}{}</td>", indent, value)
