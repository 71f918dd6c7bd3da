"""On PostgreSQL, finance_line partitioned by fiscal year (LIST (year), one partition
per year plus DEFAULT), unless LEDGER_PARTITIONS=0 at `migrate` time. SQL only: Django's
model state is unchanged (finance/partitions.py, docs/OPERATIONS.md "Ledger partitions").
The copy holds an ACCESS EXCLUSIVE lock on finance_line for its length."""
from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from finance.partitions import line_table_partition

    line_table_partition(schema_editor.connection)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from finance.partitions import line_table_unpartition

    line_table_unpartition(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("finance", "0011_alter_controlrule_economic_prefix_and_more")]
    operations = [migrations.RunPython(forwards, backwards)]
