"""The whole city-year through the real services: a synthetic city (regions, departments,
budget and non-tax units, agent banks, payees), its projects, 二上二下, monthly payments
with bank files, adjustments, closes, final accounts and disclosure.

Every step is idempotent so an interrupted run resumes: documents are found again by
deterministic codes (project codes, contract references, 文号, bank references) or by
their status, and random figures come from a generator seeded per key, never from one
stream whose position would depend on what was already done."""
from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import OperationalError, connection, transaction
from django.db.models import Q, Sum

from audit.models import PaceAlert
from budgets import services as budgets
from budgets.importers.projects import parse_projects
from budgets.models import Adjustment, BudgetPlan, Project
from budgets.validation import PlanLineInput
from citysim import banks
from finance import chart
from finance import roles as finance_roles
from finance import selectors as finance_selectors
from finance import services as finance
from finance.dimensions import ProjectCategory
from finance.ids import make_uscc
from finance.ledger import Dims, retryable
from finance.measures import SANGONG
from finance.models import Book, Entry, FiscalYear, Line, Organization, Period, Region
from finance.processes import in_processes
from payments import rules as payment_rules
from payments import services as payments
from payments.models import (
    AgentAccount,
    CardTransaction,
    Contract,
    Membership,
    Payee,
    PaymentPlan,
    PaymentRequest,
    PayrollBatch,
    ReconException,
    Voucher,
)
from payments.services._common import _dim_kwargs  # the plan's dimension fields
from payments.services.cards import REPAYMENT_PURPOSE as CARD_PURPOSE
from payments.services.payroll import PURPOSE as PAYROLL_PURPOSE
from reports import render as report_render
from reports import selectors as report_selectors
from reports import services as reports
from reports import tables as report_tables
from reports.models import DisclosureSet
from reports.render import tables_pdf, tables_xlsx

SH = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed for the local demo only
CITY = "440300"
# department kinds: (name, function code of its units)
DEPARTMENTS = [
    ("教育局", "2050203"), ("卫生健康局", "2100101"), ("交通运输局", "2140101"),
    ("财政局机关", "2010601"), ("审计局", "2010801"), ("住房和建设局", "2120101"),
]
AGENT_BANKS = [  # CNAPS of the agent bank's Shenzhen branch, name
    ("102584000002", "中国工商银行深圳分行"), ("105584000005", "中国建设银行深圳分行"),
    ("103584000003", "中国农业银行深圳分行"), ("104584000003", "中国银行深圳分行"),
    ("301584000016", "交通银行深圳分行"), ("308584000013", "招商银行深圳分行"),
    ("302584044461", "中信银行深圳分行"), ("303584000012", "中国光大银行深圳分行"),
    ("403584000039", "中国邮政储蓄银行深圳分行"),
]
PAYEE_KINDS = ["科技有限公司", "印务有限公司", "建设工程有限公司", "物业管理有限公司",
               "医疗器械有限公司", "餐饮服务有限公司", "信息技术有限公司", "办公用品有限公司"]
# A unit's budget lines (部门预算支出经济分类: each code a leaf of
# finance/data/codes/economic_codes_department.csv), by project: (code, weight of the
# project's amount). 人员类: pay and social insurance, 303 for the units with retirees;
# 运转类: 公用经费, plus the "三公" (finance.measures.SANGONG) for a third of the units;
# 特定目标类: equipment and commissioned work.
PERSONNEL_LINES = (("30101", 45), ("30102", 35), ("30108", 20))
RETIREES_LINE = ("30302", 10)
RUNNING_LINES = (("30201", 40), ("30206", 25), ("30211", 35))
SPECIFIC_LINES = (("31002", 40), ("30227", 60))
ECONOMIC_NAMES = {  # for the requests' purpose
    "30101": "基本工资", "30102": "津贴补贴", "30108": "养老保险缴费", "30302": "退休费",
    "30201": "办公费", "30206": "电费", "30211": "差旅费", "31002": "办公设备购置",
    "30227": "委托业务费", SANGONG["hosting"]: "公务接待费",
    SANGONG["car_run"]: "公务用车运行维护费", SANGONG["abroad"]: "因公出国（境）费用",
    SANGONG["car_buy"]: "公务用车购置"}
# one request per unit and month, by a six-month rota (each unit starts at its own place):
# pay every other month, running costs twice (the second a "三公" payment for the units
# that have them) and a specific-purpose instalment once every six months
ROTA = ("personnel", "running", "personnel", "specific", "personnel", "sangong")
# with --payments N (per unit per month) the month's bill is split into N payments, more or
# fewer by season: quiet in January and February, December's peak (年底突击花钱) nearly
# twice the average; the weights average 1 over the year
MONTH_WEIGHT = (Decimal("0.6"), Decimal("0.7"), Decimal("0.9"), Decimal("1.0"), Decimal("1.0"),
                Decimal("1.1"), Decimal("0.9"), Decimal("0.9"), Decimal("1.0"), Decimal("1.0"),
                Decimal("1.1"), Decimal("1.8"))
REALISTIC_PAYMENTS = 20  # a city unit pays about 20 times a month (the command's default)
RETURN_REASON = "收款账号户名不符"
# 工资统发 and 公务卡 (issue 21): every eighth unit (the first among them, so the printed
# filer has both) pays its staff through the payroll file and repays its official cards
PAYROLL_STAFF = 2  # people on a unit's payroll file (the rest of its pay goes by request)
PAYROLL_SHARE = Decimal("0.02")  # a month's gross pay: 2 % of the unit's 30101 line
CARD_LINE = "30211"  # 差旅费: what the cards pay (repaid from the running project's line)
# the collecting bodies of the amounts withheld from pay (kind: name, account, bank index)
WITHHOLDING_PAYEES = {"tax": ("国家税务总局深圳市税务局", "44030000000000001", 0),
                      "social": ("深圳市社会保险基金管理局", "44030000000000002", 1),
                      "housing": ("深圳市住房公积金管理中心", "44030000000000003", 5)}
FEE_REASON = "银行手续费，经核实与支付无关"
ROLE_USERS = {  # username: (role description, groups, permissions)
    "admin": ("超级管理员：所有页面和后台", [], []),
    "bureau": ("财政局预算处：控制数、批复、预算调整、结账",
               [finance_roles.BUDGET_OFFICE], []),
    "reviewer": ("国库支付审核", [payments.REVIEWER], []),
    "director": ("国库处长（大额支付审批）", [payments.DIRECTOR], []),
    "discloser": ("信息公开：审核并发布公开报表", [],
                  ["reports.approve_disclosure", "reports.publish_disclosure",
                   "reports.review_disclosure_confidentiality"]),
    "auditor": ("审计：查阅全部数据，不作修改", ["auditor"], []),
}
# the stages a request of the open month is left at (CityYear.stage): where each login
# finds work waiting
DRAFT, UNIT, TREASURY, DIRECTOR, APPROVED, ISSUED, PAID = (
    "draft", "unit", "treasury", "director", "approved", "issued", "paid")
STAGE_CYCLE = (TREASURY, APPROVED, ISSUED, DIRECTOR, DRAFT, UNIT)


def _rng(seed: int, *key: object) -> random.Random:
    """A generator per key: the same figure whatever was already done (resumability)."""
    digest = hashlib.sha256(":".join(map(str, (seed, *key))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - synthetic data


def _workday(day: dt.date) -> dt.date:
    """The nearest working day (Monday-Friday): forward early in a month, backward late in
    it, so the day stays in its month. Monitoring flags weekend postings."""
    step = dt.timedelta(days=-1 if day.day > 25 else 1)
    while day.weekday() >= 5:
        day += step
    return day


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """Office hours on a working day in Shanghai (monitoring flags postings outside
    08:00-20:00 and at weekends)."""
    day = _workday(day)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """A distinct-looking amount in yuan with cents."""
    return (Decimal(rng.randrange(low * 100, high * 100)) / 100).quantize(CENT)


@dataclass
class UnitSpec:
    code: str
    name: str
    region: str
    department: str
    function: str
    agent: int  # index into AGENT_BANKS
    rota: int = 0  # where the unit starts in ROTA
    sangong: bool = False  # its running project carries "三公" lines (a third of the units)

    @property
    def personnel(self) -> str:
        """人员类 project (basic spending)."""
        return f"{self.code}-RY01"

    @property
    def running(self) -> str:
        """运转类 project (basic spending)."""
        return f"{self.code}-GY01"

    @property
    def specific(self) -> str:
        """特定目标类 project (项目支出)."""
        return f"{self.code}-XM01"

    @property
    def projects(self) -> tuple[tuple[str, str, str], ...]:
        """(code, category, name) of its projects in the library."""
        return ((self.personnel, ProjectCategory.PERSONNEL, "人员经费"),
                (self.running, ProjectCategory.RUNNING, "运转经费"),
                (self.specific, ProjectCategory.SPECIFIC, "专项业务经费"))


@dataclass(frozen=True)
class BudgetLine:
    """A line of a unit's final budget on one of its own projects; `kind` (a ROTA entry)
    says how the monthly requests pay it."""

    kind: str
    project: str
    function: str
    economic: str
    amount: Decimal


@dataclass
class Outcome:
    year: int
    units: int
    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    verify_ok: bool = False
    files: dict[str, str] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per step
    waiting: dict[str, str] = field(default_factory=dict)  # login: its work waiting (Chinese)
    worker_pids: set[int] = field(default_factory=set)


class CityYear:
    """One city-year; `run()` does every step that is not done yet."""

    def __init__(self, *, units: int, year: int, out: Path, months: int = 12, seed: int = 2026,
                 nontax: int = 5, stdout: TextIO | None = None, workers: int = 1,
                 open_through: int | None = None, payments: int = 1) -> None:
        self.n_units, self.year, self.out, self.months, self.seed = units, year, out, months, seed
        self.payments = max(1, payments)  # requests per unit per month on average
        # an open year: months 1..open_through run and closed, the next month's work left
        # waiting at each stage, no year-end close (the quarters' plans cover all 12 months)
        self.open_through = open_through
        if open_through is not None:
            self.months = 12
        self.n_nontax = nontax
        self.stdout = stdout or sys.stdout
        self.users: dict[str, Any] = {}
        self.units: list[UnitSpec] = []
        self.workers = max(1, workers)
        self.seconds: dict[str, float] = {}
        self.worker_pids: set[int] = set()  # processes that did per-unit work
        self._investment_amounts: dict[str, Decimal] = {}  # per-run cache of the feed's plans
        self._budgets: dict[str, list[BudgetLine]] = {}  # per-run cache of budget_lines()
        self._month_fresh = False  # set by requests(): the month had no request yet
        self._roles_read = False  # the users' role caches are filled (requests())
        self._started: dict[str, float] = {}  # progress label → when it began (its time)
        self._instalments_filed: set[str] = set()  # units whose instalment is filed (month)
        self._autovacuum: bool | None = None  # PostgreSQL's setting (stats_fresh)
        self.analyzed = 0  # tables ANALYZEd by stats_fresh
        self.vacuumed = 0  # of them also VACUUMed

    # ------------------------------------------------------------------ helpers
    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def progress(self, label: str, done: int, total: int, *, force: bool = False) -> None:
        tty = getattr(self.stdout, "isatty", lambda: False)()
        step = max(total // 10, 1)
        started = self._started.setdefault(label, time.perf_counter())
        if force or done == total or (tty or done % step == 0):
            width = 30
            filled = width * done // max(total, 1)
            end = "\n" if done == total or not tty else "\r"
            took = f" {time.perf_counter() - started:.1f} s" if done == total else ""
            self.stdout.write(f"  {label:28s} [{'#' * filled}{'.' * (width - filled)}] "
                              f"{done}/{total}{took}{end}")
            self.stdout.flush()

    def stats_fresh(self) -> None:
        """With PostgreSQL's autovacuum off (as on the CI machine: autovacuum = off), do what
        autovacuum does on a production server within a minute, by its own default
        thresholds: VACUUM ANALYZE a table with more dead rows than 50 + 20 % of its live
        ones, ANALYZE one changed by more than 50 rows + 10 % since it was last analysed
        (inside a transaction, where VACUUM cannot run, ANALYZE only). Without it a run of
        this size plans every query with the statistics of an empty database — the
        treasury's review read every workflow step of the reviewer per batch (402 ms
        against 17 ms for one look-up at 300 units × 3 months) — and every update leaves
        its dead row behind: by May of the 3,000-unit year the requests table held 1.18
        million dead rows beside 262,000 live ones (373 MB), and each month's steps took
        longer than the last at the same volume. Called before each step and each list of
        a step."""
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cur:
            if self._autovacuum is None:
                cur.execute("SHOW autovacuum")
                self._autovacuum = cur.fetchone()[0] == "on"
            if self._autovacuum:
                return
            cur.execute("SELECT schemaname, relname, "
                        "n_dead_tup > 50 + 0.2 * greatest(n_live_tup, 0) FROM pg_stat_user_tables "
                        "WHERE n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 0) "
                        "OR n_dead_tup > 50 + 0.2 * greatest(n_live_tup, 0) ORDER BY relname")
            for schema, table, dead in cur.fetchall():
                if dead and not connection.in_atomic_block:
                    cur.execute(f'VACUUM (ANALYZE) "{schema}"."{table}"')
                    self.vacuumed += 1
                else:
                    cur.execute(f'ANALYZE "{schema}"."{table}"')
                self.analyzed += 1

    @contextlib.contextmanager
    def timed(self, label: str) -> Iterator[None]:
        """A step that is one call, not a list: its time in the progress, as `each` prints
        a list's."""
        self.stats_fresh()
        t0 = time.perf_counter()
        yield
        self.stdout.write(f"  {label:28s} {time.perf_counter() - t0:.1f} s\n")
        self.stdout.flush()

    def each(self, label: str, items: list, fn: Callable[[Any], None], *,
             atomic: bool = True) -> None:
        """`fn(item)` for each item, one transaction per item (its steps are one unit of
        work); `atomic` False: the item is one service call, which is its own transaction
        (no savepoint inside an outer one)."""
        self.stats_fresh()
        self._started[label] = time.perf_counter()
        for i, item in enumerate(items, start=1):
            with transaction.atomic() if atomic else contextlib.nullcontext():
                fn(item)
            self.progress(label, i, len(items))
        if not items:
            self.progress(label, 0, 0)

    def parallel(self) -> bool:
        """Worker processes only on PostgreSQL (SQLite has one writer; the demo stays
        single-process)."""
        return self.workers > 1 and connection.vendor == "postgresql"

    def each_unit(self, label: str, method: str, *args: Any, atomic: bool = True,
                  units: list[UnitSpec] | None = None) -> None:
        """`getattr(self, method)(unit, *args)` for every unit (or those of `units`), one
        transaction per unit (`atomic` False: the method's services commit as they go).
        With `workers` > 1 on PostgreSQL, departments are handed out to forked worker
        processes (each opens its own connection); the coordinator waits for all of them."""
        units = self.units if units is None else units
        if not self.parallel():
            self.each(label, units, lambda u: getattr(self, method)(u, *args), atomic=atomic)
            return
        self.fan_out(label, method, list(self.units_by_department(units).values()), args,
                     atomic=atomic)

    def units_by_department(self, units: list[UnitSpec] | None = None
                            ) -> dict[str, list[UnitSpec]]:
        """The units (all, or `units`) of each department, the largest departments first
        (the order in which worker tasks are handed out, so the longest ones do not come
        last)."""
        by_dept: dict[str, list[UnitSpec]] = defaultdict(list)
        for u in self.units if units is None else units:
            by_dept[u.department].append(u)
        return {d: by_dept[d] for d in sorted(by_dept, key=lambda d: -len(by_dept[d]))}

    def each_department(self, label: str, method: str, *args: Any) -> None:
        """`getattr(self, method)(a department's units, *args)` for every department, a
        transaction per department (handed out to the workers when parallel)."""
        chunks = list(self.units_by_department().values())
        if self.parallel():
            self.fan_out(label, method, [[c] for c in chunks], args)
        else:
            self.each(label, chunks, lambda c: getattr(self, method)(c, *args))

    def in_batches(self, label: str, ids: list[int], method: str, *args: Any) -> None:
        """`getattr(self, method)(batch of ids, *args)` for `ids` in batches of
        REVIEW_BATCH, a transaction per batch (handed out to the workers when parallel and
        there is more than one)."""
        n = self.REVIEW_BATCH
        batches = [ids[i:i + n] for i in range(0, len(ids), n)]
        if self.parallel() and len(batches) > 1:
            self.fan_out(label, method, [[b] for b in batches], args)
        else:
            self.each(label, batches, lambda b: getattr(self, method)(b, *args))

    def fan_out(self, label: str, method: str, chunks: list[list[Any]], args: tuple,
                *, atomic: bool = True) -> None:
        """`getattr(self, method)(item, *args)` for every item of every chunk, a chunk per
        task of a pool of `workers` forked processes; one transaction per item if `atomic`
        (else the method's services commit as they go, like the single-process run)."""
        global _SIM  # noqa: PLW0603 - the forked workers inherit the run's state through it
        self.stats_fresh()
        _SIM = self
        done, total = 0, sum(map(len, chunks))
        self._started[label] = time.perf_counter()
        try:
            step = max(total // 10, 1)
            for n, pid in in_processes(_worker_chunk, [(method, args, c, atomic) for c in chunks],
                                       self.workers, ordered=False):
                before, done = done, done + n
                self.worker_pids.add(pid)
                if done == total or before // step != done // step:  # every tenth
                    self.progress(label, done, total, force=True)
        finally:
            _SIM = None

    # ------------------------------------------------------------------ the run
    def run(self) -> Outcome:
        from audit import seals

        before = seals.ON_WRITE
        if self.parallel():  # worker processes write history at once: seal at the end
            seals.ON_WRITE = False
        try:
            return self._run()
        finally:
            seals.ON_WRITE = before

    def _run(self) -> Outcome:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("people and roles", self.people),
            ("city, districts, departments, units", self.organizations),
            ("banks and payees", self.banks),
            ("control rules (控制方式), year-end policy, official cards", self.policies),
            ("project library", self.projects),
            ("investment projects (发改委 feed)", self.investment_projects),
            ("budget plans 一上 → 一下 → 二上 → 批复", self.plans),
            ("contracts signed (合同, paid in instalments)", self.contracts),
        ]
        last = self.months if self.open_through is None else self.open_through
        for month in range(1, last + 1):
            steps.append((f"month {month:02d}: payments, bank files, close",
                          lambda m=month: self.month(m)))
        if self.open_through is None:
            steps += [("remaining month closes", self.month_closes),
                      ("year-end close (open commitments carried)", self.year_close),
                      ("performance self-evaluations (绩效自评)", self.performance),
                      ("disclosure sets published", self.disclosure)]
        else:
            steps += [(f"execution pace alerts (序时进度) at the end of month {last:02d}", self.pace),
                      (f"month {last + 1:02d}: work left waiting at each stage", self.stage),
                      (f"{self.year + 1} budget 一上 filed, in review", self.next_year_plans),
                      (f"{self.year} budget disclosure (one department in draft)",
                       self.budget_disclosure)]
        steps.append(("outputs", self.outputs))
        if self.workers > 1 and not self.parallel():
            self.say(f"--workers {self.workers} ignored: worker processes need PostgreSQL")
        for n, (label, fn) in enumerate(steps, start=1):
            self.say(f"[{n}/{len(steps)}] {label}")
            t0 = time.perf_counter()
            self.stats_fresh()
            fn()
            self.seconds[label] = round(time.perf_counter() - t0, 1)
            self.say(f"  {self.seconds[label]} s")
        return self.outcome

    # ------------------------------------------------------------------ people
    def people(self) -> None:
        user_model = get_user_model()
        self.password_hash = make_password(DEMO_PASSWORD)
        finance.fiscal_year_open(year=self.year, user=None)
        for name, (_, groups, perms) in ROLE_USERS.items():
            u = self._user(name, is_staff=True, is_superuser=name in ("admin", "bureau"))
            for g in groups:
                u.groups.add(Group.objects.get_or_create(name=g)[0])
            for p in perms:
                app, codename = p.split(".")
                u.user_permissions.add(Permission.objects.get(content_type__app_label=app,
                                                              codename=codename))
        self.users = {n: user_model.objects.get(username=n) for n in ROLE_USERS}

    def _user(self, username: str, **extra: Any) -> Any:
        return get_user_model().objects.get_or_create(
            username=username, defaults={**extra, "password": self.password_hash})[0]

    # ------------------------------------------------------------------ organizations
    def organizations(self) -> None:
        admin = self.users["admin"]
        mk = finance.organization_upsert
        regions = [CITY, *Region.objects.filter(level="district", parent__code=CITY)
                   .order_by("code").values_list("code", flat=True)][:12]
        names = dict(Region.objects.filter(code__in=regions).values_list("code", "name"))
        mk(code=f"{CITY}001", name="深圳市财政局", kind="bureau", region_code=CITY,
           uscc=make_uscc(CITY, 1), user=admin, reason="city set-up")
        depts: list[tuple[str, str, str, str]] = []  # code, name, region, function
        for region in regions:
            for d, (dname, function) in enumerate(DEPARTMENTS, start=1):
                code = f"{region}{d:02d}0"
                depts.append((code, f"{names[region]}{dname}", region, function))
        units = []
        for i in range(self.n_units):
            code, dname, region, function = depts[i % len(depts)]
            k = i // len(depts) + 1
            unit_code = f"{code}{k:03d}"
            units.append(UnitSpec(code=unit_code, name=f"{dname}下属单位{k}", region=region,
                                  department=code, function=function, agent=i % len(AGENT_BANKS),
                                  rota=_rng(self.seed, "rota", unit_code).randrange(len(ROTA)),
                                  sangong=i % 3 == self.seed % 3))
        used = {u.department for u in units}
        depts = [d for d in depts if d[0] in used]

        def one_dept(d: tuple[str, str, str, str]) -> None:
            mk(code=d[0], name=d[1], kind="department", region_code=d[2],
               uscc=make_uscc(d[2], int(d[0][6:])), parent_code=f"{CITY}001", user=admin,
               reason="city set-up")

        self.each("departments", depts, one_dept)
        self.units = units
        self._unit_groups = (Group.objects.get_or_create(name=payments.FILER)[0],
                             Group.objects.get_or_create(name=payments.UNIT_HEAD)[0])
        self._members = set(Membership.objects.values_list("user__username", flat=True))
        if self.parallel():  # a department's units per worker task, a transaction per unit
            self.fan_out("budget units, filers and heads", "unit_setup",
                         list(self.units_by_department().values()), ())
        else:
            with transaction.atomic():  # one commit (SQLite)
                self.each("budget units, filers and heads", units, self.unit_setup)
        for j in range(self.n_nontax):
            region = regions[j % len(regions)]
            mk(code=f"{region}9{j:04d}", name=f"{names[region]}非税收入执收单位{j + 1}",
               kind="nontax_unit", region_code=region, uscc=make_uscc(region, 90000 + j),
               parent_code=f"{CITY}001", user=admin, reason="city set-up")
        self.units = units
        self.depts = sorted(used)
        self.dept_reviewers = {}
        for dept in self.depts:
            self.dept_reviewers[dept] = self._user(f"dept-{dept}")
            finance.membership_set(member=self.dept_reviewers[dept], user=admin,  # its reviewer
                                   organization=Organization.objects.get(code=dept))
        self.dept_heads = {}  # 主要负责人: signs the department's disclosure sets
        head_group = self._unit_groups[1]
        for dept in self.depts:
            name = f"dept-head-{dept}"
            self.dept_heads[dept] = person = self._user(name)
            if name not in self._members:
                person.groups.add(head_group)
                finance.membership_set(member=person, user=admin,
                                       organization=Organization.objects.get(code=dept))
        self._unit_people()

    def unit_setup(self, u: UnitSpec) -> None:
        """A budget unit, and its filer and unit head (payments roles are groups and a
        membership); each step is skipped when it is already done."""
        admin = self.users["admin"]
        org = finance.organization_upsert(
            code=u.code, name=u.name, kind="budget_unit", region_code=u.region,
            uscc=make_uscc(u.region, int(u.code[6:])), parent_code=u.department, user=admin,
            reason="city set-up")
        for prefix, group in zip(("filer", "head"), self._unit_groups, strict=True):
            name = f"{prefix}-{u.code}"
            person = self._user(name)
            if name not in self._members:
                person.groups.add(group)
                payments.membership_set(member=person, organization=org, user=admin)

    def _unit_people(self) -> None:
        """Every unit's filer and head, read in one query."""
        names = [f"{p}-{u.code}" for u in self.units for p in ("filer", "head")]
        by_name = {x.username: x for x in get_user_model().objects.filter(username__in=names)}
        self.filers = {u.code: by_name[f"filer-{u.code}"] for u in self.units}
        self.heads = {u.code: by_name[f"head-{u.code}"] for u in self.units}
        finance_roles.users_prefetch([*self.filers.values(), *self.heads.values(),
                                      *self.dept_reviewers.values(), *self.dept_heads.values(),
                                      *self.users.values()])

    # ------------------------------------------------------------------ banks, payees
    def banks(self) -> None:
        admin = self.users["admin"]
        self.agents: list[AgentAccount] = []
        for i, (cnaps, name) in enumerate(AGENT_BANKS):
            bank = payments.bank_upsert(cnaps=cnaps, name=name, user=admin)
            number = f"4403{i + 1:02d}0004{self.year}{i:04d}"
            account_name = f"深圳市财政局零余额账户({name})"
            # the account opened by an earlier year's run goes on serving the city
            self.agents.append(
                AgentAccount.objects.filter(bank=bank, name=account_name).order_by("id").first()
                or payments.agent_account_upsert(number=number, name=account_name,
                                                 bank=bank, user=admin))
        self.payees: list[Payee] = []
        for j in range(max(12, self.n_units // 4)):
            cnaps, bank_name = AGENT_BANKS[j % len(AGENT_BANKS)]
            account = f"622{j % 10}{self.seed % 1000:03d}{j:010d}"
            found = Payee.objects.filter(account_number=account).first()
            self.payees.append(found or payments.payee_save(
                name=f"深圳市某{PAYEE_KINDS[j % len(PAYEE_KINDS)]}{j + 1}",
                account_number=account, bank_name=bank_name[:6], branch_name=bank_name,
                cnaps=cnaps, user=admin, reason="city set-up"))

    # ------------------------------------------------------------------ projects
    def projects(self) -> None:
        """Each unit files and submits its three projects (a transaction per unit); each
        department's reviewer reviews and accepts its queue in one pass each (a
        transaction per department)."""
        self.each_unit("projects filed", "project_unit")
        self.each_department("projects reviewed, accepted", "projects_department")

    def project_unit(self, u: UnitSpec) -> None:
        """A unit's 人员类, 运转类 and 特定目标类 projects, each for the year's amount of
        its budget lines."""
        as_of = _at(dt.date(self.year, 1, 5), 10)
        filer = self.filers[u.code]
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for x in self.budget_lines(u):
            totals[x.project] += x.amount
        for code, category, name in u.projects:
            p = Project.objects.filter(code=code).first()
            if p is None:  # saved and submitted at once (保存并送审)
                total = totals[code]
                budgets.project_create(
                    unit_code=u.code, code=code, name=f"{u.name}{name}", category=category,
                    total_amount=total, annual_plans=[(self.year, "1", total)],
                    targets=[budgets.TargetInput("服务对象满意度", "90", "%")],
                    user=filer, as_of=as_of, submit=True)
            elif p.status == Project.Status.DRAFT:
                budgets.project_submit(project=p, user=filer, as_of=as_of)

    def projects_department(self, units: list[UnitSpec]) -> None:
        """A department's reviewer reviews, then accepts, its units' projects."""
        as_of = _at(dt.date(self.year, 1, 5), 10)
        reviewer = self.dept_reviewers[units[0].department]
        codes = [c for u in units for c, _, _ in u.projects]
        S = Project.Status  # noqa: N806
        for frm, service in ((S.SUBMITTED, budgets.projects_review),
                             (S.REVIEWED, budgets.projects_accept)):
            todo = list(Project.objects.filter(code__in=codes, status=frm).order_by("id"))
            out = service(projects=todo, user=reviewer, as_of=as_of)
            if out.refused:
                raise RuntimeError(f"project {out.refused[0][0].code}: {out.refused[0][1]}")

    def investment_units(self) -> list[UnitSpec]:
        return self.units[::10]

    def investment_amount(self, u: UnitSpec) -> Decimal | None:
        """This year's planned amount of the unit's investment project (every tenth unit),
        read once per run."""
        if not self._investment_amounts:
            codes = {self.ndrc_code(x): x.code for x in self.investment_units()}
            for code, amount in Project.objects.filter(
                    code__in=codes, annual_plans__year=self.year).values_list(
                    "code", "annual_plans__amount"):
                self._investment_amounts[codes[code]] = amount
        return self._investment_amounts.get(u.code)

    def investment_projects(self) -> None:
        """Every tenth unit owns an investment project, arriving as the development and
        reform commission's JSON export (written to --out, imported by the real importer)."""
        records = []
        for u in self.investment_units():
            rng = _rng(self.seed, "ndrc", u.code)
            total = _money(rng, 5_000_000, 60_000_000)
            records.append({
                "project_code": self.ndrc_code(u), "name": f"{u.name}基础设施改造工程",
                "owner_unit_code": u.code, "owner_unit_name": u.name, "industry": "市政",
                "stage": "初步设计批复", "approval_no": f"深发改〔{self.year - 1}〕{rng.randrange(10, 400)}号",
                "approved_total_investment": f"{total:.2f}",
                "annual_plan": [{"year": self.year, "amount": f"{(total / 3).quantize(CENT):.2f}",
                                 "fund_source": "一般公共预算"}],
                "start_date": f"{self.year}-03-01", "end_date": f"{self.year + 1}-12-31",
                "status": "在建"})
        doc = {"source": "政府投资项目管理系统", "exported_at": f"{self.year}-01-06T09:00:00+08:00",
               "projects": records}
        path = self.out / "feeds" / f"investment_projects_{self.year}0106.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        content = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
        path.write_bytes(content)
        parsed, issues = parse_projects(content, path.name)
        report = budgets.projects_import(records=parsed, issues=issues, filename=path.name,
                                         user=self.users["admin"], as_of=_at(dt.date(self.year, 1, 6), 9))
        if report.issues:
            raise RuntimeError(f"investment feed refused: {report.issues[0]}")
        self.say(f"  {path}: {report.as_dict()}")

    def ndrc_code(self, u: UnitSpec) -> str:
        return f"{self.year}-{u.region}-48-01-{u.code[-6:]}"

    # ------------------------------------------------------------------ 二上二下
    def budget_lines(self, u: UnitSpec) -> list[BudgetLine]:
        """A unit's final budget (一般公共预算): of a total of 2–8 million, 55–70 % on its
        人员类 project, 10–20 % on its 运转类 project (of which the "三公" lines, each well
        under the rules' annual cap; for a quarter of those units also a car purchase,
        taken from the specific-purpose money), the rest on its 特定目标类 project;
        its investment project is added by `plan_lines`. Computed once per run."""
        if u.code in self._budgets:
            return self._budgets[u.code]
        rng = _rng(self.seed, "plan", u.code)
        total = _money(rng, 2_000_000, 8_000_000)
        personnel = (total * rng.randrange(55, 71) / 100).quantize(CENT)
        running = (total * rng.randrange(10, 21) / 100).quantize(CENT)
        specific = total - personnel - running
        people = [*PERSONNEL_LINES, *([RETIREES_LINE] if rng.random() < 0.4 else [])]
        caps = {c: (Decimal(v) * Decimal("0.8")).quantize(CENT)  # the rule refuses above
                for c, v in payment_rules.RULES["sangong_cap"].params["caps"].items()}
        sangong: list[tuple[str, Decimal]] = []
        if u.sangong:
            shares = [("hosting", 1, 4), ("car_run", 2, 7)]
            if rng.random() < 0.5:
                shares.append(("abroad", 3, 9))
            for name, low, high in shares:
                code = SANGONG[name]
                share = Decimal(rng.randrange(low * 10, high * 10)) / 1000
                sangong.append((code, min((running * share).quantize(CENT), caps[code])))
        lines = [*self._split(u, "personnel", u.personnel, personnel, people),
                 *self._split(u, "running", u.running,
                              running - sum((a for _, a in sangong), Decimal(0)), RUNNING_LINES),
                 *(BudgetLine("sangong", u.running, u.function, c, a) for c, a in sangong)]
        if u.sangong and rng.random() < 0.25:  # 公务用车购置 (paid in one go), instead of
            code = SANGONG["car_buy"]  # up to half of the specific-purpose money
            car = min(_money(rng, 150_000, 280_000), caps[code], (specific / 2).quantize(CENT))
            lines.append(BudgetLine("sangong", u.running, u.function, code, car))
            specific -= car
        lines += self._split(u, "specific", u.specific, specific, SPECIFIC_LINES)
        self._budgets[u.code] = lines
        return lines

    @staticmethod
    def _split(u: UnitSpec, kind: str, project: str, amount: Decimal,
               weights: tuple[tuple[str, int], ...] | list[tuple[str, int]]) -> list[BudgetLine]:
        """`amount` over the economic codes by weight (the last takes the rounding)."""
        whole = sum(w for _, w in weights)
        out, left = [], amount
        for n, (code, w) in enumerate(weights):
            part = left if n == len(weights) - 1 else (amount * w / whole).quantize(CENT)
            left -= part
            out.append(BudgetLine(kind, project, u.function, code, part))
        return out

    def plan_lines(self, u: UnitSpec, factor: Decimal = Decimal(1)) -> list[PlanLineInput]:
        """The budget lines and the investment project's year (发改委 feed, every tenth
        unit) as plan lines (`factor`: 一上 asks more than it gets)."""
        lines = [(x.project, x.function, x.economic, x.amount) for x in self.budget_lines(u)]
        invested = self.investment_amount(u)
        if invested is not None:
            lines.append((self.ndrc_code(u), "2120399", "31005", invested))
        return [PlanLineInput(project, function, economic, "1", (amount * factor).quantize(CENT),
                              (amount * Decimal("0.93")).quantize(CENT))
                for project, function, economic, amount in lines]

    def plans(self) -> None:
        """一上 filed by each unit (create, fill and submit in one step; a transaction per
        unit); the departments forward them; 一下 by the bureau in batches (a transaction
        per batch); 二上 filed by each unit (save and submit); the departments forward
        them; 批复 by the bureau in batches (one ledger call per batch). A resumed run skips
        what is done: each step takes the plans still in the state it starts from."""
        self.investment_amount(self.units[0])  # read the feed's amounts before any fork
        S = BudgetPlan.Status  # noqa: N806
        self._plans_read()
        # a unit's filing is one service call, its own transaction (no savepoint)
        self.each_unit("一上 filed", "plan_first", atomic=False)
        for dept in self.depts:
            budgets.department_plans_review(department_code=dept, year=self.year,
                                            user=self.dept_reviewers[dept],
                                            as_of=_at(dt.date(self.year, 1, 8), 10))
        self.plans_batches("一下 control numbers", S.FIRST_REVIEWED, "plans_control_batch")
        self._plans_read()
        self.each_unit("二上 filed", "plan_second", atomic=False)
        for dept in self.depts:
            budgets.department_plans_review(department_code=dept, year=self.year,
                                            user=self.dept_reviewers[dept],
                                            as_of=_at(dt.date(self.year, 1, 12), 10))
        self.plans_batches("批复 (approval into the ledger)", S.SECOND_REVIEWED,
                           "plans_budget_approve_batch")

    def _plans_read(self) -> None:
        """The year's plans by unit code, read once for a per-unit step (forked workers
        inherit them)."""
        self._plans_by_unit = {p.unit.code: p for p in BudgetPlan.objects.filter(
            year=self.year).select_related("unit").order_by()}

    def _plan(self, u: UnitSpec) -> BudgetPlan | None:
        return self._plans_by_unit.get(u.code)

    def plans_batches(self, label: str, status: str, method: str) -> None:
        """`method` for the year's plans in `status`, in batches (`in_batches`)."""
        self.in_batches(label, list(BudgetPlan.objects.filter(year=self.year, status=status)
                                    .order_by("id").values_list("id", flat=True)), method)

    def plan_first(self, u: UnitSpec) -> None:
        """一上: the unit asks 5 % more than it will get."""
        first = _at(dt.date(self.year, 1, 8), 10)
        filer = self.filers[u.code]
        plan = self._plan(u)
        lines = self.plan_lines(u, Decimal("1.05"))
        if plan is None:  # created, filled and submitted in one step
            budgets.plan_create(unit_code=u.code, year=self.year, user=filer, as_of=first,
                                lines=lines, submit=True)
        elif plan.status == BudgetPlan.Status.DRAFT:  # saved and submitted
            budgets.plan_lines_save(plan=plan, lines=lines, user=filer, as_of=first, submit=True)

    def plans_control_batch(self, ids: list[int]) -> None:
        """一下 by the bureau: each unit's control number is its final total."""
        spec = {u.code: u for u in self.units}
        plans = BudgetPlan.objects.filter(pk__in=ids).select_related("unit")
        out = budgets.plans_control_set(
            items=[(p, {"1": sum((x.amount for x in self.plan_lines(spec[p.unit.code])),
                                 Decimal(0))}) for p in plans],
            user=self.users["bureau"], as_of=_at(dt.date(self.year, 1, 10), 10))
        if out.refused:
            raise RuntimeError(f"一下 refused plan {out.refused[0][0].pk}: {out.refused[0][1]}")

    def plan_second(self, u: UnitSpec) -> None:
        """二上 within the control number, saved and submitted."""
        plan = self._plan(u)
        if plan is not None and plan.status == BudgetPlan.Status.CONTROLLED:
            second, filer = _at(dt.date(self.year, 1, 12), 10), self.filers[u.code]
            budgets.plan_lines_save(plan=plan, lines=self.plan_lines(u), user=filer,
                                    as_of=second, submit=True)

    def plans_budget_approve_batch(self, ids: list[int]) -> None:
        """批复 by the bureau: a batch of plans into the ledger in one posting call."""
        approve_on = _workday(dt.date(self.year, 1, 15))
        out = budgets.plans_approve(plans=list(BudgetPlan.objects.filter(pk__in=ids)),
                                    user=self.users["bureau"], as_of=_at(approve_on, 11),
                                    on=approve_on)
        if out.refused:
            raise RuntimeError(f"批复 refused plan {out.refused[0][0].pk}: {out.refused[0][1]}")

    # ------------------------------------------------------------------ a month
    def dims(self, u: UnitSpec, economic: str, project: str, function: str | None = None) -> Dims:
        return Dims(region=u.region, unit=u.code, function=function or u.function,
                    economic=economic, fund_source="1", project=project)

    def month(self, month: int) -> None:
        period = Period.objects.get(fiscal_year__year=self.year, month=month)
        if period.status != "open" or FiscalYear.objects.get(year=self.year).is_closed:
            self.say("  already closed")
            return
        if month % 3 == 1:  # a quarter begins: its plans, month by month (按季分月)
            self.plans_quarter(month)
        if month == min(6, self.months):
            self.adjustments(month)
        self.requests(month)
        self.contract_payments(month)
        self.payroll(month)
        self.card_repayments(month)
        if month == 12:
            self.year_end_payables()
        with self.timed(f"vouchers {month:02d}"):
            self.vouchers(month)
        with self.timed(f"bank files {month:02d} (all banks)"):
            self.bank_files(month)
        if month < 12:  # December is closed by the year-end close, which posts into it
            with self.timed(f"month {month:02d} closed"):
                reports.month_close(year=self.year, month=month, user=self.users["bureau"],
                                    as_of=_at(dt.date(self.year, month, 28), 17))

    @staticmethod
    def request_kind(u: UnitSpec, month: int) -> str:
        """What the unit's request of the month pays (ROTA; "三公" only for the units
        that budget them, running costs for the others)."""
        kind = ROTA[(month + u.rota) % len(ROTA)]
        return "running" if kind == "sangong" and not u.sangong else kind

    # the part of a line one request pays (low, high in per cent): each kind's lines are
    # taken in turn, so over a year a personnel line gets at most 2 payments (6 over 3–4
    # lines), a running line 2 (4 over 3; half a line, which leaves room for June's
    # virement), a specific line 1 (2 over 2) and a "三公" line 1 (2 over 2–4: within the
    # line, so within the rules' cap); every kind spends about half its budget in a year
    REQUEST_SHARE = {"personnel": (22, 25), "running": (20, 25), "sangong": (40, 50),
                     "specific": (40, 50)}

    def request_plan(self, u: UnitSpec, month: int) -> tuple[Dims, Decimal, Payee, str]:
        """The unit's one request of the month (dims, amount, payee, purpose): three
        months' pay of a personnel line, a running-cost bill, a "三公" payment (a car
        purchase in one go) or a specific-purpose instalment."""
        rng = _rng(self.seed, "request", u.code, month)
        kind = self.request_kind(u, month)
        lines = [x for x in self.budget_lines(u) if x.kind == kind]
        nth = sum(self.request_kind(u, m) == kind for m in range(1, month))
        line = lines[(nth + u.rota) % len(lines)]
        low, high = self.REQUEST_SHARE[kind]
        amount = (line.amount * rng.randrange(low * 10, high * 10) / 1000).quantize(CENT)
        if line.economic == SANGONG["car_buy"]:
            amount = line.amount
        purpose = f"{month}月{ECONOMIC_NAMES[line.economic]}"
        return (self.dims(u, line.economic, line.project), amount,
                self.payees[rng.randrange(len(self.payees))], purpose)

    def request_count(self, month: int) -> int:
        """How many requests a unit files in the month: one with `payments` 1 (the month's
        bill in one go), else `payments` × the month's weight, rounded half up."""
        if self.payments == 1:
            return 1
        return max(1, int(self.payments * MONTH_WEIGHT[month - 1] + Decimal("0.5")))

    def request_parts(self, u: UnitSpec, month: int) -> list[tuple[str, Dims, Decimal, Payee,
                                                                   str, dt.datetime]]:
        """The unit's requests of the month (contract key, dims, amount, payee, purpose,
        when filed): the month's bill (`request_plan`) split into `request_count` payments
        that add up to it to the cent, each to its own payee, filed on the working days
        from the 5th to the 10th (after the quarter's plans are approved on the 4th),
        several a day. A car is bought in one go. The first keeps the one-payment key."""
        d, total, payee, purpose = self.request_plan(u, month)
        key = f"CS-{self.year}{month:02d}-{u.code}"
        first = _at(dt.date(self.year, month, 10), 10)
        k = 1 if d.economic == SANGONG["car_buy"] else self.request_count(month)
        k = min(k, int(total * 100))  # at least a cent each
        if k == 1:
            return [(key, d, total, payee, purpose, first)]
        rng = _rng(self.seed, "split", u.code, month)
        weights = [rng.randrange(50, 150) for _ in range(k)]
        amounts = [(total * w / sum(weights)).quantize(CENT, ROUND_DOWN) for w in weights]
        amounts[0] += total - sum(amounts)  # the cents left over by rounding down
        parts = []
        for j, amount in enumerate(amounts):
            day = _workday(dt.date(self.year, month, 5 + 5 * j // k))
            when = _at(day, 9 + (j * 7) % 8, (j * 13) % 60)
            parts.append((key if j == 0 else f"{key}-p{j:02d}", d, amount,
                          self.payees[rng.randrange(len(self.payees))],
                          f"{purpose}（{j + 1}/{k}）", when))
        return parts

    def request_keys(self, u: UnitSpec, month: int) -> list[str]:
        key = f"CS-{self.year}{month:02d}-{u.code}"
        n = len(self.request_parts(u, month)) if self.payments > 1 else 1
        return [key] + [f"{key}-p{j:02d}" for j in range(1, n)]

    REVIEW_BATCH = 250  # requests per treasury decision (the queue page's "approve selected")

    def quarter_months(self, month: int) -> list[int]:
        return [m for m in range(month, month + 3) if m <= self.months]

    def plans_quarter(self, month: int) -> None:
        """Each unit applies for the quarter's monthly plans in one application (a
        transaction per unit); the treasury approves them in batches (a transaction per
        batch). Units that applied already (a resumed run) are skipped."""
        months = self.quarter_months(month)
        self._plans_applied = set(PaymentPlan.objects.filter(
            year=self.year, month=month).values_list("unit", flat=True))
        self.each_unit(f"plans {months[0]:02d}–{months[-1]:02d} applied", "plan_unit", months,
                       atomic=False)  # one service call per unit: its own transaction
        self.in_batches(f"plans {months[0]:02d}–{months[-1]:02d} approved", list(
            PaymentPlan.objects.filter(year=self.year, month__in=months,
                                       status=PaymentPlan.Status.APPLIED)
            .order_by("id").values_list("id", flat=True)), "plans_approve_batch", month)

    def plan_unit(self, u: UnitSpec, months: list[int]) -> None:
        if u.code in self._plans_applied:
            return
        wanted: dict[tuple[Dims, int], Decimal] = defaultdict(Decimal)
        for m in months:
            d, amount, _payee, _purpose = self.request_plan(u, m)
            wanted[d, m] += amount + Decimal("1000.00")
        if u in self.contract_units():  # the contract's instalments due in these months
            d, _total, parts = self.contract_plan(u)
            for m, amount in parts:
                if m in months:
                    wanted[d, m] += amount
        if u in self.payroll_units():
            gross = sum((x["gross"] for x in self.payroll_staff(u)), Decimal(0))
            open_now = self.card_open_amount(u)
            for m in months:
                # the month's payroll, and room for last month's salaries paid again after
                # a 退票 (at 20 payments a month the bank returned both of a unit's
                # salaries in January: half a month's room stopped the run in February)
                wanted[self.payroll_dims(u), m] += 2 * gross
                # last month's card spending, and what a 退票 left open: every repayment
                # of this quarter may come back and be repaid with the next one (at 20
                # payments a month December's repayment carried two returned months and
                # was refused), and so may what is open when the plan is applied
                wanted[self.card_dims(u), m] += (
                    2 * sum(self.card_spending(u, m - 1), Decimal(0)) + 1000 + open_now
                    + sum((sum(self.card_spending(u, k), Decimal(0))
                           for k in range(months[0] - 1, m - 1)), Decimal(0)))
                if m == 12 and self.open_through is None:  # December's late bill
                    wanted[self.payable_dims(u), m] += self.payable_amount(u)
        lines = [payments.PlanApplyLine(dims=d, month=m, amount=a) for (d, m), a in wanted.items()]
        payments.plans_apply(lines=lines, year=self.year, user=self.filers[u.code],
                             as_of=_at(_workday(dt.date(self.year, months[0], 3)), 9))

    def plans_approve_batch(self, ids: list[int], month: int) -> None:
        payments.plans_approve(plans=list(PaymentPlan.objects.filter(pk__in=ids)),
                               user=self.users["reviewer"],
                               as_of=_at(_workday(dt.date(self.year, month, 4)), 15))

    def requests(self, month: int) -> None:
        """Each unit files and submits its request against the month's plan (approved at
        the quarter's start): a transaction per unit whose last write is the commitment's
        posting, so the year's numbering row is held only for the end of it; the unit
        heads approve (a transaction per department); then the treasury works through the
        month's queue in batches: the rejected requests one by one, the rest approved in
        one call, and the director approves those above the threshold in one call (a
        transaction per batch)."""
        if not self._roles_read:  # forked workers inherit the caches
            payments.users_prefetch([*self.filers.values(), *self.heads.values(),
                                     *self.users.values()])
            self._roles_read = True
        self._month_fresh = not PaymentRequest.objects.filter(
            contract_ref__startswith=f"CS-{self.year}{month:02d}-").exists()
        # one service call per unit (filed and submitted): its own transaction
        self.each_unit(f"requests {month:02d} filed", "request_unit", month, atomic=False)
        self.each_department(f"requests {month:02d} unit heads", "heads_approve", month)
        self.in_batches(f"requests {month:02d} treasury review", list(
            PaymentRequest.objects.filter(
                year=self.year, status=PaymentRequest.Status.TREASURY_REVIEW,
                contract_ref__startswith=f"CS-{self.year}{month:02d}-")
            .order_by("id").values_list("id", flat=True)), "review_batch", month)

    def review_batch(self, ids: list[int], month: int) -> None:
        S = PaymentRequest.Status  # noqa: N806
        day = dt.date(self.year, month, 11)
        reviewer, director = self.users["reviewer"], self.users["director"]
        waiting = list(PaymentRequest.objects.filter(pk__in=ids, status=S.TREASURY_REVIEW))
        rejected = [r for r in waiting
                    if _rng(self.seed, "reject", r.contract_ref).random() < 0.03]
        out = payments.payment_requests_approve(
            requests=[r for r in waiting if r not in rejected], user=reviewer, comment="同意",
            as_of=_at(day, 14))
        above = [r for r in out.approved if r.status == S.DIRECTOR_REVIEW]
        if above:
            out2 = payments.payment_requests_approve(requests=above, user=director,
                                                     comment="同意", as_of=_at(day, 16))
            out.refused += out2.refused
        # last: a rejection posts (the release), and a posting holds the year's numbering
        # row until the batch commits
        if rejected:
            out.refused += payments.payment_requests_reject(
                requests=rejected, user=reviewer, comment="附件不全，退回单位",
                as_of=_at(day, 14)).refused
        if out.refused:
            raise RuntimeError(f"treasury review refused {out.refused[0][0].tracking_id}: "
                               f"{out.refused[0][1]}")

    def request_unit(self, u: UnitSpec, month: int) -> None:
        """A unit's month: its requests filed and submitted (保存并送审: plan check, rules,
        commitment) — the month's list in one batch (payment_requests_file: each request
        checked as if entered alone, one after the other, at its own time), or one by one
        when the month has a single request."""
        S = PaymentRequest.Status  # noqa: N806
        filer = self.filers[u.code]
        parts = self.request_parts(u, month)
        # a month that had no request when it began needs no look-up per unit
        found = {} if self._month_fresh else {r.contract_ref: r for r in PaymentRequest.objects
                                              .filter(contract_ref__in=[p[0] for p in parts])}
        for req in found.values():  # a run stopped between filing and submitting
            if req.status == S.DRAFT:
                payments.payment_request_submit(request=req, user=filer, as_of=req.filed_at)
        todo = [p for p in parts if p[0] not in found]
        if len(todo) == 1:
            key, d, amount, payee, purpose, when = todo[0]
            payments.payment_request_create(
                dims=d, year=self.year, amount=amount, payee=payee, contract_ref=key,
                purpose=purpose, user=filer, as_of=when, submit=True)
        elif todo:
            out = payments.payment_requests_file(items=[payments.RequestInput(
                dims=d, amount=amount, payee=payee, purpose=purpose, contract_ref=key,
                filed_at=when) for key, d, amount, payee, purpose, when in todo],
                year=self.year, user=filer, as_of=todo[0][5])
            if out.refused:  # as the one-by-one filing raises
                raise out.refused[0][1]

    def heads_approve(self, units: list[UnitSpec], month: int) -> None:
        """The unit heads of one department approve their units' requests of the month,
        each head all of the unit's at once ("approve selected": the batch service, the
        checks of a single approval for each request)."""
        day = dt.date(self.year, month, 11)
        keys = [k for u in units for k in self.request_keys(u, month)]
        by_unit: dict[str, list[PaymentRequest]] = defaultdict(list)
        for req in PaymentRequest.objects.filter(contract_ref__in=keys,
                                                 status=PaymentRequest.Status.UNIT_REVIEW
                                                 ).order_by("id"):
            by_unit[req.unit].append(req)
        for unit, reqs in by_unit.items():
            out = payments.payment_requests_approve(requests=reqs, user=self.heads[unit],
                                                    comment="同意", as_of=_at(day, 11))
            if out.refused:
                raise RuntimeError(f"unit head refused {out.refused[0][0].tracking_id}: "
                                   f"{out.refused[0][1]}")

    def vouchers(self, month: int) -> None:
        S = PaymentRequest.Status  # noqa: N806
        day = _workday(dt.date(self.year, month, 14))
        by_agent: dict[int, list[PaymentRequest]] = defaultdict(list)
        agent_of = {u.code: u.agent for u in self.units}
        for req in PaymentRequest.objects.filter(
                Q(contract_ref__startswith=f"CS-{self.year}{month:02d}-")
                | Q(contract__isnull=False, purpose__in=self.contract_purposes(month))
                | Q(purpose__startswith=f"{PAYROLL_PURPOSE} ")
                | Q(purpose__startswith=f"{CARD_PURPOSE} ")
                # approved in December, carried into this year by the year-end close
                | Q(contract_ref__startswith=f"CS-{self.year - 1}12-"),
                status=S.APPROVED, year=self.year).exclude(  # December's late bills wait
                contract_ref__startswith=f"CS-{self.year}12-", contract_ref__endswith="-carry"):
            by_agent[agent_of[req.unit]].append(req)
        for i, reqs in sorted(by_agent.items()):
            payments.voucher_batch_create(agent_account=self.agents[i], user=self.users["reviewer"],
                                          requests=reqs, as_of=_at(day, 10, i))

    def bank_files(self, month: int) -> None:
        """Each agent bank returns a result file (GBK CSV) for the day's vouchers, then its
        camt.053 statement: one debit per paid voucher, the clearing credit, and a bank fee
        that matches nothing (an exception the treasury resolves)."""
        day = _workday(dt.date(self.year, month, 14))
        folder = self.out / "bank" / f"{self.year}{month:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        reviewer = self.users["reviewer"]
        agents = list(range(len(self.agents)))
        if self.parallel():  # the agent banks' files are independent: one task per bank
            self.fan_out(f"bank files {month:02d}", "bank_agent", [[i] for i in agents], (month,),
                         atomic=False)
        else:
            for i in agents:
                self.bank_agent(i, month)
        for exc in ReconException.objects.filter(status=ReconException.Status.OPEN,
                                                 kind=ReconException.Kind.LINE_WITHOUT_VOUCHER,
                                                 date=day):
            payments.recon_exception_resolve(exception=exc, reason=FEE_REASON, user=reviewer,
                                             as_of=_at(day + dt.timedelta(days=1), 10))

    def bank_agent(self, i: int, month: int) -> None:
        """One agent bank's result file, then its statement, each imported (every line
        commits on its own inside the importer)."""
        day = _workday(dt.date(self.year, month, 14))
        folder = self.out / "bank" / f"{self.year}{month:02d}"
        reviewer, agent = self.users["reviewer"], self.agents[i]
        vouchers = list(Voucher.objects.filter(batch__agent_account=agent, date=day)
                        .select_related("request__payee").order_by("number"))
        if not vouchers:
            return
        cnaps = AGENT_BANKS[i][0]
        rows, lines, paid = [], [], Decimal(0)
        for n, v in enumerate(vouchers):
            ok = _rng(self.seed, "bank", v.number).random() >= 0.04
            p = v.request.payee
            ref = f"BK{day:%Y%m%d}{i}{n:05d}"
            at = dt.datetime.combine(day, dt.time(11, n % 60, (7 * n) % 60))  # noqa: DTZ001 - the bank's local time
            rows.append(banks.Res(v.number, agent.number, p.account_number, p.name, v.amount,
                                  "paid" if ok else "rejected", ref, at,
                                  "" if ok else RETURN_REASON))
            if ok:
                paid += v.amount
                lines.append(banks.Line(f"ST{ref[2:]}", v.amount, False, v.number,
                                        p.account_number, p.name, "国库集中支付"))
        # the result file in the bank's own layout (banks.results: its profile reads it)
        name, result = banks.results(cnaps, rows)
        path = folder / f"results_{cnaps}_{name}"
        path.write_bytes(result)
        self._import(path, result, reviewer, _at(day, 15, i))
        if paid:
            lines.append(banks.Line(f"CL{day:%Y%m%d}{i}", paid, True, info="清算资金划入"))
        if i == month % len(self.agents):
            lines.append(banks.Line(f"FE{day:%Y%m%d}{i}", Decimal("12.50") + month, False, "",
                                    "9999000" + cnaps, AGENT_BANKS[i][1], "手续费"))
        if not lines:  # every payment of the day was returned: no statement lines
            return
        # the statement in one of the formats the bank sends (they take turns by month;
        # camt.053 books the day's payments as one bulk entry in even months)
        full = [f for f in banks.STATEMENTS[cnaps] if f not in ("mt942", "camt054")]
        fmt = full[month % len(full)]
        if fmt.startswith("camt053"):
            stmt, name = banks.camt(agent.number, day, lines, version=fmt[-2:],
                                    batch=month % 2 == 0), f"{day:%Y%m%d}.camt053.xml"
        elif fmt == "mt940":
            stmt, name = banks.mt94x(agent.number, day, lines), f"{day:%Y%m%d}.mt940"
        else:
            name, stmt = banks.statement_csv(cnaps, agent.number, day, lines)
        path = folder / f"statement_{cnaps}_{name}"
        path.write_bytes(stmt)
        self._import(path, stmt, reviewer, _at(day, 17, i))

    def _import(self, path: Path, content: bytes, user: Any, as_of: dt.datetime) -> None:
        report = payments.bank_file_import(content=content, filename=path.name, user=user,
                                           as_of=as_of)
        if report.issues:
            raise RuntimeError(f"{path}: {report.issues[0]}")

    # ------------------------------------------------------------------ adjustments
    def adjustments(self, month: int) -> None:
        """A virement inside the running project (office costs → electricity: 公用经费
        stay 公用经费, nothing moves between basic and project spending) for every 20th
        unit, and one increase of a specific-purpose line."""
        on = _workday(dt.date(self.year, month, 5))
        bureau = self.users["bureau"]
        for k, u in enumerate(self.units[::20], start=1):
            doc_no = f"深财预〔{self.year}〕{100 + k}号"
            adj = Adjustment.objects.filter(doc_no=doc_no).first()
            if adj is None:
                office = next(x for x in self.budget_lines(u) if x.economic == "30201")
                share = _rng(self.seed, "virement", u.code).randrange(5, 11)
                adj = budgets.adjustment_file(
                    kind=Adjustment.Kind.VIREMENT, year=self.year, amount=(office.amount * share / 100).quantize(CENT),
                    batch_no=f"TJ{self.year}{month:02d}", doc_no=doc_no, date=on,
                    reason="夏季用电增加，调剂办公费用于电费",
                    source=self.dims(u, "30201", u.running), target=self.dims(u, "30206", u.running),
                    user=self.filers[u.code], as_of=_at(on, 9))
            if adj.status == Adjustment.Status.SUBMITTED:
                budgets.adjustment_approve(adjustment=adj, user=bureau, as_of=_at(on, 15), on=on)
        u = self.units[0]
        doc_no = f"深财预〔{self.year}〕99号"
        adj = Adjustment.objects.filter(doc_no=doc_no).first() or budgets.adjustment_file(
            kind=Adjustment.Kind.INCREASE, year=self.year, amount=Decimal("150000.00"), batch_no=f"TZ{self.year}{month:02d}",
            doc_no=doc_no, date=on, reason="追加设备购置预算", target=self.dims(u, "31002", u.specific),
            user=self.filers[u.code], as_of=_at(on, 9))
        if adj.status == Adjustment.Status.SUBMITTED:
            budgets.adjustment_approve(adjustment=adj, user=bureau, as_of=_at(on, 15), on=on)

    # ------------------------------------------------------------------ 合同
    # a third of the units sign a service contract (委托业务费, 30 % of that specific-purpose
    # line) in January, paid in three instalments: (month due, per cent of the contract)
    CONTRACT_SCHEDULE = ((2, 30), (6, 40), (12, 30))

    def contract_units(self) -> list[UnitSpec]:
        if not hasattr(self, "_contract_units"):
            self._contract_units = self.units[::3]
        return self._contract_units

    def contract_plan(self, u: UnitSpec) -> tuple[Dims, Decimal, list[tuple[int, Decimal]]]:
        """The unit's contract: its indicator, amount and instalments (month, amount) that
        add up to it to the cent (the last takes the rounding)."""
        line = next(x for x in self.budget_lines(u) if x.kind == "specific"
                    and x.economic == "30227")
        total = (line.amount * Decimal("0.30")).quantize(CENT)
        parts = [(m, (total * p / 100).quantize(CENT)) for m, p in self.CONTRACT_SCHEDULE]
        parts[-1] = (parts[-1][0], total - sum((a for _m, a in parts[:-1]), Decimal(0)))
        return self.dims(u, line.economic, line.project), total, parts

    def contract_number(self, u: UnitSpec, suffix: str = "") -> str:
        return f"HT{self.year}-{u.code}{suffix}"

    def contract_purposes(self, month: int) -> list[str]:
        """The purposes of the month's instalment payments (how the month's vouchers find
        them: their contract_ref is the contract's number)."""
        return [f"委托业务服务合同 第{n}期（{month}月）"
                for n, (m, _p) in enumerate(self.CONTRACT_SCHEDULE, start=1) if m == month]

    def contracts(self) -> None:
        """Each contract unit's filer registers its service contract after 批复 and the
        unit head signs it (its amount committed against the indicator)."""
        on = _workday(dt.date(self.year, 1, 20))
        payees = self.payees

        def one(u: UnitSpec) -> None:
            number = self.contract_number(u)
            c = Contract.objects.filter(unit=u.code, number=number).first()
            if c is None:
                d, total, parts = self.contract_plan(u)
                rng = _rng(self.seed, "contract", u.code)
                c = payments.contract_create(
                    dims=d, year=self.year, number=number,
                    counterparty=payees[rng.randrange(len(payees))],
                    title="委托业务服务合同", amount=total, start=on,
                    end=dt.date(self.year, 12, 31),
                    schedule=[(dt.date(self.year, m, 15), a) for m, a in parts],
                    user=self.filers[u.code], as_of=_at(on, 10))
            if c.status == Contract.Status.DRAFT:
                payments.contract_sign(contract=c, user=self.heads[u.code], as_of=_at(on, 15))

        self.each("contracts signed", self.contract_units(), one, atomic=False)

    def contract_payments(self, month: int) -> None:
        """The instalments due in the month: filed against the contract and submitted by
        the filer on the 10th, approved by the head on the 11th, then by the treasury (and
        the director above the threshold); the month's vouchers take them."""
        purposes = self.contract_purposes(month)
        if not purposes:
            return
        day = dt.date(self.year, month, 11)
        self._instalments_filed = set(PaymentRequest.objects.filter(
            contract__isnull=False, purpose__in=purposes, year=self.year)
            .values_list("unit", flat=True))
        self.each_unit(f"contract instalments {month:02d} filed", "contract_instalment", month,
                       atomic=False, units=self.contract_units())
        self.approve_through(PaymentRequest.objects.filter(
            contract__isnull=False, purpose__in=purposes, year=self.year),
            head_at=_at(day, 11, 30), reviewer_at=_at(day, 14, 30), director_at=_at(day, 16, 30))

    def contract_instalment(self, u: UnitSpec, month: int) -> None:
        """A unit's instalment due in the month, filed against its contract and submitted
        (its own transaction: the service's)."""
        if u.code in self._instalments_filed:
            return
        c = Contract.objects.get(unit=u.code, number=self.contract_number(u))
        if c.status != Contract.Status.SIGNED:
            return
        _d, _total, parts = self.contract_plan(u)
        amount = next(a for m, a in parts if m == month)
        payments.payment_request_create(
            dims=c.dims, year=self.year, amount=amount, payee=c.counterparty,
            purpose=self.contract_purposes(month)[0], contract=c, user=self.filers[u.code],
            as_of=_at(dt.date(self.year, month, 10), 15), submit=True)

    # ------------------------------------------------------------------ payroll, cards
    def payroll_units(self) -> list[UnitSpec]:
        """The units that pay their staff by payroll file (工资统发) and repay official
        cards (公务卡): every eighth, from the first (the printed filer's unit)."""
        return self.units[::8]

    def pay_line(self, u: UnitSpec) -> BudgetLine:
        """The 人员类 line the payroll is paid from: the unit's 30101 基本工资."""
        return next(x for x in self.budget_lines(u) if x.kind == "personnel"
                    and x.economic == "30101")

    def payroll_dims(self, u: UnitSpec) -> Dims:
        line = self.pay_line(u)
        return self.dims(u, line.economic, line.project)

    @staticmethod
    def id_number(u: UnitSpec, k: int) -> str:
        """A 居民身份证号码 of GB 11643 (Shenzhen's 440304 region, the check digit of ISO
        7064 MOD 11-2), one per unit and person."""
        from payments.services.payroll import id_check_digit

        born = f"{1970 + int(u.code[-2:]) % 30:04d}{1 + k % 12:02d}{10 + k:02d}"
        body = f"440304{born}{int(u.code[-3:]):03d}"
        return body + id_check_digit(body)

    def payroll_staff(self, u: UnitSpec) -> list[dict[str, Any]]:
        """The unit's people on the payroll file: the month's gross is PAYROLL_SHARE of
        the 30101 line, split evenly (the last takes the rounding); withheld: social
        insurance 10.5 %, housing fund 5 %, income tax 3 % of what exceeds 5,000 after
        them (a simple rate: the file carries what the HR system computed)."""
        month = (self.pay_line(u).amount * PAYROLL_SHARE).quantize(CENT)
        each = (month / PAYROLL_STAFF).quantize(CENT)
        staff = []
        for k in range(PAYROLL_STAFF):
            gross = each if k < PAYROLL_STAFF - 1 else month - each * (PAYROLL_STAFF - 1)
            social = (gross * Decimal("0.105")).quantize(CENT)
            housing = (gross * Decimal("0.05")).quantize(CENT)
            tax = max(Decimal(0), ((gross - social - housing - 5000) * Decimal("0.03"))
                      .quantize(CENT))
            staff.append({"staff_no": f"{u.code[-3:]}{k + 1:03d}",
                          "name": f"{'王李张刘陈杨'[k % 6]}{'建国秀英志强丽华'[int(u.code[-2:]) % 8]}"
                                  f"{'明芳'[k % 2]}",
                          "id_number": self.id_number(u, k),
                          "bank_name": AGENT_BANKS[u.agent][1],
                          "account": f"6217{u.code[-9:]}{k + 1:06d}",
                          "gross": gross, "social": social, "housing": housing, "tax": tax})
        return staff

    def withholding_payees(self) -> dict[str, Payee]:
        if not hasattr(self, "_withholding"):
            admin, self._withholding = self.users["admin"], {}
            for kind, (name, account, i) in WITHHOLDING_PAYEES.items():
                cnaps, bank_name = AGENT_BANKS[i]
                self._withholding[kind] = (
                    Payee.objects.filter(account_number=account, unit__isnull=True).first()
                    or payments.payee_save(name=name, account_number=account,
                                           bank_name=bank_name[:6], branch_name=bank_name,
                                           cnaps=cnaps, user=admin, reason="city set-up"))
        return self._withholding

    def payroll_import(self, u: UnitSpec, month: int, *, submit: bool) -> Any:
        """The unit's filer imports the month's payroll file as its HR system writes it
        (UTF-8 with BOM, as Excel saves), and submits it (a request per person and per
        withheld kind, each committed on the 人员类 indicator)."""
        from payments.services import payroll

        filer = self.filers[u.code]
        when = _at(_workday(dt.date(self.year, month, 8)), 10)
        name = payroll.payroll_filename(u.code, self.year, month)
        text = payroll.payroll_file_text(u.code, self.year, month, self.payroll_staff(u))
        content = text.encode("utf-8-sig")
        folder = self.out / "payroll" / f"{self.year}{month:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        report = payroll.payroll_import(content=content, filename=name, dims=self.payroll_dims(u),
                                        year=self.year, month=month, user=filer, as_of=when)
        if report.issues:
            raise RuntimeError(f"{name}: {report.issues[0]}")
        batch = report.batch
        if submit and batch.status == PayrollBatch.Status.DRAFT:
            payroll.payroll_submit(batch=batch, user=filer, as_of=when,
                                   withholding_payees=self.withholding_payees())
        return batch

    def payroll(self, month: int) -> None:
        """工资统发: each payroll unit imports and submits its file on the 8th; a salary the
        bank returned (退票) last month is paid again to the same account (the name was
        corrected at the bank); the unit head and the treasury approve on the 8th and the
        11th; the month's vouchers take them."""
        from payments.models import PayrollLine
        from payments.services import payroll

        units = self.payroll_units()
        if not units:
            return
        when = _at(_workday(dt.date(self.year, month, 8)), 11)
        returned = list(PayrollLine.objects.filter(
            batch__year=self.year, batch__month__lt=month,
            request__status=PaymentRequest.Status.RETURNED)
            .select_related("batch__organization", "request").order_by("id"))
        self.payroll_plans_topped_up(returned, month)
        for line in returned:
            payroll.payroll_line_repay(line=line, account=line.account, bank_name=line.bank_name,
                                       user=self.filers[line.batch.organization.code],
                                       as_of=when)
        self.each(f"payroll {month:02d} (工资统发)", units,
                  lambda u: self.payroll_import(u, month, submit=True), atomic=False)
        self.approve_in_month(PaymentRequest.objects.filter(
            year=self.year, purpose__startswith=f"{PAYROLL_PURPOSE} "), month)

    def payroll_plans_topped_up(self, returned: list[Any], month: int) -> None:
        """追加用款计划: salaries the bank returned (退票) are paid again this month, on this
        month's plan of the 人员类 line, which was applied for the month's own payroll and
        room for one more (a returned salary leaves its earlier month's plan). A unit with
        salaries to pay again applies for the month's plan once more with those salaries
        added, and the treasury approves it, before they are filed — at 3,000 units × 20
        payments one unit had three salaries of March and April back in May: 25,334.14
        over a 40,479.30 plan that also held May's payroll of 20,239.65, and the run
        stopped (PlanExceeded)."""
        extra: dict[str, Decimal] = defaultdict(Decimal)
        for line in returned:
            extra[line.batch.organization.code] += line.request.amount
        if not extra:
            return
        on = _workday(dt.date(self.year, month, 8))
        plans = []
        for code, amount in sorted(extra.items()):
            d = self.payroll_dims(self.unit_spec(code))
            plan = PaymentPlan.objects.filter(year=self.year, month=month,
                                              **_dim_kwargs(d)).first()
            base = (plan.approved if plan is not None
                    and plan.status == PaymentPlan.Status.APPROVED else Decimal(0))
            plans += payments.plans_apply(
                lines=[payments.PlanApplyLine(dims=d, month=month, amount=base + amount)],
                year=self.year, user=self.filers[code], as_of=_at(on, 9))
        payments.plans_approve(plans=plans, user=self.users["reviewer"], as_of=_at(on, 9, 30),
                               comment="追加用款计划：退票重发工资")

    def approve_in_month(self, mine: Any, month: int) -> None:
        """`approve_through` at the month's usual times: the unit head on the 8th (the day
        payroll and card repayments are filed), the treasury on the 11th."""
        head_day, day = _workday(dt.date(self.year, month, 8)), dt.date(self.year, month, 11)
        self.approve_through(mine, head_at=_at(head_day, 16), reviewer_at=_at(day, 14, 45),
                             director_at=_at(day, 16, 45))

    def approve_through(self, mine: Any, *, head_at: dt.datetime, reviewer_at: dt.datetime,
                        director_at: dt.datetime) -> None:
        """Every request of `mine` waiting for an approval gets it: its unit head, then the
        treasury reviewer (in one call), then the director above the threshold; a refusal
        stops the run with its reason."""
        S = PaymentRequest.Status  # noqa: N806
        for req in mine.filter(status=S.UNIT_REVIEW).order_by("id"):
            payments.payment_request_approve(request=req, user=self.heads[req.unit],
                                             comment="同意", as_of=head_at)
        for who, status, at in (("reviewer", S.TREASURY_REVIEW, reviewer_at),
                                ("director", S.DIRECTOR_REVIEW, director_at)):
            todo = list(mine.filter(status=status).order_by("id"))
            if todo:
                out = payments.payment_requests_approve(requests=todo, user=self.users[who],
                                                        comment="同意", as_of=at)
                if out.refused:
                    raise RuntimeError(f"{who} refused {out.refused[0][0].tracking_id}: "
                                       f"{out.refused[0][1]}")

    def card_number(self, u: UnitSpec) -> str:
        return f"6259{u.code[-9:]}001"

    def card_dims(self, u: UnitSpec) -> Dims:
        return self.dims(u, CARD_LINE, u.running)

    def card_open_amount(self, u: UnitSpec) -> Decimal:
        """What the unit's card has open now (imported, not repaid, or reopened by a 退票)."""
        from payments.models import CardTransaction

        total = CardTransaction.objects.filter(
            card__number=self.card_number(u), status=CardTransaction.Status.OPEN,
        ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
        return Decimal(total).quantize(CENT)  # SQLite sums decimals as floats

    def card_spending(self, u: UnitSpec, month: int) -> list[Decimal]:
        """What the unit's card paid in a month (two trips: train, hotel); none before
        January."""
        if month < 1:
            return []
        rng = _rng(self.seed, "card", u.code, month)
        return [_money(rng, 300, 1200), _money(rng, 400, 1800)]

    def policies(self) -> None:
        """The bureau's rules before the year begins: the city's control rules (控制方式,
        finance/data/control_rules.json, effective from this year's first day at the
        latest); unspent and committed money of 一般公共预算 carried into next year (结转,
        the city's year-end policy); each payroll unit's official card registered."""
        from finance import control
        from payments.models import OfficialCard
        from payments.services import cards

        bureau = self.users["bureau"]
        rows = json.loads((Path(chart.__file__).parent / "data" / "control_rules.json")
                          .read_text("utf-8"))
        first = dt.date(self.year, 1, 1).isoformat()
        control.rules_load([{**r, "effective_from": min(r["effective_from"], first)}
                            for r in rows], user=bureau, reason="本市预算执行控制方式")
        reports.fund_source_policy_set(fund_source="1", action="carry_forward", user=bureau,
                                       reason="一般公共预算年末未支付资金按规定结转下年使用")
        for u in self.payroll_units():
            if not OfficialCard.objects.filter(number=self.card_number(u)).exists():
                cards.official_card_save(
                    unit=Organization.objects.get(code=u.code), number=self.card_number(u),
                    holder=self.payroll_staff(u)[0]["name"], cnaps=AGENT_BANKS[u.agent][0],
                    user=self.filers[u.code], reason="办卡登记")

    def card_file(self, month: int) -> None:
        """The issuing banks' file of last month's card spending (GBK CSV, as the banks
        write it), imported by the treasury on the 5th; the same file again changes
        nothing."""
        from payments.models import OfficialCard
        from payments.services import cards

        spent = month - 1
        units = self.payroll_units()
        if spent < 1 or not units:
            return
        found = {c.number: c for c in OfficialCard.objects.filter(
            number__in=[self.card_number(u) for u in units])}
        txs = []
        for u in units:
            number = self.card_number(u)
            for j, amount in enumerate(self.card_spending(u, spent)):
                day = dt.date(self.year, spent, 6 + 9 * j)
                txs.append({"card": number, "traded_on": day,
                            "posted_on": day + dt.timedelta(days=1),
                            "reference": f"GWK{self.year}{spent:02d}{u.code}{j}",
                            "merchant": ("中国铁路12306", "深圳某酒店有限公司")[j],
                            "mcc": ("4112", "7011")[j], "amount": amount})
        content = cards.card_file_text(cards=list(found.values()), transactions=txs)
        name = f"公务卡消费明细_{self.year}{spent:02d}.csv"
        folder = self.out / "cards"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        report = cards.card_file_import(content, name, self.users["reviewer"],
                                        as_of=_at(_workday(dt.date(self.year, month, 5)), 9))
        if report.issues:
            raise RuntimeError(f"{name}: {report.issues[0]}")

    def card_repay(self, u: UnitSpec, month: int) -> None:
        """The unit's filer repays its card's open transactions (last month's, and any a
        退票 left open) from the 差旅费 line on the 8th (报销还款)."""
        from payments.models import CardTransaction
        from payments.services import cards

        open_ = list(CardTransaction.objects.filter(
            card__number=self.card_number(u), status=CardTransaction.Status.OPEN).order_by("id"))
        if not open_:
            return
        cards.card_repayment_file(
            transactions=open_, dims=self.card_dims(u), year=self.year, user=self.filers[u.code],
            purpose=f"{CARD_PURPOSE} {self.year}年{month}月 {open_[0].card.holder} {len(open_)}笔",
            as_of=_at(_workday(dt.date(self.year, month, 8)), 14))

    def card_repayments(self, month: int) -> None:
        self.card_file(month)
        self.each(f"card repayments {month:02d} (公务卡)", self.payroll_units(),
                  lambda u: self.card_repay(u, month), atomic=False)
        self.approve_in_month(PaymentRequest.objects.filter(
            year=self.year, purpose__startswith=f"{CARD_PURPOSE} "), month)

    # ------------------------------------------------------------------ December, carried
    def payable_dims(self, u: UnitSpec) -> Dims:
        return self.dims(u, "30201", u.running)

    def payable_amount(self, u: UnitSpec) -> Decimal:
        line = next(x for x in self.budget_lines(u) if x.economic == "30201")
        return (line.amount * Decimal("0.05")).quantize(CENT)

    def year_end_payables(self) -> None:
        """December's bills that arrive late: each payroll unit files one on the 28th
        (the office's last supplies), approved by the head and the treasury on the 30th
        but not yet paid on Dec 31 — an open commitment the year-end close carries into
        next year (结转, the city's policy for 一般公共预算), paid in January."""
        if self.open_through is not None or self.months < 12:
            return
        filed_on, approved_on = _workday(dt.date(self.year, 12, 28)), _workday(
            dt.date(self.year, 12, 30))
        for u in self.payroll_units():
            key = f"CS-{self.year}12-{u.code}-carry"
            if PaymentRequest.objects.filter(contract_ref=key).exists():
                continue
            rng = _rng(self.seed, "payable", u.code)
            payments.payment_request_create(
                dims=self.payable_dims(u), year=self.year, amount=self.payable_amount(u),
                payee=self.payees[rng.randrange(len(self.payees))], contract_ref=key,
                purpose="12月办公费（年末已批准，次年1月支付）", user=self.filers[u.code],
                as_of=_at(filed_on, 10), submit=True)
        self.approve_through(
            PaymentRequest.objects.filter(year=self.year, contract_ref__endswith="-carry"),
            head_at=_at(filed_on, 15), reviewer_at=_at(approved_on, 10),
            director_at=_at(approved_on, 15))

    # ------------------------------------------------------------------ performance, pace
    def performance(self) -> None:
        """绩效: each specific-purpose project's mid-year monitoring and its self-evaluation
        (submitted in January, approved by the budget office), so the final-account sets
        carry the self-evaluation table (F10)."""
        from budgets.performance import performance_demo_fill

        done = performance_demo_fill(year=self.year, filers=self.filers,
                                     reviewer=self.users["bureau"], seed=self.seed)
        self.say(f"  {done['reports']} monitoring reports, {done['evaluations']} "
                 f"self-evaluations, {done['approved']} approved")

    def pace(self) -> None:
        """序时进度: the bureau's sweep at the end of the last closed month raises graded
        alerts per department and project; three are explained by their units (waiting
        for the bureau's confirmation), the rest wait for an explanation."""
        from audit.pace import execution_pace_demo

        last = self.open_through or 0
        if last < 1:
            return
        on = dt.date(self.year, last, calendar.monthrange(self.year, last)[1])
        execution_pace_demo(on=on, as_of=_at(on, 18), explain=3)


    def stage_contract(self, month: int) -> None:
        """The first unit's second contract (equipment maintenance, 5 % of the line, paid
        next month and in December), registered by its filer and waiting for its head's
        signature."""
        u = self.units[0]
        number = self.contract_number(u, "-B")
        if Contract.objects.filter(unit=u.code, number=number).exists():
            return
        d, _total, _parts = self.contract_plan(u)
        line = next(x for x in self.budget_lines(u) if x.kind == "specific"
                    and x.economic == "30227")
        total = (line.amount * Decimal("0.05")).quantize(CENT)
        first = (total * Decimal("0.6")).quantize(CENT)
        on = dt.date(self.year, month, 1)
        due = [dt.date(self.year, min(month + 1, 12), 15), dt.date(self.year, 12, 20)]
        payments.contract_create(
            dims=d, year=self.year, number=number, counterparty=self.payees[0],
            title="设备维护服务合同", amount=total, start=on, end=dt.date(self.year, 12, 31),
            schedule=[(due[0], first), (due[1], total - first)],
            user=self.filers[u.code], as_of=_at(on, 16))

    # ------------------------------------------------------------------ the open month
    def stage_of(self, month: int) -> dict[str, str]:
        """Where each unit's request of the open month is left. The first unit's request
        is a draft (its filer's; its second request waits for its head, `stage_second`).
        The units of the agent bank whose statement books the month's fee are paid (the
        fee stays an open reconciliation exception); the first other request above the
        director's threshold waits for the director; the rest in turn wait for the
        treasury, for a voucher, for the bank, for the director (or, below the threshold,
        for a voucher), for their filer and for their head (STAGE_CYCLE)."""
        fee_agent = month % len(AGENT_BANKS)
        first, rest = self.units[0], self.units[1:]
        threshold = payments.director_threshold()
        big = next((u for u in rest if u.agent != fee_agent
                    and self.request_plan(u, month)[1] > threshold), None)
        stages, k = {first.code: DRAFT}, 0
        for u in rest:
            if u.agent == fee_agent:
                stages[u.code] = PAID
            elif u is big:
                stages[u.code] = DIRECTOR
            else:
                stages[u.code] = STAGE_CYCLE[k % len(STAGE_CYCLE)]
                k += 1
        return stages

    def stage(self) -> None:
        """The open month (`open_through` + 1) as a working day finds it: every unit has
        filed its request, and each is left at a stage (`stage_of`) — so the filer, the
        unit head, the treasury reviewer and director and the bank each have work waiting;
        the first unit also has a request for its head. A virement waits for the bureau.
        Dated in the first days of the month, except the bank's result file and
        statement, which the bank files on the 14th (`bank_agent`). The month stays open.
        Each step takes the documents still in the state it starts from (rerun-safe)."""
        month = self.open_through + 1
        if FiscalYear.objects.get(year=self.year).is_closed or Period.objects.get(
                fiscal_year__year=self.year, month=month).status != "open":
            self.say("  already closed")
            return
        if month % 3 == 1:  # a quarter begins: its plans, month by month (按季分月)
            self.plans_quarter(month)
        if month == 6:
            self.adjustments(month)
        if not self._roles_read:
            payments.users_prefetch([*self.filers.values(), *self.heads.values(),
                                     *self.users.values()])
            self._roles_read = True
        S = PaymentRequest.Status  # noqa: N806
        stages = self.stage_of(month)
        day = dt.date(self.year, month, 1)
        self.each(f"requests {month:02d} filed", self.units,
                  lambda u: self.stage_file(u, month, submit=stages[u.code] != DRAFT),
                  atomic=False)  # one service call per unit: its own transaction
        self.stage_second(self.units[0], month)
        refs = {f"CS-{self.year}{month:02d}-{u.code}": stages[u.code] for u in self.units}

        def at(status: str, *wanted: str) -> list[PaymentRequest]:
            return [r for r in PaymentRequest.objects.filter(contract_ref__in=refs, status=status)
                    .order_by("id") if refs[r.contract_ref] in wanted]

        for req in at(S.UNIT_REVIEW, TREASURY, DIRECTOR, APPROVED, ISSUED, PAID):
            payments.payment_request_approve(request=req, user=self.heads[req.unit],
                                             comment="同意", as_of=_at(day + dt.timedelta(1), 11))
        for who, status, wanted, hour in (
                ("reviewer", S.TREASURY_REVIEW, (DIRECTOR, APPROVED, ISSUED, PAID), 14),
                ("director", S.DIRECTOR_REVIEW, (APPROVED, ISSUED, PAID), 16)):
            todo = at(status, *wanted)
            if todo:
                out = payments.payment_requests_approve(
                    requests=todo, user=self.users[who], comment="同意",
                    as_of=_at(day + dt.timedelta(1), hour))
                if out.refused:
                    raise RuntimeError(f"{who} refused {out.refused[0][0].tracking_id}: "
                                       f"{out.refused[0][1]}")
        # vouchers: those the bank pays are dated the bank files' day (the 14th); those
        # still waiting for the bank were issued on the 3rd
        bank_day = _workday(dt.date(self.year, month, 14))
        agents: set[int] = set()
        for stage, on in ((PAID, bank_day), (ISSUED, _workday(day + dt.timedelta(2)))):
            by_agent: dict[int, list[PaymentRequest]] = defaultdict(list)
            for req in at(S.APPROVED, stage):
                by_agent[self.unit_spec(req.unit).agent].append(req)
            for i, reqs in sorted(by_agent.items()):
                payments.voucher_batch_create(agent_account=self.agents[i],
                                              user=self.users["reviewer"], requests=reqs,
                                              as_of=_at(on, 10, i))
            if stage == PAID:
                agents = set(by_agent)
        (self.out / "bank" / f"{self.year}{month:02d}").mkdir(parents=True, exist_ok=True)
        for i in sorted(agents):  # the fee line of the statement is left open
            self.bank_agent(i, month)
        self.stage_adjustment(month)
        self.stage_contract(month)
        # the month's payroll files imported, waiting for their filers to submit them; the
        # banks' file of last month's card spending imported, waiting to be repaid
        self.each(f"payroll {month:02d} imported", self.payroll_units(),
                  lambda u: self.payroll_import(u, month, submit=False), atomic=False)
        self.card_file(month)

    def unit_spec(self, code: str) -> UnitSpec:
        if not hasattr(self, "_spec"):
            self._spec = {u.code: u for u in self.units}
        return self._spec[code]

    def stage_file(self, u: UnitSpec, month: int, *, submit: bool) -> None:
        """The unit's request of the open month (as `request_plan` plans it), saved as a
        draft or saved and submitted."""
        key = f"CS-{self.year}{month:02d}-{u.code}"
        if PaymentRequest.objects.filter(contract_ref=key).exists():
            return
        d, amount, payee, purpose = self.request_plan(u, month)
        payments.payment_request_create(
            dims=d, year=self.year, amount=amount, payee=payee, contract_ref=key,
            purpose=purpose, user=self.filers[u.code],
            as_of=_at(dt.date(self.year, month, 1), 10), submit=submit)

    def stage_second(self, u: UnitSpec, month: int) -> None:
        """The unit's second request of the month, submitted and waiting for its head: a
        small running-cost or pay bill on another line, against a supplementary monthly
        plan applied for and approved for it."""
        key = f"CS-{self.year}{month:02d}-{u.code}-2"
        if PaymentRequest.objects.filter(contract_ref=key).exists():
            return
        main = self.request_plan(u, month)[0]
        line = next(x for x in self.budget_lines(u) if x.kind in ("running", "personnel")
                    and (x.economic, x.project) != (main.economic, main.project))
        d = self.dims(u, line.economic, line.project)
        amount = (line.amount * Decimal("0.02")).quantize(CENT)
        on, filer = dt.date(self.year, month, 1), self.filers[u.code]
        with transaction.atomic():
            plans = payments.plans_apply(lines=[payments.PlanApplyLine(
                dims=d, month=month, amount=amount + Decimal("1000.00"))], year=self.year,
                user=filer, as_of=_at(on, 9))
            payments.plans_approve(plans=plans, user=self.users["reviewer"], as_of=_at(on, 9, 30))
        rng = _rng(self.seed, "second", u.code, month)
        payments.payment_request_create(
            dims=d, year=self.year, amount=amount, payee=self.payees[rng.randrange(len(self.payees))],
            contract_ref=key, purpose=f"{month}月{ECONOMIC_NAMES[line.economic]}（追加）",
            user=filer, as_of=_at(on, 11), submit=True)

    def stage_adjustment(self, month: int) -> None:
        """A virement filed by the first unit (office costs → electricity inside its
        running project), waiting for the bureau's decision."""
        u, on = self.units[0], _workday(dt.date(self.year, month, 2))
        doc_no = f"深财预〔{self.year}〕{300 + month}号"
        if Adjustment.objects.filter(doc_no=doc_no).exists():
            return
        office = next(x for x in self.budget_lines(u) if x.economic == "30201")
        budgets.adjustment_file(
            kind=Adjustment.Kind.VIREMENT, year=self.year,
            amount=(office.amount * Decimal("0.03")).quantize(CENT),
            batch_no=f"TJ{self.year}{month:02d}", doc_no=doc_no, date=on,
            reason="冬季取暖用电增加，调剂办公费用于电费",
            source=self.dims(u, "30201", u.running), target=self.dims(u, "30206", u.running),
            user=self.filers[u.code], as_of=_at(on, 9))

    def next_year_plans(self) -> None:
        """Next year's budget under way: every unit has filed its 一上 (its lines 5 % above
        this year's, this year's figures as last year's; the investment projects wait for
        the feed's next year); the departments have forwarded them to the bureau for 一下,
        except the first unit's department, whose reviewer has them waiting."""
        nxt, month = self.year + 1, self.open_through + 1
        on = _at(dt.date(self.year, month, 1), 15)
        filed = set(BudgetPlan.objects.filter(year=nxt).values_list("unit__code", flat=True))

        def one(u: UnitSpec) -> None:
            if u.code in filed:
                return
            lines = [PlanLineInput(x.project, x.function, x.economic, "1",
                                   (x.amount * Decimal("1.05")).quantize(CENT), x.amount)
                     for x in self.budget_lines(u)]
            budgets.plan_create(unit_code=u.code, year=nxt, user=self.filers[u.code], as_of=on,
                                lines=lines, submit=True)

        self.each(f"{nxt} 一上 filed", self.units, one, atomic=False)
        for dept in self.depts:
            if dept != self.units[0].department:
                budgets.department_plans_review(department_code=dept, year=nxt,
                                                user=self.dept_reviewers[dept],
                                                as_of=_at(dt.date(self.year, month, 2), 10))

    def budget_disclosure(self) -> None:
        """This year's budget sets (published within 20 days of 批复), except the first
        unit's department, whose set is still a draft for the discloser."""
        if self.parallel():
            self.fan_out("departments published", "budget_disclosure_department",
                         [[d] for d in self.units_by_department()], ())
        else:
            self.each("departments published", self.depts, self.budget_disclosure_department)

    def budget_disclosure_department(self, dept: str) -> None:
        """批复 on the budget approval's date (from the ledger), published on 2 February,
        within the 20 days; the waiting department's set is a draft, not yet reviewed."""
        waiting = dept == self.units[0].department
        ds = DisclosureSet.objects.filter(department__code=dept, year=self.year,
                                          kind="budget").first()
        if ds is None:
            when = _at(dt.date(self.year, self.open_through + 1, 2) if waiting
                       else dt.date(self.year, 1, 26), 10)
            ds = reports.disclosure_set_create(department_code=dept, year=self.year,
                                               kind="budget", user=self.users["admin"],
                                               as_of=when)
        if not waiting:
            self.disclose(ds, dept, dt.date(self.year, 2, 2))

    def disclose(self, ds: DisclosureSet, dept: str, day: dt.date) -> None:
        """A draft set through 保密审查 (the discloser), approval, the department head's
        审签 and publication on `day`, each step skipped when done (resumability)."""
        discloser = self.users["discloser"]
        if ds.status == DisclosureSet.Status.PUBLISHED:
            return
        if not ds.confidentiality_conclusion:
            ds = reports.disclosure_set_confidentiality(
                disclosure_id=ds.pk, user=discloser, conclusion="cleared",
                note="不涉及国家秘密和工作秘密", as_of=_at(day, 9))
        if ds.status == DisclosureSet.Status.DRAFT:
            ds = reports.disclosure_set_approve(disclosure_id=ds.pk, user=discloser,
                                                as_of=_at(day, 10))
        if ds.status == DisclosureSet.Status.APPROVED and ds.head_signed_at is None:
            ds = reports.disclosure_set_sign(disclosure_id=ds.pk, user=self.dept_heads[dept],
                                             as_of=_at(day, 11))
        if ds.status == DisclosureSet.Status.APPROVED:
            reports.disclosure_set_publish(disclosure_id=ds.pk, user=discloser,
                                           as_of=_at(day, 15))

    # ------------------------------------------------------------------ what waits, for whom
    def waiting(self) -> dict[str, str]:
        """What each printed login finds waiting, counted in the database, in Chinese."""
        y, S = self.year, PaymentRequest.Status  # noqa: N806
        reqs = PaymentRequest.objects.filter(year=y)
        plans_next = BudgetPlan.objects.filter(year=y + 1)
        sets = DisclosureSet.objects.all()
        work: dict[str, list[tuple[str, int, str]]] = {
            "reviewer": [
                ("待审核用款申请", reqs.filter(status=S.TREASURY_REVIEW).count(), "笔"),
                ("待开具支付凭证的已批准申请", reqs.filter(status=S.APPROVED).count(), "笔"),
                ("待银行回单的支付凭证", Voucher.objects.filter(
                    status=Voucher.Status.ISSUED, request__year=y).count(), "张"),
                ("未处理的对账异常", ReconException.objects.filter(
                    status=ReconException.Status.OPEN).count(), "笔")],
            "director": [("待处长审批用款申请", reqs.filter(status=S.DIRECTOR_REVIEW).count(), "笔")],
            "bureau": [
                ("待确认整改的执行进度预警", PaceAlert.objects.filter(
                    year=y, status=PaceAlert.Status.EXPLAINED).count(), "条"),
                ("待批复预算调整", Adjustment.objects.filter(
                    year=y, status=Adjustment.Status.SUBMITTED).count(), "笔"),
                (f"待下达控制数（一下）的{y + 1}年预算", plans_next.filter(
                    status=BudgetPlan.Status.FIRST_REVIEWED).count(), "份"),
                (f"待批复的{y + 1}年预算", plans_next.filter(
                    status=BudgetPlan.Status.SECOND_REVIEWED).count(), "份")],
            "discloser": [
                ("待审核的公开报表", sets.filter(status=DisclosureSet.Status.DRAFT).count(), "套"),
                ("待发布的公开报表", sets.filter(status=DisclosureSet.Status.APPROVED).count(), "套")],
            "auditor": [("可追溯的已公开报表", sets.filter(
                status=DisclosureSet.Status.PUBLISHED).count(), "套")],
        }
        periods = Period.objects.filter(fiscal_year__year=y)
        open_months = [str(m) for m in periods.filter(status="open").order_by("month")
                       .values_list("month", flat=True)]
        text = {name: self._work_text(items) for name, items in work.items()}
        text["admin"] = (f"{y}年 未结账月份：{'、'.join(open_months)}月" if open_months
                         else f"{y}年 已年终结账")
        if self.units:
            u = self.units[0]
            available = finance_selectors.balance(account=chart.AVAILABLE, year=y, unit=u.code)
            contracts = Contract.objects.filter(unit=u.code, year=y)
            text[f"filer-{u.code}"] = self._work_text([
                ("草稿用款申请（待送审）", reqs.filter(unit=u.code, status=S.DRAFT).count(), "笔"),
                ("待提交的工资表", PayrollBatch.objects.filter(
                    organization__code=u.code, year=y,
                    status=PayrollBatch.Status.DRAFT).count(), "份"),
                ("待报销还款的公务卡消费", CardTransaction.objects.filter(
                    card__organization__code=u.code,
                    status=CardTransaction.Status.OPEN).count(), "笔"),
                ("待说明的执行进度预警", PaceAlert.objects.filter(
                    organization__code=u.code, year=y,
                    status=PaceAlert.Status.NOTIFIED).count(), "条")]) + f"；可用指标 {available:,.2f} 元" + "".join(
                f"；履行中合同 {n} 份" for n in [contracts.filter(
                    status=Contract.Status.SIGNED).count()] if n)
            text[f"head-{u.code}"] = self._work_text([
                ("待单位负责人审核用款申请", reqs.filter(unit=u.code, status=S.UNIT_REVIEW).count(),
                 "笔"),
                ("待签署合同", contracts.filter(status=Contract.Status.DRAFT).count(), "份")])
            text[f"dept-{u.department}"] = self._work_text([
                (f"待审核的{y + 1}年预算（一上）", plans_next.filter(
                    unit__parent__code=u.department,
                    status__in=[BudgetPlan.Status.FIRST_SUBMITTED,
                                BudgetPlan.Status.SECOND_SUBMITTED]).count(), "份"),
                ("待审核项目", Project.objects.filter(
                    unit__parent__code=u.department,
                    status=Project.Status.SUBMITTED).count(), "个"),
                ("待说明的执行进度预警", PaceAlert.objects.filter(
                    organization__code=u.department, year=y,
                    status=PaceAlert.Status.NOTIFIED).count(), "条")])
        return text

    @staticmethod
    def _work_text(items: list[tuple[str, int, str]]) -> str:
        found = [f"{what} {n} {unit}" for what, n, unit in items if n]
        return "待办：" + "；".join(found) if found else "暂无待办"

    # ------------------------------------------------------------------ closes
    def month_closes(self) -> None:
        for p in Period.objects.filter(fiscal_year__year=self.year, status="open",
                                       month__lte=11).order_by("month"):
            reports.month_close(year=self.year, month=p.month, user=self.users["bureau"],
                                as_of=_at(dt.date(self.year, p.month, 28), 17))

    def year_close(self) -> None:
        if not FiscalYear.objects.get(year=self.year).is_closed:
            reports.year_end_close(year=self.year, user=self.users["bureau"],
                                   as_of=_at(dt.date(self.year, 12, 31), 16))
        else:
            self.say("  already closed")

    def disclosure(self) -> None:
        """Each department's budget and final-account sets: draft, approved, published
        (the tables are rebuilt from the ledger and checked at approval and again at
        publication, then rendered). Departments are independent: on PostgreSQL with
        `workers` > 1 they are published in the worker processes, largest first."""
        if self.parallel():
            self.fan_out("departments published", "disclosure_department",
                         [[d] for d in self.units_by_department()], ())
        else:
            self.each("departments published", self.depts, self.disclosure_department)

    def disclosure_department(self, dept: str) -> None:
        """The budget set: 批复 on the budget approval's date (from the ledger), published
        on 2 February. The final accounts of the year are approved (批复) in the next
        year's spring, 10 March, and published on 20 March: both within 20 days."""
        admin = self.users["admin"]
        final_approved = _workday(dt.date(self.year + 1, 3, 10))
        plan = {"budget": (None, dt.date(self.year, 1, 26), dt.date(self.year, 2, 2)),
                "final": (final_approved, final_approved, dt.date(self.year + 1, 3, 20))}
        for kind, (approved_on, created, published) in plan.items():
            ds = DisclosureSet.objects.filter(department__code=dept, year=self.year, kind=kind).first()
            if ds is None:
                ds = reports.disclosure_set_create(department_code=dept, year=self.year, kind=kind,
                                                   approved_on=approved_on, user=admin,
                                                   as_of=_at(created, 16))
            self.disclose(ds, dept, published)

    # ------------------------------------------------------------------ outputs
    def outputs(self) -> None:
        out, year = self.out, self.year
        self.published_files(out / "disclosure")
        if self.open_through is None:  # an open year has no final accounts yet
            fs = report_tables.fact_set(year=year, scope=report_selectors.Scope())
            statements = report_tables.statement_tables(fs)
            title = f"{year}年决算报表（全市）"
            (out / f"final_accounts_{year}.xlsx").write_bytes(tables_xlsx(statements, title=title))
            (out / f"final_accounts_{year}.pdf").write_bytes(tables_pdf(statements, title=title))
        report = report_selectors.execution_report(year=year, group_by=("department",))
        table = report_tables.execution_table(report)
        title = f"{year}年预算执行情况表"
        (out / f"execution_{year}.xlsx").write_bytes(tables_xlsx([table], title=title))
        (out / f"execution_{year}.pdf").write_bytes(
            tables_pdf([table], title=title, charts=report_render.execution_charts(report)))
        # every history row sealed and the chain heads anchored before the run ends
        from audit import anchors as audit_anchors
        from audit import services as audit_services

        audit_services.history_seal(grace=dt.timedelta(0), workers=self.workers)
        audit_anchors.ledger_anchor()
        # the ledger's years, its balances and the history seals at once, a process each
        verify = finance_selectors.ledger_verify(workers=self.workers)
        lines = [f"ledger verify: {'OK' if verify.ok else 'FAILED'}",
                 f"entries {verify.entries_checked}, lines {verify.lines_checked}, "
                 f"balances {verify.balances_checked}"]
        lines += [f"{k}: {v}" for k, v in sorted(verify.checked.items())]
        lines += [head.line() for head in verify.heads]
        lines += [f"PROBLEM: {p}" for p in verify.problems]
        for book in Book.values:
            tb = finance_selectors.trial_balance(book=book, year=year)
            lines.append(f"{book}: debit {tb.total_debit} credit {tb.total_credit} "
                         f"{'balanced' if tb.balanced else 'NOT BALANCED'}")
        (out / "verify.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.verify_ok = verify.ok

    def published_files(self, target: Path) -> None:
        """The published sets as the public portal serves them: each set's stored files
        (checked against the SHA-256 recorded at publication) and its manifest, under
        `target/<department>/<kind>/`. They were rendered once, when published (after the
        cross-table checks); rendering them again would only repeat that work."""
        sets = list(DisclosureSet.objects.filter(year=self.year, status="published")
                    .select_related("department").prefetch_related("files")
                    .order_by("department__code", "kind"))
        for i, ds in enumerate(sets, start=1):
            folder = target / ds.department.code / ds.kind
            folder.mkdir(parents=True, exist_ok=True)
            for f in ds.files.all():
                with f.file.open("rb") as fh:
                    content = fh.read()
                if hashlib.sha256(content).hexdigest() != f.sha256:
                    raise RuntimeError(f"published file {f} does not match its SHA-256")
                (folder / f.name).write_bytes(content)
            (folder / "manifest.json").write_text(
                json.dumps(ds.manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            self.progress("published disclosure files", i, len(sets))

    @property
    def outcome(self) -> Outcome:
        o = Outcome(year=self.year, units=self.n_units, out=self.out,
                    verify_ok=getattr(self, "verify_ok", False), seconds=dict(self.seconds),
                    worker_pids=set(self.worker_pids))
        o.counts = {
            "organizations": Organization.objects.count(),
            "projects": Project.objects.count(),
            "approved plans": BudgetPlan.objects.filter(year=self.year, status="approved").count(),
            "payment requests": PaymentRequest.objects.filter(year=self.year).count(),
            "paid": PaymentRequest.objects.filter(year=self.year, status="paid").count(),
            "returned (退票)": PaymentRequest.objects.filter(year=self.year, status="returned").count(),
            "rejected": PaymentRequest.objects.filter(year=self.year, status="rejected").count(),
            "entries": Entry.objects.count(),
            "ledger lines": Line.objects.count(),
            "published disclosure sets": DisclosureSet.objects.filter(
                year=self.year, status="published").count(),
        }
        o.files = {"disclosure": str(self.out / "disclosure"),
                   "final accounts": str(self.out / f"final_accounts_{self.year}.xlsx"),
                   "execution report": str(self.out / f"execution_{self.year}.xlsx"),
                   "verify": str(self.out / "verify.txt"),
                   "bank files": str(self.out / "bank"), "feeds": str(self.out / "feeds")}
        if self.open_through is not None:
            del o.files["final accounts"]
        o.logins = [(name, DEMO_PASSWORD, what) for name, (what, _, _) in ROLE_USERS.items()]
        if self.units:
            u = self.units[0]
            dept = Organization.objects.filter(code=u.department).values_list("name", flat=True)
            o.logins += [(f"filer-{u.code}", DEMO_PASSWORD, f"预算单位经办人：{u.name}"),
                         (f"head-{u.code}", DEMO_PASSWORD, f"单位负责人：{u.name}"),
                         (f"dept-{u.department}", DEMO_PASSWORD,
                          f"主管部门审核：{dept.first() or u.department}")]
        o.waiting = self.waiting()
        return o


_SIM: CityYear | None = None  # the run a forked worker serves (set by each_unit)


def _worker_chunk(task: tuple[str, tuple, list[Any], bool]) -> tuple[int, int]:
    """In a worker process: one chunk (a department's units, an agent bank), one
    transaction per item, on the worker's own connection (`finance.processes` closes it
    at the end so the server sees a clean exit)."""
    method, args, items, atomic = task
    sim = _SIM
    assert sim is not None  # noqa: S101 - set by the coordinator before the fork
    try:
        for item in items:
            for attempt in range(1, 4):
                try:
                    with transaction.atomic() if atomic else contextlib.nullcontext():
                        getattr(sim, method)(item, *args)
                    break
                except OperationalError as exc:
                    # two workers' batches posting several entries each may deadlock on
                    # the balance rows and the year's numbering row: PostgreSQL rolls one
                    # back whole, and it is run again, as any client of the server would
                    if not (atomic and retryable(exc)) or attempt == 3:
                        raise
                    time.sleep(0.05 * attempt)
    except Exception as exc:
        # the pool sends the exception back pickled; not every exception class can be
        # rebuilt from its pickle (the ledger's errors take keyword arguments), and one
        # that cannot be would leave the coordinator waiting forever: send its text
        raise RuntimeError(f"{method} failed in worker {os.getpid()}: "
                           f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}") from None
    return len(items), os.getpid()


def city_year_run(*, units: int, year: int, out: Path, months: int = 12, seed: int = 2026,
                  nontax: int = 5, stdout: TextIO | None = None, workers: int = 1,
                  open_through: int | None = None, payments: int = 1) -> Outcome:
    """The one entry point the command, the tests and the bench call. `open_through` M
    (0-11): the year stays open — months 1..M run and closed, month M+1's work left
    waiting at each stage (`CityYear.stage`), next year's 一上 in review, this year's
    budget sets published but one; no year-end close, no final accounts."""
    out.mkdir(parents=True, exist_ok=True)
    return CityYear(units=units, year=year, out=out, months=months, seed=seed, nontax=nontax,
                    stdout=stdout, workers=workers, open_through=open_through,
                    payments=payments).run()
