"""Reads of the ledger: balances for any partial dimension tuple, trial balance, and
the verification that recomputes everything from the lines and the hash chain."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from finance import measures
from finance.chart import EntryKind
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
@dataclass
class VerifyProblem:
    fiscal_year: int
    number: int | None
    entry_id: int | None
    reason: str
    where: str = ""  # set by registered verifiers for what is not a ledger entry

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

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_broken(self) -> VerifyProblem | None:
        return self.problems[0] if self.problems else None


_verifiers: list[Callable[[VerifyResult], None]] = []


def register_verifier(verifier: Callable[[VerifyResult], None]) -> None:
    """Apps (e.g. audit's history seals) register extra checks from AppConfig.ready();
    `ledger_verify` runs them after the ledger's own checks. A verifier appends
    `VerifyProblem`s (with `where`) and may count what it checked in `result.checked`."""
    if verifier not in _verifiers:
        _verifiers.append(verifier)


def ledger_verify(*, chunk: int = 2000) -> VerifyResult:
    """Recompute every entry's content hash and the hash chain from the stored lines,
    check numbering, balancing per book, and every running balance; then run the
    registered verifiers."""
    result = VerifyResult()
    years = sorted(set(Entry.objects.values_list("fiscal_year", flat=True))
                   | set(VoucherSequence.objects.values_list("fiscal_year", flat=True)))
    for year in years:
        _verify_year(year, result, chunk)
    _verify_balances(result)
    for verifier in list(_verifiers):
        verifier(result)
    return result


def _verify_year(year: int, result: VerifyResult, chunk: int) -> None:
    seq = VoucherSequence.objects.filter(fiscal_year=year).first()
    prev = sha256(f"{GENESIS}|smart-finance|{year}")
    expected_number = 1
    entries = (Entry.objects.filter(fiscal_year=year).order_by("number")
               .select_related("source_type", "reverses"))
    broken = False
    while True:
        batch = list(entries.filter(number__gte=expected_number)[:chunk]) if not broken else []
        if not batch:
            break
        line_rows = defaultdict(list)
        for row in (Line.objects.filter(entry_id__in=[e.pk for e in batch]).order_by("entry_id", "seq")
                    .values_list("entry_id", "seq", "book", "account__code", "year",
                                 "region__code", "unit__code", "function__code",
                                 "economic__code", "fund_source__code", "project_code",
                                 "debit_fen", "credit_fen")):
            line_rows[row[0]].append(row)
        for e in batch:
            problem = _check_entry(e, expected_number, prev, line_rows.get(e.pk, []))
            result.entries_checked += 1
            result.lines_checked += len(line_rows.get(e.pk, []))
            if problem:
                result.problems.append(VerifyProblem(year, e.number, e.pk, problem))
                broken = True
                break
            prev = e.hash
            expected_number += 1
    if not broken and seq is not None and (seq.last_number != expected_number - 1 or seq.last_hash != prev):
        result.problems.append(VerifyProblem(
            year, expected_number, None,
            f"sequence head says entry {seq.last_number} with hash {seq.last_hash[:12]}…, "
            f"ledger ends at {expected_number - 1} with hash {prev[:12]}… (entries missing or added)"))


def _check_entry(e: Entry, expected_number: int, prev: str, rows: list[tuple]) -> str | None:
    if e.number != expected_number:
        return f"number {e.number} where {expected_number} was expected (gap or deletion)"
    if e.prev_hash != prev:
        return "previous-hash link does not match the previous entry"
    if len(rows) < 2:
        return f"has {len(rows)} lines"
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
            return f"book {book} does not balance: debit {fen_to_decimal(d)} credit {fen_to_decimal(c)}"
    source = (f"{e.source_type.app_label}.{e.source_type.model}:{e.source_id}"
              if e.source_type_id else "")
    content = canonical_content(
        year=e.fiscal_year, date=e.date.isoformat(), description=e.description, kind=e.kind,
        source=source, tracking_id=e.tracking_id,
        reverses=f"{e.reverses.fiscal_year}-{e.reverses.number}" if e.reverses_id else "",
        lines=content_lines,
    )
    if sha256(content) != e.content_hash:
        return "content does not match its hash (a line or field was changed)"
    expected = chain_hash(prev_hash=prev, number=e.number, content_hash=e.content_hash,
                          posted_by=e.posted_by_id, posted_at=e.posted_at)
    if expected != e.hash:
        return "entry hash does not match (header changed)"
    return None


def _verify_balances(result: VerifyResult) -> None:
    from_lines = {
        (r["account_id"], r["key"]): (r["d"], r["c"])
        for r in _line_totals()
    }
    stored = {(b.account_id, b.dim_key): (b.debit_fen, b.credit_fen)
              for b in Balance.objects.only("account_id", "dim_key", "debit_fen", "credit_fen")}
    result.balances_checked = len(stored)
    for key in sorted(set(from_lines) | set(stored), key=str):
        a = from_lines.get(key, (0, 0))
        b = stored.get(key, (0, 0))
        if a != b:
            result.problems.append(VerifyProblem(
                0, None, None,
                f"balance of account id {key[0]} on {key[1]} is Dr {fen_to_decimal(b[0])} "
                f"Cr {fen_to_decimal(b[1])}, lines sum to Dr {fen_to_decimal(a[0])} "
                f"Cr {fen_to_decimal(a[1])}"))


def _line_totals() -> list[dict]:
    totals: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = (Line.objects.values("account_id", "year", "region__code", "unit__code",
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
