"""`manage.py import_codes DIR`: load classification code lists and the accounting chart."""
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from finance.importers.codes import codes_import


class Command(BaseCommand):
    help = "Load code lists (function, economic, revenue, fund source, regions, accounts) from DIR."

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("directory", type=Path)
        parser.add_argument("--user", default="", help="username recorded in history")
        parser.add_argument("--reason", default="import_codes")

    def handle(self, *args, directory: Path, user: str, reason: str, **options):  # noqa: ANN002, ANN003
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        actor = get_user_model().objects.filter(username=user).first() if user else None
        report = codes_import(directory=directory, user=actor, reason=reason)
        for fr in report.files:
            if fr.skipped:
                self.stdout.write(f"{fr.filename}: not loaded")
            else:
                self.stdout.write(f"{fr.filename}: {fr.created} created, {fr.updated} updated, "
                                  f"{fr.unchanged} unchanged, {fr.retired} retired")
        for issue in report.issues:
            self.stderr.write(f"{directory / issue.file}:{issue.line}: {issue.field}: {issue.reason}")
        if report.issues:
            raise CommandError(f"{len(report.issues)} row(s) rejected; the other rows were loaded")
