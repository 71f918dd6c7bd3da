"""`manage.py verify_ledger`: recompute balances, the hash chain and its keyed MACs from
the lines, check the chain against anchors kept outside the database, and print the
chain heads (anchors for next time)."""
from django.core.management.base import BaseCommand, CommandError

from finance.chain import anchors_read, ledger_keys
from finance.selectors import PROBLEM_LIMIT, ledger_verify


class Command(BaseCommand):
    help = ("Recompute every balance, the whole hash chain and every entry's keyed MAC; check "
            "the chain against anchor files; name every broken item (up to --limit).")

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--anchors", nargs="+", default=[], metavar="FILE",
                            help="anchor files: the append-only anchor file, published "
                                 "disclosure manifests, earlier verify reports")
        parser.add_argument("--limit", type=int, default=PROBLEM_LIMIT,
                            help="list at most this many problems (all are counted)")
        parser.add_argument("--year", type=int,
                            help="verify this fiscal year only: its chain, lines (on "
                                 "PostgreSQL only its partition of finance_line is read), "
                                 "balances and anchors; history seals are not checked")
        parser.add_argument("--workers", type=int, default=1,
                            help="on PostgreSQL: check the years, the balances and the "
                                 "history seals at once in this many processes (the same "
                                 "report; a year of millions of lines and history rows "
                                 "takes minutes, as many times fewer as there are cores)")

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        anchors = []
        for path in options["anchors"]:
            try:
                found = anchors_read(path)
            except OSError as exc:
                raise CommandError(f"cannot read anchor file {path}: {exc}") from exc
            if not found:
                raise CommandError(f"no anchors in {path}")
            anchors += found
        result = ledger_verify(limit=options["limit"], anchors=anchors, year=options["year"],
                               workers=options["workers"])
        if options["year"]:
            self.stdout.write(f"fiscal year {options['year']} only (history seals not checked: "
                              "run without --year for them)")
        keys = ledger_keys()
        self.stdout.write(f"checked {result.entries_checked} entries, {result.lines_checked} lines, "
                          f"{result.balances_checked} balances, {result.anchors_checked} anchors"
                          + "".join(f", {n} {what}" for what, n in result.checked.items()))
        self.stdout.write(f"ledger key: {keys.signing}"
                          + (" (PUBLIC DEVELOPMENT KEY: detects accidents, not attackers)"
                             if keys.dev else ""))
        for head in result.heads:  # keep this report: its anchor lines can be checked later
            self.stdout.write(head.line())
        if result.ok:
            self.stdout.write(self.style.SUCCESS("ledger OK"))
            return
        self.stderr.write(f"FIRST BROKEN: {result.first_broken}")
        for problem in result.problems[1:]:
            self.stderr.write(f"also: {problem}")
        if result.problems_not_listed:
            self.stderr.write(f"… and {result.problems_not_listed} more (raise --limit to list them)")
        raise CommandError(f"ledger verification failed: {result.problems_found} problem(s)")
