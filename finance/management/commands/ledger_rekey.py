"""`manage.py ledger_rekey --from k1 [--to k2]`: move every keyed MAC made with key
`k1` to key `k2` (the signing key by default): entry MACs, and every keyed item an app
registered (audit's history seals), each verified under its old key first. Anything
that does not verify is refused and named — re-MACing it would launder the tampering —
and the command exits non-zero; its old MAC is kept, so verify_ledger still names it.

Entries go in batches, each committed, and only MACs still under `k1` are read, so an
interrupted run is resumed by running the command again; a history table is rekeyed in
one transaction (its seals link to each other). When it reports nothing refused and
verify_ledger is OK with both keys, drop `k1` from LEDGER_KEYS / LEDGER_KEY_FILE."""
from django.core.management.base import BaseCommand, CommandError

from finance.chain import check_rekey_keys, entries_rekey, ledger_keys, rekeyers


class Command(BaseCommand):
    help = ("Re-MAC every entry (and sealed history row) made with the old ledger key with "
            "the new one, after verifying each under the old key; refuse and name any that "
            "does not verify.")

    def add_arguments(self, parser):  # noqa: ANN001
        parser.add_argument("--from", dest="old", required=True, metavar="KEY_ID",
                            help="the key id to move away from (must still be configured)")
        parser.add_argument("--to", dest="new", default=None, metavar="KEY_ID",
                            help="the key id to move to (default: the signing key, listed first)")
        parser.add_argument("--batch", type=int, default=2000,
                            help="entries per transaction (default 2000)")
        parser.add_argument("--limit", type=int, default=100,
                            help="name at most this many refused items (all are counted)")
        parser.add_argument("--dry-run", action="store_true",
                            help="verify and count, change nothing")

    def handle(self, *args, **options):  # noqa: ANN002, ANN003
        keys = ledger_keys()
        old, new = options["old"], options["new"] or keys.signing
        try:
            check_rekey_keys(old, new)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if old == "dev" or keys.dev:
            self.stderr.write("warning: the development key is public; MACs under it prove "
                              "nothing against an attacker — check the ledger against anchors "
                              "kept outside the database before trusting this rekey")
        if new != keys.signing:
            self.stderr.write(f"warning: {new!r} is not the signing key ({keys.signing!r}); "
                              "new postings will still be MACed with the signing key")
        verb = "would rekey" if options["dry_run"] else "rekeyed"
        common = {"old": old, "new": new, "limit": options["limit"],
                  "dry_run": options["dry_run"], "progress": self.stdout.write}
        results = [entries_rekey(batch=options["batch"], **common)]
        for rekeyer in rekeyers():
            results += rekeyer(batch=max(options["batch"], 1), **common)
        refused = 0
        for r in results:
            self.stdout.write(f"{r.what}: {r.checked} under {old!r} checked, {r.rekeyed} {verb} "
                              f"to {new!r}, {r.refused} refused")
            refused += r.refused
            for name in r.named or []:
                self.stderr.write(f"REFUSED {name}")
        shown = sum(len(r.named or []) for r in results)
        if refused > shown:
            self.stderr.write(f"… and {refused - shown} more refused (raise --limit to list them)")
        if refused:
            raise CommandError(f"{refused} item(s) do not verify under key {old!r} and were not "
                               "rekeyed: investigate them (verify_ledger names them) before "
                               f"dropping {old!r}")
        if options["dry_run"]:
            self.stdout.write(self.style.SUCCESS("nothing refused (dry run: nothing changed)"))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"nothing refused; once verify_ledger is OK, drop {old!r} from the keys"))
