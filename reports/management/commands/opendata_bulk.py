"""opendata_bulk --year Y --out FILE.zip [--validate]: every department's published open
data of a year (CSV + datapackage.json + manifest.json per set) in one zip, the same bytes
as /reports/public/open-data/<year>.zip; --validate checks each set's package first."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reports import opendata


class Command(BaseCommand):
    help = "Write the city-wide open-data zip of a year's published disclosure sets."

    def add_arguments(self, parser):  # noqa: ANN001, ANN201
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--out", required=True)
        parser.add_argument("--validate", action="store_true",
                            help="validate each set's Fiscal Data Package first")

    def handle(self, *args, **opts):  # noqa: ANN002, ANN003, ANN201
        sets = list(opendata.bulk_sets(opts["year"]))
        if opts["validate"]:
            problems = []
            for ds in sets:
                files = {}
                for f in ds.files.all():
                    if opendata.is_open_data(f.name):
                        with f.file.open("rb") as fh:
                            files[f.name] = fh.read()
                problems += [f"#{ds.pk} {ds.department_id} {ds.kind}: {p}"
                             for p in opendata.validate(files)]
            for p in problems:
                self.stderr.write(p)
            if problems:
                raise CommandError(f"{len(problems)} open-data problem(s)")
        out = Path(opts["out"])
        out.write_bytes(opendata.bulk_zip(opts["year"]))
        self.stdout.write(f"{len(sets)} published sets written to {out}")
