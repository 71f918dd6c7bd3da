"""`manage.py import_projects FILE`: the development and reform commission's JSON feed."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from budgets import services
from budgets.importers.projects import parse_projects


class Command(BaseCommand):
    help = "Import investment projects (JSON export of 政府投资项目管理系统); upsert by project_code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", default="", help="username recorded in the history")
        parser.add_argument("--reason", default="", help="reason recorded in the history")

    def handle(self, *args: object, **opts: object) -> None:
        path: Path = opts["file"]  # type: ignore[assignment]
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"unknown user {opts['user']}")
        records, issues = parse_projects(path.read_bytes(), path.name)
        report = services.projects_import(
            records=records, issues=issues, filename=path.name, user=user,
            reason=str(opts["reason"]) or f"investment-project feed {path.name}")
        for issue in report.issues:
            self.stderr.write(str(issue))
        r = report.as_dict()
        self.stdout.write(f"{path.name}: {r['records']} records: {r['created']} created, "
                          f"{r['updated']} updated, {r['unchanged']} unchanged, {r['bad']} bad")
        if report.issues:
            raise CommandError(f"{len(report.issues)} bad record(s)")
