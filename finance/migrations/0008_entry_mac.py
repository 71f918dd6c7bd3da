"""The keyed chain (finance.chain.EntryMac): one HMAC per entry under a key the database
never stores. Entries posted before this migration are MACed here with the key
configured at migration time (LEDGER_KEYS / LEDGER_KEY_FILE, else the development key)."""
import django.db.models.deletion
from django.db import migrations, models


def mac_existing(apps, schema_editor):  # noqa: ANN001, ANN201
    from finance.chain import entry_mac

    Entry = apps.get_model("finance", "Entry")
    EntryMac = apps.get_model("finance", "EntryMac")
    done = set(EntryMac.objects.values_list("entry_id", flat=True))
    todo = []
    for pk, year, number, entry_hash in Entry.objects.values_list(
            "pk", "fiscal_year", "number", "hash").iterator(chunk_size=2000):
        if pk in done:
            continue
        key_id, mac = entry_mac(year=year, number=number, entry_hash=entry_hash)
        todo.append(EntryMac(entry_id=pk, key_id=key_id, mac=mac))
        if len(todo) >= 2000:
            EntryMac.objects.bulk_create(todo)
            todo = []
    EntryMac.objects.bulk_create(todo)


class Migration(migrations.Migration):
    dependencies = [("finance", "0007_entry_kind_choices")]

    operations = [
        migrations.CreateModel(
            name="EntryMac",
            fields=[
                ("entry", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                               primary_key=True, related_name="keyed_mac",
                                               serialize=False, to="finance.entry")),
                ("key_id", models.CharField(max_length=16)),
                ("mac", models.CharField(max_length=64)),
            ],
            options={"verbose_name": "entry MAC", "db_table": "finance_entrymac"},
        ),
        migrations.RunPython(mac_existing, migrations.RunPython.noop),
    ]
