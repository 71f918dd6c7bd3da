"""Membership moves here from payments (who works for which organization belongs with
the roles in finance.roles). Its tables keep their names (payments_membership,
payments_historicalmembership), so only Django's model state moves: nothing is copied
and no row can be lost. payments 0004 drops the model from payments' state.

The content types move with it (their permissions, e.g. finance.change_membership,
keep the groups they were given to); on a fresh database there are none yet."""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

MODELS = ("membership", "historicalmembership")


def _move_content_types(apps, schema_editor, frm, to):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if ContentType.objects.using(db).filter(app_label=to, model=model).exists():
            continue  # created already (post_migrate of an earlier run): keep it
        ContentType.objects.using(db).filter(app_label=frm, model=model).update(app_label=to)


def forwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, "payments", "finance")


def backwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, "finance", "payments")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("finance", "0005_idempotent_request"),
        ("payments", "0003_paymentrequest_contract_ref_index"),  # the tables exist
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="HistoricalMembership",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("organization", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="finance.organization")),
                        ("user", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "historical membership",
                        "verbose_name_plural": "historical memberships",
                        "db_table": "payments_historicalmembership",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name="Membership",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("organization", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="finance.organization")),
                        ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="membership", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "payments_membership",
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
