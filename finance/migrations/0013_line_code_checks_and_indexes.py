"""finance_line: the account and the codes without database foreign keys, the indexes a
line's insert kept up for nothing dropped, and a project's lines indexed (finance/models.py
Line says why)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('finance', '0012_line_partitions'),
    ]

    operations = [
        migrations.AlterField(
            model_name='line',
            name='account',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='finance.account'),
        ),
        migrations.AlterField(
            model_name='line',
            name='economic',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.economiccode'),
        ),
        # the entry's foreign key stays as it is (Django would drop it and add it again,
        # checking every line); only its index goes: the unique (entry, seq) serves it
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AlterField(
                model_name='line',
                name='entry',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='finance.entry'),
            )],
            database_operations=[migrations.RunSQL(
                'DROP INDEX IF EXISTS "finance_line_entry_id_3276a5ee"',
                reverse_sql='CREATE INDEX "finance_line_entry_id_3276a5ee" ON "finance_line" ("entry_id")',
            )],
        ),
        migrations.AlterField(
            model_name='line',
            name='function',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.functioncode'),
        ),
        migrations.AlterField(
            model_name='line',
            name='fund_source',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.fundsource'),
        ),
        migrations.AlterField(
            model_name='line',
            name='region',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.region'),
        ),
        migrations.AlterField(
            model_name='line',
            name='unit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.organization'),
        ),
        migrations.AddIndex(
            model_name='line',
            index=models.Index(condition=models.Q(('project_code', ''), _negated=True), fields=['year', 'project_code'], name='line_project'),
        ),
    ]
