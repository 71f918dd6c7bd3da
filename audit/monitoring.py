"""Monitoring (预警): the checks behind each rule, run on every posting (the ledger's
after-posting hook) and in a nightly sweep. Thresholds come from MonitoringRule rows.

A payment is any entry that debits 9301 (expended) in the control book. Who was paid
is not known to the ledger: apps register a payee resolver (`register_payee_resolver`);
without one, the source document's ``payee`` attribute is used when it has one."""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum, prefetch_related_objects
from django.utils import timezone

from audit.models import Alert, MonitoringRule
from audit.services import DEFAULT_RULES, alert_raise, monitoring_rule_get
from finance import chart
from finance.chart import EntryKind
from finance.models import Account, Entry, Line, fen_to_decimal

PAID = chart.EXPENDED
AUTHORITY = chart.AUTHORITY


@dataclass(frozen=True)
class Payee:
    key: str
    name: str
    is_individual: bool


_payee_resolvers: list[Callable[[Entry], Payee | None]] = []
_payee_prefetchers: dict[Callable[[Entry], Payee | None], Callable[[list[Entry]], None]] = {}


def register_payee_resolver(resolver: Callable[[Entry], Payee | None], *,
                            many: Callable[[list[Entry]], None] | None = None) -> None:
    """Payments registers how to find the payee of a payment entry; `many` (optional)
    finds the payees of several entries at once and remembers them on the entries, so
    that the resolver asks nothing more for them."""
    if resolver not in _payee_resolvers:
        _payee_resolvers.append(resolver)
    if many is not None:
        _payee_prefetchers[resolver] = many


def unregister_payee_resolver(resolver: Callable[[Entry], Payee | None]) -> None:
    if resolver in _payee_resolvers:
        _payee_resolvers.remove(resolver)
    _payee_prefetchers.pop(resolver, None)


def payees_prefetch(entries: list[Entry]) -> None:
    """Read what `payee_of` needs for many entries at once: each resolver's `many`, and
    the source documents (one query per kind) for the fallback to their `payee`."""
    if not entries:
        return
    for resolver in list(_payee_resolvers):
        many = _payee_prefetchers.get(resolver)
        if many is not None:
            many(entries)
    prefetch_related_objects([e for e in entries if e.source_type_id], "source")


def payee_of(entry: Entry) -> Payee | None:
    for resolver in list(_payee_resolvers):
        found = resolver(entry)
        if found is not None:
            return found
    payee = getattr(entry.source, "payee", None) if entry.source_type_id else None
    if payee is None:
        return None
    individual = bool(getattr(payee, "is_individual", False)
                      or getattr(payee, "kind", "") == "individual")
    return Payee(key=f"{payee._meta.label_lower}:{payee.pk}", name=f"{payee}",
                 is_individual=individual)


def _payees(entry_ids: list[int]) -> dict[int, Payee | None]:
    """The payees of many entries: the entries and what the resolvers need read in a few
    queries (not one entry at a time: the split rule looks at every other payment of the
    unit and code in its window, for every payment)."""
    if not entry_ids:
        return {}
    entries = list(Entry.objects.filter(pk__in=entry_ids))
    payees_prefetch(entries)
    return {e.pk: payee_of(e) for e in entries}


def _payees_of(entry_ids: list[int], known: dict[int, Payee | None] | None) -> dict[int, Payee | None]:
    """`_payees` of these entries, reading only those not already `known` (a batch's)."""
    known = known or {}
    missing = [i for i in entry_ids if i not in known]
    return {**known, **_payees(missing)} if missing else known


def _yuan(fen: int) -> str:
    return f"{fen_to_decimal(fen):,}"


def _fen(value: str) -> int:
    return int(Decimal(value) * 100)


def rules_all() -> dict[str, MonitoringRule]:
    """Every rule by code in one query, installing missing defaults on first use."""
    rules = {r.code: r for r in MonitoringRule.objects.all()}
    for code in DEFAULT_RULES:
        if code not in rules:
            rules[code] = monitoring_rule_get(code=code)
    return rules


@dataclass(frozen=True)
class _Payment:
    entry_id: int
    unit_id: int | None
    unit_code: str
    function_id: int | None
    economic_id: int | None
    economic_code: str
    fen: int
    date: dt.date | None = None


def _payments(q: Q) -> list[_Payment]:
    """Payment entries (net 9301 debits per entry) that are not reversed and are not
    reversals themselves."""
    rows = (Line.objects.filter(q, account__code=PAID, debit_fen__gt=0)
            .exclude(entry__kind=EntryKind.REVERSAL).filter(entry__reversed_by__isnull=True)
            .values("entry_id", "unit_id", "unit__code", "function_id", "economic_id",
                    "economic__code", "entry__date").annotate(fen=Sum("debit_fen"))
            .order_by("entry_id"))
    return [_Payment(r["entry_id"], r["unit_id"], r["unit__code"] or "", r["function_id"],
                     r["economic_id"], r["economic__code"] or "", r["fen"], r["entry__date"])
            for r in rows]


def _widest_window(rules: dict[str, MonitoringRule]) -> int:
    return max(int(rules["duplicate_payment"].params.get("window_days", 7)),
               int(rules["split_payment"].params.get("window_days", 7)))


def _nearby_many(pairs: list[tuple[Entry, _Payment]],
                 rules: dict[str, MonitoringRule]) -> dict[int, list[_Payment]]:
    """For each (entry, payment): the unit's payments on the same economic code within
    the widest window of the duplicate and split rules around the entry's date — read
    in one query for all of them, which both rules then narrow down. Keyed by the
    position of the pair."""
    days = _widest_window(rules)
    keyed = [(i, e, p) for i, (e, p) in enumerate(pairs)
             if p.unit_id is not None and p.economic_id is not None]
    found: dict[int, list[_Payment]] = {i: [] for i in range(len(pairs))}
    for i, (e, p) in enumerate(pairs):
        if p.unit_id is None or p.economic_id is None:  # matches on NULL: its own query
            found[i] = _payments(_window(e, days) & Q(unit_id=p.unit_id,
                                                      economic_id=p.economic_id))
    if not keyed:
        return found
    low = min(e.date for _i, e, _p in keyed) - dt.timedelta(days=days)
    high = max(e.date for _i, e, _p in keyed) + dt.timedelta(days=days)
    candidates = _payments(Q(entry__date__gte=low, entry__date__lte=high,
                             unit_id__in={p.unit_id for _i, _e, p in keyed},
                             economic_id__in={p.economic_id for _i, _e, p in keyed}))
    by_key: dict[tuple[int, int], list[_Payment]] = {}
    for c in candidates:
        by_key.setdefault((c.unit_id, c.economic_id), []).append(c)  # type: ignore[arg-type]
    for i, e, p in keyed:
        found[i] = _within(by_key.get((p.unit_id, p.economic_id), []), e, days)  # type: ignore[arg-type]
    return found


def _within(payments: list[_Payment], entry: Entry, days: int) -> list[_Payment]:
    low, high = entry.date - dt.timedelta(days=days), entry.date + dt.timedelta(days=days)
    return [p for p in payments if p.date is not None and low <= p.date <= high]


# ------------------------------------------------------------- on each posting
def entry_evaluate(entry: Entry, rules: dict[str, MonitoringRule] | None = None, *,
                   payment: bool = True) -> list[Alert]:
    """The after-posting hook: run every per-posting rule on one entry (`payment` False:
    the entry is known to debit no payment account, so only the time rule applies)."""
    return entries_evaluate([entry], rules, payment_ids=None if payment else set())


def entries_evaluate(entries: list[Entry], rules: dict[str, MonitoringRule] | None = None, *,
                     payment_ids: set[int] | None = None) -> list[Alert]:
    """`entry_evaluate` for many entries (one posting batch) with the same findings: the
    rules, the entries' payments, their neighbourhoods and their payees are each read in
    one query for all of them. `payment_ids`: the entries that may be payments (None:
    every entry); the others get only the time rule."""
    rules = rules or rules_all()
    ids = [e.pk for e in entries if payment_ids is None or e.pk in payment_ids]
    by_entry: dict[int, list[_Payment]] = {}
    for pay in _payments(Q(entry_id__in=ids)) if ids else []:
        by_entry.setdefault(pay.entry_id, []).append(pay)
    pairs = [(e, pay) for e in entries for pay in by_entry.get(e.pk, [])]
    nearby = _nearby_many(pairs, rules)
    payees_prefetch([e for e in entries if e.pk in by_entry])
    # the payees of every payment near any of them, read once for the duplicate and split
    # rules of all the entries (not once per payment)
    payees = _payees(sorted({p.entry_id for near in nearby.values() for p in near}))
    raised: list[Alert | None] = []
    december: dict[int, dict[int, dt.datetime]] = {}  # year → unit → its first payment's time
    n = 0
    for entry in entries:
        raised.append(outside_hours(entry, rules))
        for pay in by_entry.get(entry.pk, []):
            near, n = nearby[n], n + 1
            raised += [duplicate_payment(entry, pay, rules, near, payees),
                       split_payment(entry, pay, rules, near, payees),
                       individual_payee(entry, pay, rules)]
            if entry.month == 12 and pay.unit_id is not None:
                december.setdefault(entry.fiscal_year, {}).setdefault(pay.unit_id,
                                                                      entry.posted_at)
    # the spike is a unit's December total after the whole batch: once per unit, as the
    # first of its payments found it
    for year, units in december.items():
        raised += december_spikes(year=year, units=units, rules=rules)
    return [a for a in raised if a is not None]


def _hours(posted_at: dt.datetime, rule: MonitoringRule) -> tuple[bool, bool]:
    """(outside the rule's hours, on a weekend) for a posting time."""
    local = timezone.localtime(posted_at)
    start = dt.time.fromisoformat(rule.params.get("start", "08:00"))
    end = dt.time.fromisoformat(rule.params.get("end", "20:00"))
    weekend = bool(rule.params.get("weekends", True) and local.weekday() >= 5)
    return weekend or not start <= local.time() < end, weekend


def time_rule_evaluate(*, entry_id: int, posted_at: dt.datetime) -> list[Alert]:
    """The after-posting check of an entry known to debit no payment account: only the
    time rule applies, decided from the posting time; the entry is read only when it
    raises an alert (the same finding as `entry_evaluate(entry, payment=False)`)."""
    rules = rules_all()
    if not _hours(posted_at, rules["outside_hours"])[0]:
        return []
    entry = Entry.objects.filter(pk=entry_id).first()
    alert = outside_hours(entry, rules) if entry is not None else None
    return [alert] if alert is not None else []


def outside_hours(entry: Entry, rules: dict[str, MonitoringRule]) -> Alert | None:
    rule = rules["outside_hours"]
    local = timezone.localtime(entry.posted_at)
    outside, weekend = _hours(entry.posted_at, rule)
    if not outside:
        return None
    when = local.strftime("%Y-%m-%d %H:%M")
    return alert_raise(rule=rule, fingerprint=f"{entry.pk}", entry=entry, year=entry.fiscal_year,
                       message=f"Entry {entry.fiscal_year}-{entry.number} was posted at {when} "
                               f"({'weekend' if weekend else 'outside ' + rule.params.get('start', '08:00') + '–' + rule.params.get('end', '20:00')}).",
                       as_of=entry.posted_at)


def _window(entry: Entry, days: int) -> Q:
    return Q(entry__date__gte=entry.date - dt.timedelta(days=days),
             entry__date__lte=entry.date + dt.timedelta(days=days))


def duplicate_payment(entry: Entry, pay: _Payment, rules: dict[str, MonitoringRule],
                      nearby: list[_Payment] | None = None,
                      payees: dict[int, Payee | None] | None = None) -> Alert | None:
    """Another live payment of the same amount, unit, function and economic code (and
    payee, when known) within the window. `nearby`: the unit's payments on the economic
    code in a window at least as wide (read once for this rule and the split rule);
    `payees`: payees of entries already read (by entry id)."""
    rule = rules["duplicate_payment"]
    days = int(rule.params.get("window_days", 7))
    if nearby is None:
        nearby = _payments(_window(entry, days) & Q(unit_id=pay.unit_id,
                                                    economic_id=pay.economic_id))
    others = [p for p in _within(nearby, entry, days)
              if p.function_id == pay.function_id and p.entry_id != entry.pk
              and p.fen == pay.fen]
    if not others:
        return None
    payee = payee_of(entry)
    if payee is not None:
        known = _payees_of([p.entry_id for p in others], payees)
        others = [p for p in others
                  if (other := known.get(p.entry_id)) is None or other.key == payee.key]
    if not others:
        return None
    first = min(p.entry_id for p in others)
    refs = ", ".join(_entry_ref(p.entry_id) for p in others)
    return alert_raise(rule=rule, fingerprint=f"{min(first, entry.pk)}:{max(first, entry.pk)}",
                       entry=entry, year=entry.fiscal_year, unit_code=pay.unit_code,
                       amount_fen=pay.fen, as_of=entry.posted_at,
                       message=f"Payment {entry.fiscal_year}-{entry.number} of {_yuan(pay.fen)} by "
                               f"unit {pay.unit_code} repeats {refs} within {days} days.",
                       details={"entries": sorted([entry.pk, *(p.entry_id for p in others)])})


def split_payment(entry: Entry, pay: _Payment, rules: dict[str, MonitoringRule],
                  nearby: list[_Payment] | None = None,
                  payees: dict[int, Payee | None] | None = None) -> Alert | None:
    """Several payments of one unit and economic code (same payee when known), each
    below the approval threshold, together reaching it within the window."""
    rule = rules["split_payment"]
    threshold = _fen(rule.params.get("threshold", "100000.00"))
    days = int(rule.params.get("window_days", 7))
    min_count = int(rule.params.get("min_count", 2))
    if pay.fen >= threshold:
        return None
    if nearby is None:
        nearby = _payments(_window(entry, days) & Q(unit_id=pay.unit_id,
                                                    economic_id=pay.economic_id))
    group = [p for p in _within(nearby, entry, days) if p.fen < threshold]
    payee = payee_of(entry)
    if payee is not None:
        others = _payees_of([p.entry_id for p in group if p.entry_id != entry.pk], payees)
        group = [p for p in group if p.entry_id == entry.pk
                 or (other := others.get(p.entry_id)) is None or other.key == payee.key]
    total = sum(p.fen for p in group)
    if len(group) < min_count or total < threshold:
        return None
    first = min(p.entry_id for p in group)
    return alert_raise(rule=rule, fingerprint=f"{pay.unit_code}:{pay.economic_code}:{first}",
                       entry=entry, year=entry.fiscal_year, unit_code=pay.unit_code,
                       amount_fen=total, as_of=entry.posted_at,
                       message=f"{len(group)} payments by unit {pay.unit_code} on economic code "
                               f"{pay.economic_code}, each below {_yuan(threshold)}, total "
                               f"{_yuan(total)} within {days} days.",
                       details={"entries": sorted(p.entry_id for p in group)})


def individual_payee(entry: Entry, pay: _Payment, rules: dict[str, MonitoringRule]) -> Alert | None:
    rule = rules["individual_payee"]
    threshold = _fen(rule.params.get("threshold", "50000.00"))
    payee = payee_of(entry)
    if payee is None or not payee.is_individual or pay.fen <= threshold:
        return None
    return alert_raise(rule=rule, fingerprint=f"{entry.pk}", entry=entry, year=entry.fiscal_year,
                       unit_code=pay.unit_code, amount_fen=pay.fen, as_of=entry.posted_at,
                       message=f"Payment {entry.fiscal_year}-{entry.number} of {_yuan(pay.fen)} to "
                               f"an individual ({payee.name}) is above {_yuan(threshold)}.")


def _per_unit(year: int, account: str, q: Q | None = None) -> dict[int, tuple[str, int]]:
    acc = Account.objects.get(code=account)
    rows = (Line.objects.filter(q or Q(), account=acc, year=year, unit__isnull=False)
            .values("unit_id", "unit__code").annotate(d=Sum("debit_fen"), c=Sum("credit_fen"))
            .order_by())
    sign = 1 if acc.normal_side == "debit" else -1
    return {r["unit_id"]: (r["unit__code"], sign * ((r["d"] or 0) - (r["c"] or 0))) for r in rows}


def december_spike(*, year: int, unit_id: int | None, as_of: dt.datetime,
                   rules: dict[str, MonitoringRule]) -> Alert | None:
    """December payments of a unit above a share of its annual authority (指标)."""
    if unit_id is None:
        return None
    found = december_spikes(year=year, units={unit_id: as_of}, rules=rules)
    return found[0] if found else None


def december_spikes(*, year: int, units: dict[int, dt.datetime],
                    rules: dict[str, MonitoringRule]) -> list[Alert]:
    """`december_spike` for many units of one year (unit id → the time to raise at), with
    the units' authority and December payments read in one query each — not two queries
    per payment: a unit's lines grow all year, and December's 100,000 payments each
    summing them again was most of the month's bank files at 3,000 units."""
    if not units:
        return []
    rule = rules["december_spike"]
    share = Decimal(rule.params.get("share", "0.30"))
    ids = sorted(units)
    authorities = _per_unit(year, AUTHORITY, Q(unit_id__in=ids))
    decembers = _per_unit(year, PAID, Q(unit_id__in=ids, entry__month=12))
    raised = []
    for unit_id, as_of in units.items():
        authority, december = authorities.get(unit_id), decembers.get(unit_id)
        if not authority or not december or authority[1] <= 0:
            continue
        if Decimal(december[1]) <= share * authority[1]:
            continue
        alert = alert_raise(
            rule=rule, fingerprint=f"{year}:{authority[0]}", year=year, unit_code=authority[0],
            amount_fen=december[1], as_of=as_of,
            message=f"Unit {authority[0]} paid {_yuan(december[1])} in December {year}, "
                    f"{_pct(Decimal(december[1]) / authority[1])} of its annual "
                    f"indicator {_yuan(authority[1])} (limit {_pct(share)}).")
        if alert is not None:
            raised.append(alert)
    return raised


def _pct(x: Decimal) -> str:
    return f"{(x * 100).quantize(Decimal('0.1'))}%"


# ------------------------------------------------------------------ nightly sweep
def execution_lag(*, year: int, on: dt.date, as_of: dt.datetime,
                  rules: dict[str, MonitoringRule]) -> list[Alert]:
    """Units whose paid/authority rate trails the share of the year elapsed by more
    than the tolerance (预算执行进度)."""
    rule = rules["execution_lag"]
    tolerance = Decimal(rule.params.get("tolerance", "0.15"))
    minimum = _fen(rule.params.get("min_authority", "10000.00"))
    if on.year != year:
        return []
    days = 366 if calendar.isleap(year) else 365
    elapsed = Decimal(on.timetuple().tm_yday) / days
    paid = _per_unit(year, PAID)
    raised = []
    for unit_id, (code, authority) in sorted(_per_unit(year, AUTHORITY).items()):
        if authority < minimum:
            continue
        rate = Decimal(paid.get(unit_id, (code, 0))[1]) / authority
        if rate >= elapsed - tolerance:
            continue
        alert = alert_raise(
            rule=rule, fingerprint=f"{year}:{code}:{on.month:02d}", year=year, unit_code=code,
            amount_fen=authority, as_of=as_of,
            message=f"Unit {code} has paid {_pct(rate)} of its indicator {_yuan(authority)} by "
                    f"{on.isoformat()}, {_pct(elapsed)} of the year has elapsed "
                    f"(tolerance {_pct(tolerance)}).",
            details={"rate": str(rate.quantize(Decimal('0.0001'))),
                     "elapsed": str(elapsed.quantize(Decimal('0.0001')))})
        if alert:
            raised.append(alert)
    return raised


def monitoring_sweep(*, on: dt.date | None = None, as_of: dt.datetime | None = None) -> list[Alert]:
    """The nightly sweep over the year of `on`: execution lag and December spikes for
    every unit, and the per-posting rules again for the day's entries (in case a hook
    did not run)."""
    as_of = as_of or timezone.now()
    on = on or timezone.localdate(as_of)
    rules = rules_all()
    raised = execution_lag(year=on.year, on=on, as_of=as_of, rules=rules)
    from audit.pace import execution_pace_sweep  # graded 序时进度 (its own alerts)

    execution_pace_sweep(on=on, as_of=as_of, rule=rules["execution_pace"])
    from audit.cards import card_overdue_sweep  # 公务卡 unrepaid past the limit

    raised += card_overdue_sweep(on=on, as_of=as_of, rule=rules["card_overdue"])
    if on.month == 12:
        raised += december_spikes(year=on.year, units=dict.fromkeys(
            _per_unit(on.year, PAID, Q(entry__month=12)), as_of), rules=rules)
    for entry in Entry.objects.filter(date=on).order_by("id"):
        raised += entry_evaluate(entry, rules)
    return raised


def _entry_ref(entry_id: int) -> str:
    e = Entry.objects.only("fiscal_year", "number").get(pk=entry_id)
    return f"{e.fiscal_year}-{e.number}"


def after_posting(entry: Any) -> None:
    """Registered with finance.ledger.register_after_posting from AuditConfig.ready()."""
    entry_evaluate(entry)
