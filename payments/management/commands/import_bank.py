"""`manage.py import_bank FILE… [--profile CODE]`: the agent bank's result file or CSV
statement (read by its bank profile), pain.002, camt.053/054, MT940/942."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from payments import errors, services


class Command(BaseCommand):
    help = "Import bank payment results or account statements (format detected) and reconcile."

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("files", nargs="+")
        parser.add_argument("--user", default="", help="username recorded as the importer")
        parser.add_argument("--profile", default="", help=(
            "bank profile code a table (result file, CSV statement) is read with; default: "
            "every active profile, the header decides"))

    def handle(self, *args, **opts):  # noqa: ANN002, ANN003
        user = None
        if opts["user"]:
            user = get_user_model().objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"unknown user {opts['user']}")
        failed = False
        for name in opts["files"]:
            path = Path(name)
            try:
                report = services.bank_file_import(content=path.read_bytes(),
                                                   filename=path.name, user=user,
                                                   profile=opts["profile"] or None)
            except errors.UnknownProfile as exc:
                raise CommandError(str(exc)) from None
            for issue in report.issues:
                self.stderr.write(str(issue))
            self.stdout.write(
                f"{path.name}: {report.format or 'unknown format'}: stored {report.stored}, "
                f"already known {report.skipped}, issues {len(report.issues)}, "
                f"matched {report.matched}, exceptions {report.exceptions}, "
                f"pending {report.pending}"
                f"{f', profile {report.profile}' if report.profile else ''}")
            failed = failed or bool(report.issues)
        if failed:
            raise CommandError("some lines were not imported (see above)")
