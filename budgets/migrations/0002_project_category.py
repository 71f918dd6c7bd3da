"""Projects carry the 一体化 category (人员类/运转类/特定目标类) instead of basic/project;
the free-text category of the NDRC feed becomes `industry`."""
from django.db import migrations, models


def categories(apps, schema_editor):
    Project = apps.get_model("budgets", "Project")
    # 基本支出 projects: personnel when they say so, running costs otherwise
    basic = Project.objects.filter(kind="basic")
    basic.filter(models.Q(name__contains="人员") | models.Q(name__contains="工资")).update(
        category="personnel")
    basic.exclude(models.Q(name__contains="人员") | models.Q(name__contains="工资")).update(
        category="running")
    Project.objects.exclude(kind="basic").update(category="specific")


def kinds(apps, schema_editor):
    Project = apps.get_model("budgets", "Project")
    Project.objects.filter(category__in=["personnel", "running"]).update(kind="basic")
    Project.objects.filter(category="specific").update(kind="project")


class Migration(migrations.Migration):
    dependencies = [("budgets", "0001_initial")]

    operations = [
        migrations.RenameField("project", "category", "industry"),
        migrations.RenameField("historicalproject", "category", "industry"),
        migrations.AlterField("project", "industry", models.CharField(
            blank=True, max_length=60, verbose_name="industry (行业)")),
        migrations.AlterField("historicalproject", "industry", models.CharField(
            blank=True, max_length=60, verbose_name="industry (行业)")),
        migrations.AddField("project", "category", models.CharField(
            choices=[("personnel", "personnel (人员类)"), ("running", "running costs (运转类)"),
                     ("specific", "specific purpose (特定目标类)")],
            default="specific", max_length=10, verbose_name="category (项目类别)")),
        migrations.AddField("historicalproject", "category", models.CharField(
            choices=[("personnel", "personnel (人员类)"), ("running", "running costs (运转类)"),
                     ("specific", "specific purpose (特定目标类)")],
            default="specific", max_length=10, verbose_name="category (项目类别)")),
        migrations.RunPython(categories, kinds),
        migrations.RemoveField("project", "kind"),
        migrations.RemoveField("historicalproject", "kind"),
    ]
