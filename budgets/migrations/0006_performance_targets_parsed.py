"""Issue 22: targets filed as free text get a comparison, a number, a unit of measure,
a class and a weight: the number is read from the text where there is one ("≥95%" →
≥ 95 %, "不超过30天" → ≤ 30 天; "显著提升" stays without a number and cannot be scored
until the unit gives one); a project's 90 points of target weight are split evenly
(the last target takes the remainder of the rounding)."""
from decimal import ROUND_DOWN, Decimal

from django.db import migrations

from budgets.performance import class_guess, target_parse


def forwards(apps, schema_editor):  # noqa: ANN001, ARG001
    Target = apps.get_model("budgets", "PerformanceTarget")
    by_project: dict[int, list] = {}
    for t in Target.objects.order_by("project_id", "id"):
        by_project.setdefault(t.project_id, []).append(t)
    for targets in by_project.values():
        share = (Decimal(90) / len(targets)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        for i, t in enumerate(targets):
            comparison, value, unit = target_parse(t.target_text)
            t.comparison, t.target_value = comparison, value
            t.measure_unit = t.measure_unit or unit
            t.indicator_class = class_guess(t.name)
            t.weight = share if i < len(targets) - 1 else Decimal(90) - share * (len(targets) - 1)
            t.save(update_fields=["comparison", "target_value", "measure_unit",
                                  "indicator_class", "weight"])


class Migration(migrations.Migration):

    dependencies = [
        ("budgets", "0005_performance_lifecycle"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
