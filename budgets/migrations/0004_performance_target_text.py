"""Issue 22: the free-text target value is kept as `target_text` (what the unit wrote);
the numeric `target_value` is added next (0005) and read from it (0006)."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("budgets", "0003_verbose_names"),
    ]

    operations = [
        migrations.RenameField(model_name="performancetarget", old_name="target_value",
                               new_name="target_text"),
        migrations.RenameField(model_name="historicalperformancetarget", old_name="target_value",
                               new_name="target_text"),
    ]
