"""Membership moved to finance (finance 0006 takes over the model state; the tables
payments_membership and payments_historicalmembership stay as they are, rows and all)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("payments", "0003_paymentrequest_contract_ref_index"),
        ("finance", "0006_membership"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="HistoricalMembership"),
                migrations.DeleteModel(name="Membership"),
            ],
        ),
    ]
