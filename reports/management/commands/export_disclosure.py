"""export_disclosure --year Y --out DIR: every department's disclosure files."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reports import services


class Command(BaseCommand):
    help = "Write each department's budget and final-account disclosure tables (xlsx, pdf, CSV, datapackage.json, manifest.json)."

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--out", required=True)
        parser.add_argument("--department", action="append", default=None,
                            help="only this department code (repeatable)")

    def handle(self, *args, **opts):  # noqa: ANN002, ANN003, ANN201
        out = Path(opts["out"])
        out.mkdir(parents=True, exist_ok=True)
        result = services.disclosure_export(
            year=opts["year"], out=out, departments=opts["department"],
            progress=lambda i, n: self.stdout.write(f"{i}/{n}", ending="\r"))
        self.stdout.write(f"\n{result['departments']} departments, {result['files']} files "
                          f"written to {out}")
        for failure in result["failures"]:
            self.stderr.write(f"CHECK FAILED: {failure}")
        if result["failures"]:
            raise CommandError(f"{len(result['failures'])} cross-table check(s) failed")
