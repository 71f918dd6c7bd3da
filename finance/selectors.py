"""Reads of the ledger: balances for any partial dimension tuple, trial balance, and
the verification that recomputes everything from the lines and the hash chain."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from finance import measures
from finance.chain import Anchor, EntryMac, entry_mac_ok
from finance.chart import EntryKind
from finance.dimensions import DIMENSIONS, BadDimsKey, Dims
from finance.ledger import GENESIS, canonical_content, chain_hash, sha256
from finance.models import (
    Account,
    Balance,
    Entry,
    Line,
    Organization,
    Region,
    VoucherSequence,
    fen_to_decimal,
)
from finance.processes import forkable, in_processes

_DIM_FIELDS = {
    "region": "region__code",
    "unit": "unit__code",
    "function": "function__code",
    "economic": "economic__code",
    "fund_source": "fund_source__code",
    "project": "project_code",
}


# ------------------------------------------------------------ figures by reference
def region_codes(code: str) -> set[str]:
    """A region and all its districts."""
    out = {code}
    while True:
        more = set(Region.objects.filter(parent__code__in=out).values_list("code", flat=True))
        if more <= out:
            return out
        out |= more


def department_unit_codes(code: str) -> set[str]:
    """A department and every organization below it that is not itself a department
    (the units whose lines make the department's figures)."""
    out = {code}
    frontier = {code}
    while frontier:
        children = set(Organization.objects.filter(parent__code__in=frontier)
                       .exclude(kind=Organization.Kind.DEPARTMENT)
                       .values_list("code", flat=True)) - out
        out |= children
        frontier = children
    return out


def figure_lines(ref: measures.TraceRef | str) -> QuerySet[Line]:
    """The ledger lines whose sum is the figure a trace reference names."""
    if isinstance(ref, str):
        ref = measures.trace_parse(ref)
    return measures.lines_for(ref, Line.objects.all(), organizations=department_unit_codes,
                              regions=region_codes)


def line_kind(kind: str, reversed_kind: str | None) -> str:
    """The kind a line counts with: a reversal counts as the entry it reverses."""
    return reversed_kind or kind if kind == EntryKind.REVERSAL else kind


def figure_fen(ref: measures.TraceRef | str) -> tuple[int, int]:
    """(the figure in fen, its number of lines), re-run on the ledger with the ORM,
    independently of the reports' pandas pipeline."""
    if isinstance(ref, str):
        ref = measures.trace_parse(ref)
    total = count = 0
    rows = (figure_lines(ref).order_by()
            .values_list("book", "account__code", "account__normal_side", "entry__kind",
                         "entry__reverses__kind")
            .annotate(d=Sum("debit_fen"), c=Sum("credit_fen"), n=Count("id")))
    for book, code, side, kind, reversed_kind, d, c, n in rows:
        normal = (d or 0) - (c or 0) if side == "debit" else (c or 0) - (d or 0)
        base = measures.classify(book, code, line_kind(kind, reversed_kind))
        total += measures.contribution(ref.measure, base, normal)
        count += n
    return total, count


BREAKDOWN_FIELDS = {"unit": "unit__code", "function": "function__code",
                    "economic": "economic__code", "fund_source": "fund_source__code",
                    "project": "project_code", "month": "entry__month", "account": "account__code"}


def figure_breakdown(ref: measures.TraceRef | str, *,
                     by: tuple[str, ...] = ("unit", "function", "economic", "month"),
                     ) -> list[tuple[tuple[str, ...], int, int]]:
    """The figure's lines summed per `by` (codes; month as text): [(keys, fen, lines)],
    largest first. Aggregates only: no entry, document, payee or person — what the
    public may see of a published figure."""
    if isinstance(ref, str):
        ref = measures.trace_parse(ref)
    fields = [BREAKDOWN_FIELDS[b] for b in by]
    rows = (figure_lines(ref).order_by()
            .values_list(*fields, "book", "account__code", "account__normal_side",
                         "entry__kind", "entry__reverses__kind")
            .annotate(d=Sum("debit_fen"), c=Sum("credit_fen"), n=Count("id")))
    out: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        keys = tuple("" if v is None else str(v) for v in row[:len(by)])
        book, code, side, kind, reversed_kind, d, c, n = row[len(by):]
        normal = (d or 0) - (c or 0) if side == "debit" else (c or 0) - (d or 0)
        base = measures.classify(book, code, line_kind(kind, reversed_kind))
        out[keys][0] += measures.contribution(ref.measure, base, normal)
        out[keys][1] += n
    return sorted(((k, v[0], v[1]) for k, v in out.items() if v[0] or v[1]),
                  key=lambda x: (-abs(x[1]), x[0]))


def figure_of(ref: measures.TraceRef | str) -> int:
    """The figure (fen) a trace reference names, as the ledger says now."""
    return figure_fen(ref)[0]


def _dim_filter(year: int | None, dims: dict[str, str | None]) -> Q:
    q = Q()
    if year is not None:
        q &= Q(year=year)
    for name, value in dims.items():
        if name not in _DIM_FIELDS:
            raise TypeError(f"unknown dimension {name}")
        if value is not None:
            q &= Q(**{_DIM_FIELDS[name]: value})
    return q


def balance_fen(*, account: str, year: int | None = None, as_of: date | None = None,
                **dims: str | None) -> int:
    """Normal-side balance in fen of `account` summed over every tuple matching the
    given dimensions (omit a dimension to sum over it); as of a date if given."""
    acc = Account.objects.get(code=account)
    q = _dim_filter(year, dims) & Q(account=acc)
    if as_of is None:
        agg = Balance.objects.filter(q).aggregate(d=Sum("debit_fen"), c=Sum("credit_fen"))
    else:
        agg = Line.objects.filter(q, entry__date__lte=as_of).aggregate(
            d=Sum("debit_fen"), c=Sum("credit_fen"))
    d, c = agg["d"] or 0, agg["c"] or 0
    return d - c if acc.normal_side == "debit" else c - d


def balance(*, account: str, year: int | None = None, as_of: date | None = None,
            **dims: str | None) -> Decimal:
    """Like `balance_fen`, in yuan as a 2-place Decimal."""
    return fen_to_decimal(balance_fen(account=account, year=year, as_of=as_of, **dims))


@dataclass(frozen=True)
class TrialBalanceRow:
    account: str
    name: str
    normal_side: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        return self.debit - self.credit if self.normal_side == "debit" else self.credit - self.debit


@dataclass(frozen=True)
class TrialBalance:
    book: str
    rows: list[TrialBalanceRow]

    @property
    def total_debit(self) -> Decimal:
        return sum((r.debit for r in self.rows), Decimal("0.00"))

    @property
    def total_credit(self) -> Decimal:
        return sum((r.credit for r in self.rows), Decimal("0.00"))

    @property
    def balanced(self) -> bool:
        return self.total_debit == self.total_credit


def trial_balance(*, book: str, year: int | None = None, as_of: date | None = None) -> TrialBalance:
    """Debit and credit totals per account of one book (试算平衡表)."""
    lines = Line.objects.filter(book=book)
    if year is not None:
        lines = lines.filter(year=year)
    if as_of is not None:
        lines = lines.filter(entry__date__lte=as_of)
    agg = (lines.values("account__code", "account__name", "account__normal_side")
           .annotate(d=Sum("debit_fen"), c=Sum("credit_fen")).order_by("account__code"))
    return TrialBalance(book=book, rows=[
        TrialBalanceRow(r["account__code"], r["account__name"], r["account__normal_side"],
                        fen_to_decimal(r["d"] or 0), fen_to_decimal(r["c"] or 0))
        for r in agg
    ])


# ------------------------------------------------------------------ verification
PROBLEM_LIMIT = 100


@dataclass
class VerifyProblem:
    fiscal_year: int
    number: int | None
    entry_id: int | None
    reason: str
    where: str = ""  # set for what is not a ledger entry (balances, history, anchors)

    def __str__(self) -> str:
        if self.where:
            return f"{self.where}: {self.reason}"
        where = f"entry {self.fiscal_year}-{self.number} (id {self.entry_id})" \
            if self.number is not None else f"year {self.fiscal_year}"
        return f"{where}: {self.reason}"


@dataclass
class VerifyResult:
    entries_checked: int = 0
    lines_checked: int = 0
    balances_checked: int = 0
    problems: list[VerifyProblem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # counts by registered verifiers
    limit: int = PROBLEM_LIMIT
    problems_found: int = 0  # all found, also those beyond `limit`
    heads: list[Anchor] = field(default_factory=list)  # each year's chain head, to print
    anchors_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.problems_found

    @property
    def first_broken(self) -> VerifyProblem | None:
        return self.problems[0] if self.problems else None

    def merge(self, piece: VerifyResult) -> None:
        """Add what another part of the verification found (its problems after these)."""
        self.entries_checked += piece.entries_checked
        self.lines_checked += piece.lines_checked
        self.balances_checked += piece.balances_checked
        self.anchors_checked += piece.anchors_checked
        self.checked.update(piece.checked)
        self.heads += piece.heads
        for problem in piece.problems:
            self.add(problem)
        self.problems_found += piece.problems_found - len(piece.problems)  # beyond its limit

    def add(self, problem: VerifyProblem) -> None:
        """Record a problem; beyond `limit` it is only counted."""
        self.problems_found += 1
        if len(self.problems) < self.limit:
            self.problems.append(problem)

    @property
    def problems_not_listed(self) -> int:
        return max(0, self.problems_found - len(self.problems))


_verifiers: list[Callable[[VerifyResult], None]] = []


def register_verifier(verifier: Callable[[VerifyResult], None]) -> None:
    """Apps (e.g. audit's history seals) register extra checks from AppConfig.ready();
    `ledger_verify` runs them after the ledger's own checks. A verifier calls
    `result.add(VerifyProblem(..., where=...))` and may count what it checked in
    `result.checked`."""
    if verifier not in _verifiers:
        _verifiers.append(verifier)


def ledger_verify(*, chunk: int = 2000, limit: int = PROBLEM_LIMIT,
                  anchors: list[Anchor] | None = None, year: int | None = None,
                  workers: int = 1) -> VerifyResult:
    """Recompute every entry's content hash, the hash chain and the keyed MAC of every
    entry from the stored lines, check numbering, balancing per book, and every running
    balance; check the chain against each anchor given (heads remembered outside the
    database); then run the registered verifiers. Every broken item is reported (up to
    `limit`, the rest counted); verification continues past a broken entry.

    `year`: that fiscal year only — its chain, its lines (every line query filters on
    `year`, so on PostgreSQL only that year's partition of finance_line is read), its
    balances and its anchors; the registered verifiers (history seals, not per year)
    are then not run.

    `workers` > 1 (PostgreSQL, outside a transaction): the years, the balances and each
    registered verifier are checked at once in that many forked processes (each with its
    own connection; not from a daemon process such as a Celery worker's), with the same
    result as one after another."""
    result = VerifyResult(limit=limit)
    if year is None:
        years = sorted(set(Entry.objects.values_list("fiscal_year", flat=True))
                       | set(VoucherSequence.objects.values_list("fiscal_year", flat=True)))
    else:
        years = [year]
    # the independent parts: each year's chain, the balances, then (after the anchors,
    # which need the years' heads) each registered verifier — the order problems are
    # reported in, whether the parts run here one after another or in `workers` processes
    parts: list[tuple[str, int | None]] = [("year", y) for y in years]
    parts.append(("balances", year))
    after = [("verifier", i) for i in range(len(_verifiers))] if year is None else []
    if forkable(workers, len(parts) + len(after)):
        todo = [(kind, arg, chunk, limit) for kind, arg in [*parts, *after]]
        pieces = list(in_processes(_verify_part, todo, workers))
        for piece in pieces[:len(parts)]:
            result.merge(piece)
        _verify_anchors(result, [a for a in anchors or [] if year is None or a.year == year])
        for piece in pieces[len(parts):]:
            result.merge(piece)
        return result
    for kind, arg in parts:
        _run_part(kind, arg, result, chunk)
    _verify_anchors(result, [a for a in anchors or [] if year is None or a.year == year])
    for kind, arg in after:
        _run_part(kind, arg, result, chunk)
    return result


def _run_part(kind: str, arg: int | None, result: VerifyResult, chunk: int) -> None:
    if kind == "year":
        _verify_year(arg, result, chunk)  # type: ignore[arg-type]
    elif kind == "balances":
        _verify_balances(result, arg)
    else:
        _verifiers[arg](result)  # type: ignore[index]


def _verify_part(task: tuple[str, int | None, int, int]) -> VerifyResult:
    """In a forked process: one part of `ledger_verify`, on the process's own connection."""
    kind, arg, chunk, limit = task
    piece = VerifyResult(limit=limit)
    _run_part(kind, arg, piece, chunk)
    return piece


def verify_lines(year: int, entry_ids: list[int]) -> QuerySet[Line]:
    """The lines of these entries of `year`, as verification reads them. The filter on
    `year` lets PostgreSQL read only the year's partition of finance_line (a line whose
    year was changed is then missing from its entry, which the content hash shows)."""
    return Line.objects.filter(year=year, entry_id__in=entry_ids).order_by("entry_id", "seq")


def _verify_year(year: int, result: VerifyResult, chunk: int) -> None:
    accounts = dict(Account.objects.values_list("id", "code"))
    seq = VoucherSequence.objects.filter(fiscal_year=year).first()
    prev = sha256(f"{GENESIS}|smart-finance|{year}")
    expected_number = 1
    last_number = 0
    entries = (Entry.objects.filter(fiscal_year=year).order_by("number")
               .select_related("source_type", "reverses"))
    last: Entry | None = None
    while True:
        batch = list(entries.filter(number__gt=last_number)[:chunk])
        if not batch:
            break
        line_rows = defaultdict(list)
        dangling: dict[int, list[str]] = defaultdict(list)
        for row in (verify_lines(year, [e.pk for e in batch])
                    .values_list("entry_id", "seq", "book", "account_id", "year",
                                 *(_DIM_FIELDS[d] for d in DIMENSIONS),
                                 "debit_fen", "credit_fen", *_CODE_IDS)):
            # the account by id (a few hundred, read once): a join would drop a line
            # whose account row is gone instead of naming it
            row = (*row[:3], accounts.get(row[3]), *row[4:])
            line_rows[row[0]].append(row[:13])
            dangling[row[0]] += _dangling_codes(row)
        macs = {m.entry_id: m for m in EntryMac.objects.filter(entry_id__in=[e.pk for e in batch])}
        for e in batch:
            for problem in [*_check_entry(e, expected_number, prev, line_rows.get(e.pk, []),
                                          macs.get(e.pk)), *dangling.get(e.pk, [])]:
                result.add(VerifyProblem(year, e.number, e.pk, problem))
            result.entries_checked += 1
            result.lines_checked += len(line_rows.get(e.pk, []))
            # go on from what is stored, so every later broken entry is named too
            prev = e.hash
            expected_number = e.number + 1
            last_number = e.number
            last = e
    if seq is not None and (seq.last_number != expected_number - 1 or seq.last_hash != prev):
        result.add(VerifyProblem(
            year, expected_number, None,
            f"sequence head says entry {seq.last_number} with hash {seq.last_hash[:12]}…, "
            f"ledger ends at {expected_number - 1} with hash {prev[:12]}… (entries missing or added)",
            where=f"year {year} sequence head"))
    if last is not None:
        mac = EntryMac.objects.filter(entry_id=last.pk).first()
        result.heads.append(Anchor(year, last.number, last.hash, mac.mac if mac else "",
                                   mac.key_id if mac else "", str(timezone.localdate())))


# a line's code ids beside the codes they name: the ledger's lines keep no database
# foreign key to the account and the codes (finance.models.Line), so a code row deleted
# outside Django (which refuses it: PROTECT) leaves an id that names nothing
_CODED = [d for d in DIMENSIONS if _DIM_FIELDS[d].endswith("__code")]  # not the project
_CODE_IDS = ("account_id", *(f"{d}_id" for d in _CODED))
# where each id's code sits in the row: the account 4th, the coded dimensions from the 6th
_CODE_AT = (3, *(5 + DIMENSIONS.index(d) for d in _CODED))


def _dangling_codes(row: tuple) -> list[str]:
    """'line n names account id k, which does not exist' for each id of the row whose
    code was not found (`row`: verification's line row, the ids after it)."""
    return [f"line {row[1]} names {name.removesuffix('_id')} id {value}, which does not exist"
            for name, at, value in zip(_CODE_IDS, _CODE_AT, row[13:], strict=True)
            if value is not None and row[at] is None]


def _check_entry(e: Entry, expected_number: int, prev: str, rows: list[tuple],
                 mac: EntryMac | None) -> list[str]:
    found: list[str] = []
    if e.number != expected_number:
        found.append(f"number {e.number} where {expected_number} was expected (gap or deletion)")
    if e.prev_hash != prev:
        found.append("previous-hash link does not match the previous entry")
    if len(rows) < 2:
        found.append(f"has {len(rows)} lines")
    per_book: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    content_lines = []
    for (_eid, seq, book, acc, year, region, unit, function, economic, fund, project,
         d, c) in rows:
        per_book[book][0] += d
        per_book[book][1] += c
        key = "|".join((str(year), region or "", unit or "", function or "", economic or "",
                        fund or "", project))
        content_lines.append((seq, book, acc, key, d, c))
    for book, (d, c) in per_book.items():
        if d != c:
            found.append(f"book {book} does not balance: debit {fen_to_decimal(d)} "
                         f"credit {fen_to_decimal(c)}")
    source = (f"{e.source_type.app_label}.{e.source_type.model}:{e.source_id}"
              if e.source_type_id else "")
    content = canonical_content(
        year=e.fiscal_year, date=e.date.isoformat(), description=e.description, kind=e.kind,
        source=source, tracking_id=e.tracking_id,
        reverses=f"{e.reverses.fiscal_year}-{e.reverses.number}" if e.reverses_id else "",
        lines=content_lines,
    )
    if sha256(content) != e.content_hash:
        found.append("content does not match its hash (a line or field was changed)")
    expected = chain_hash(prev_hash=e.prev_hash, number=e.number, content_hash=e.content_hash,
                          posted_by=e.posted_by_id, posted_at=e.posted_at)
    if expected != e.hash:
        found.append("entry hash does not match (header changed)")
    if mac is None:
        found.append("has no keyed MAC (written outside the posting service)")
    else:
        why = entry_mac_ok(year=e.fiscal_year, number=e.number, entry_hash=e.hash,
                           key_id=mac.key_id, mac=mac.mac)
        if why:
            found.append(why)
    return found


def balance_name(account_code: str, dim_key: str) -> str:
    """A balance row for people: its year, account code and dimensions."""
    try:
        year, dims = Dims.from_key(dim_key)
    except BadDimsKey:
        return f"balance account {account_code} key {dim_key!r}"
    parts = [f"{name}={getattr(dims, name)}" for name in DIMENSIONS if getattr(dims, name)]
    return f"balance {year} account {account_code} [{', '.join(parts) or 'no dimensions'}]"


def _verify_balances(result: VerifyResult, year: int | None = None) -> None:
    from_lines = {
        (r["account_id"], r["key"]): (r["d"], r["c"])
        for r in _line_totals(year)
    }
    balances = Balance.objects.all() if year is None else Balance.objects.filter(year=year)
    stored = {(b.account_id, b.dim_key): (b.debit_fen, b.credit_fen)
              for b in balances.only("account_id", "dim_key", "debit_fen", "credit_fen")}
    result.balances_checked = len(stored)
    codes = dict(Account.objects.values_list("id", "code"))
    for key in sorted(set(from_lines) | set(stored), key=str):
        a = from_lines.get(key, (0, 0))
        b = stored.get(key, (0, 0))
        if a != b:
            year = key[1].split("|", 1)[0]
            result.add(VerifyProblem(
                int(year) if year.isdigit() else 0, None, None,
                f"stored Dr {fen_to_decimal(b[0])} Cr {fen_to_decimal(b[1])}, lines sum to "
                f"Dr {fen_to_decimal(a[0])} Cr {fen_to_decimal(a[1])}"
                + ("" if key in stored else " (balance row deleted)"),
                where=balance_name(codes.get(key[0], f"id {key[0]}"), key[1])))


def _verify_anchors(result: VerifyResult, anchors: list[Anchor]) -> None:
    """Each anchor names an entry and its hash and MAC when the anchor was written; the
    ledger must still hold that entry with that hash and MAC, or it was rewritten
    (or cut back) after the anchor was written."""
    if not anchors:
        return
    wanted = {(a.year, a.number) for a in anchors}
    years = {a.year for a in anchors}
    stored = {(e.fiscal_year, e.number): (e.hash, getattr(getattr(e, "keyed_mac", None), "mac", ""),
                                          getattr(getattr(e, "keyed_mac", None), "key_id", ""))
              for e in Entry.objects.filter(fiscal_year__in=years,
                                            number__in={n for _y, n in wanted})
              .select_related("keyed_mac").only("fiscal_year", "number", "hash",
                                                "keyed_mac__mac", "keyed_mac__key_id")
              if (e.fiscal_year, e.number) in wanted}
    for a in anchors:
        result.anchors_checked += 1
        where = f"anchor {a.source or '?'} (entry {a.year}-{a.number}, day {a.day or '?'})"
        got = stored.get((a.year, a.number))
        if got is None:
            result.add(VerifyProblem(a.year, a.number, None,
                                     "the anchored entry is missing (ledger cut back)", where=where))
        elif got[0] != a.hash:
            result.add(VerifyProblem(a.year, a.number, None,
                                     f"ledger hash {got[0][:12]}… differs from the anchored "
                                     f"{a.hash[:12]}… (chain rewritten after the anchor)",
                                     where=where))
        elif a.mac and got[1] != a.mac and (not a.key_id or a.key_id == got[2]):
            # (a MAC under another key id is a rekey, ledger_rekey: the hash decides)
            result.add(VerifyProblem(a.year, a.number, None,
                                     "ledger MAC differs from the anchored one", where=where))


def _line_totals(year: int | None = None) -> list[dict]:
    totals: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    lines = Line.objects.all() if year is None else Line.objects.filter(year=year)
    rows = (lines.values("account_id", "year", "region__code", "unit__code",
                                "function__code", "economic__code", "fund_source__code",
                                "project_code")
            .annotate(d=Sum("debit_fen"), c=Sum("credit_fen")).order_by())
    for r in rows:
        key = "|".join((str(r["year"]), r["region__code"] or "", r["unit__code"] or "",
                        r["function__code"] or "", r["economic__code"] or "",
                        r["fund_source__code"] or "", r["project_code"]))
        t = totals[(r["account_id"], key)]
        t[0] += r["d"]
        t[1] += r["c"]
    return [{"account_id": k[0], "key": k[1], "d": v[0], "c": v[1]} for k, v in totals.items()]


def chain_heads(*, day: date | None = None) -> list[Anchor]:
    """Each fiscal year's chain head now (its last entry's number, hash and keyed MAC),
    labelled with `day` (default today): what an anchor remembers outside the database."""
    label = str(day or timezone.localdate())
    heads = []
    for seq in VoucherSequence.objects.filter(last_number__gt=0).order_by("fiscal_year"):
        e = (Entry.objects.filter(fiscal_year=seq.fiscal_year, number=seq.last_number)
             .select_related("keyed_mac").first())
        if e is None:
            continue
        mac = getattr(e, "keyed_mac", None)
        heads.append(Anchor(e.fiscal_year, e.number, e.hash, mac.mac if mac else "",
                            mac.key_id if mac else "", label))
    return heads
