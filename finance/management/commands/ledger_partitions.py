"""`manage.py ledger_partitions`: the ledger lines' partitions by fiscal year
(PostgreSQL, finance/partitions.py): list them with row counts, sizes and tablespaces;
create a year's partition; move a closed year's partition to another tablespace; convert
a plain finance_line (a database migrated with LEDGER_PARTITIONS=0)."""
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from finance import partitions
from finance.models import FiscalYear


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class Command(BaseCommand):
    help = ("List finance_line's partitions by fiscal year (rows, size, tablespace); "
            "--create YEAR makes a year's partition; --tablespace NAME --year Y moves a "
            "closed year's partition and its indexes there; --convert partitions a plain table.")

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--create", type=int, metavar="YEAR",
                            help="create YEAR's partition (rows of YEAR in the default "
                                 "partition move into it)")
        parser.add_argument("--tablespace", metavar="NAME",
                            help="move --year's partition (a closed year) to this tablespace")
        parser.add_argument("--year", type=int, help="the year for --tablespace")
        parser.add_argument("--convert", action="store_true",
                            help="partition a plain finance_line now (copies every line "
                                 "under an exclusive lock: a maintenance window)")
        parser.add_argument("--no-count", action="store_true",
                            help="list without counting rows (sizes only)")

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        if connection.vendor != "postgresql":
            raise CommandError("ledger partitions need PostgreSQL (SQLite keeps one plain table)")
        if options["tablespace"] and not options["year"]:
            raise CommandError("--tablespace needs --year")
        try:
            with transaction.atomic():
                if options["convert"]:
                    done = partitions.line_table_partition(connection, force=True)
                    self.stdout.write("finance_line partitioned by year" if done
                                      else "finance_line was already partitioned")
                if options["create"]:
                    made = partitions.year_partition_ensure(options["create"])
                    self.stdout.write(f"partition for {options['create']} "
                                      + ("created" if made else "already there (nothing done)"))
                if options["tablespace"]:
                    moved = partitions.year_partition_set_tablespace(
                        year=options["year"], tablespace=options["tablespace"])
                    self.stdout.write(f"moved to tablespace {options['tablespace']}: "
                                      + ", ".join(moved))
        except partitions.PartitionError as exc:
            raise CommandError(str(exc)) from exc
        self._list(count=not options["no_count"])

    def _list(self, *, count: bool) -> None:
        with connection.cursor() as cur:
            if not partitions.is_partitioned(cur):
                self.stdout.write("finance_line is a plain table (not partitioned)")
                return
            found = partitions.partitions(cur, count=count)
        closed = set(FiscalYear.objects.filter(is_closed=True).values_list("year", flat=True))
        self.stdout.write(f"{'partition':<24} {'year':>7} {'rows':>12} {'size':>10}  "
                          f"{'tablespace':<12} year")
        for p in found:
            state = "" if p.year is None else ("closed" if p.year in closed else "open")
            self.stdout.write(f"{p.name:<24} {p.year if p.year else 'DEFAULT':>7} "
                              f"{'' if p.rows is None else p.rows:>12} {_size(p.bytes):>10}  "
                              f"{p.tablespace or 'pg_default':<12} {state}".rstrip())
