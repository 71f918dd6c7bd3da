"""The bureau's period pages (月结 / 年结, web/views_periods.py): a year's months with
status and who closed them when, month close and reopening with a reason, the year-end
close with its preconditions and result, its reopening, the history of every close and
reopening; only the roles the existing rules allow.

Figures by hand: the world's indicators are 1,000.00 (440300101) and 500.00 (440300102),
fund source 1 (一般公共预算, taken back at year end by default); the two submitted
requests commit 120.50 and 80.00, so 1,500.00 − 200.50 = 1,299.50 is unspent and
available (9101) when the year closes. Fund source 1 takes back its open commitments too:
the close releases the two (120.50 + 80.00 = 200.50, requests withdrawn) and takes back
1,299.50 + 200.50 = 1,500.00."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from finance import errors as ferr
from finance.ledger import Dims, cr, dr, entry_post
from finance.models import FiscalYear, Period
from payments.models import PaymentRequest
from reports.models import YearEndClose
from tests.helpers import YEAR

pytestmark = pytest.mark.django_db
PAGE = "/web/bureau/periods/"

# the permission matrix of these pages (tests/web/test_permissions.py's registry): roles in
# this order; a role-less account keeps the apps' earlier access (web.policy._unassigned)
ROLES = ["anonymous", "filer", "head", "dept", "reviewer", "office", "auditor", "roleless"]
LOGIN, A, D, R, BAD = 302, 200, 403, 302, 400  # R: done, back to the page; BAD: refused, listed
CITY = [LOGIN, D, D, D, A, A, A, A]
PAGES = {
    f"{PAGE}?year={YEAR}": CITY,
    f"{PAGE}{YEAR}/year-end/": CITY,
}
POSTS = {  # closing: reports.write without auditors; reopening also reports.reopen_year
    f"{PAGE}{YEAR}/1/close/": [LOGIN, D, D, D, R, R, D, R],
    f"{PAGE}{YEAR}/1/reopen/": [LOGIN, D, D, D, BAD, BAD, D, BAD],
    f"{PAGE}{YEAR}/year-end/close/": [LOGIN, D, D, D, BAD, BAD, D, BAD],
    f"{PAGE}{YEAR}/year-end/reopen/": [LOGIN, D, D, D, BAD, BAD, D, BAD],
}


def sign_in(user, lang: str = "en") -> Client:  # noqa: ANN001
    c = Client(headers={"accept-language": lang})
    c.force_login(user)
    return c


def text(response) -> str:  # noqa: ANN001
    return response.content.decode()


@pytest.fixture
def office(world):  # noqa: ANN001
    return world.people.office


@pytest.fixture
def chief(world):  # noqa: ANN001
    """The budget office member given the right to reopen (reports.reopen_year)."""
    u = world.people.office
    u.user_permissions.add(Permission.objects.get(codename="reopen_year"))
    return type(u).objects.get(pk=u.pk)


def close(c: Client, month: int) -> object:
    return c.post(f"{PAGE}{YEAR}/{month}/close/")


def status(month: int) -> str:
    return Period.objects.get(fiscal_year__year=YEAR, month=month).status


class TestWhoSeesThePages:
    def test_every_page_for_every_role(self, world, django_user_model):  # noqa: ANN001
        p = world.people
        people = {"filer": p.filer, "head": p.head, "dept": p.dept, "reviewer": p.reviewer,
                  "office": p.office, "auditor": p.auditor,
                  "roleless": django_user_model.objects.create_user(username="roleless")}
        wrong = []
        for role in ROLES:
            c = Client(headers={"accept-language": "en"})
            if role != "anonymous":
                c.force_login(people[role])
            for table, post in ((PAGES, False), (POSTS, True)):
                for url, answers in table.items():
                    r = c.post(url, {"reason": "x"}) if post else c.get(url)
                    if r.status_code != answers[ROLES.index(role)]:
                        wrong.append(f"{role} {url}: {r.status_code}, expected "
                                     f"{answers[ROLES.index(role)]}")
                    elif r.status_code == LOGIN and role == "anonymous":
                        assert r["Location"].startswith("/accounts/login/")
        assert wrong == []

    def test_the_menu_entry_is_for_city_roles_only(self, world):  # noqa: ANN001
        p = world.people
        for who in (p.office, p.reviewer, p.auditor):
            assert "Month and year-end close" in text(sign_in(who).get("/web/")), who
        for who in (p.filer, p.head, p.dept):
            assert "Month and year-end close" not in text(sign_in(who).get("/web/")), who
            assert sign_in(who).get(f"{PAGE}?year={YEAR}").status_code == 403, who

    def test_anonymous_goes_to_sign_in(self, world):  # noqa: ANN001
        r = Client().get(PAGE)
        assert r.status_code == 302 and "/accounts/login/" in r["Location"]

    def test_the_auditor_reads_but_may_not_close(self, world):  # noqa: ANN001
        c = sign_in(world.people.auditor)
        page = text(c.get(f"{PAGE}?year={YEAR}"))
        assert 'id="months"' in page and "Close the month" not in page
        assert close(c, 3).status_code == 403
        assert status(3) == "open"


class TestMonthClose:
    def test_the_year_lists_twelve_open_months(self, office):  # noqa: ANN001
        page = text(sign_in(office).get(f"{PAGE}?year={YEAR}"))
        for m in range(1, 13):
            assert f'id="month-{m}"' in page
        assert page.count('id="close-') == 12

    def test_closing_a_month_shows_who_and_when_and_refuses_postings(self, office):  # noqa: ANN001
        c = sign_in(office)
        r = close(c, 3)
        assert r.status_code == 302
        page = text(c.get(r["Location"]))
        assert "Month 3 of 2026 is closed" in page
        row = page.split('id="month-3"')[1].split("</tr>")[0]
        assert "status-closed" in row and "office" in row and "month close" in row
        assert 'id="close-3"' not in page
        assert "Month 3 closed" in page.split('id="history"')[1]
        with pytest.raises(ferr.PeriodClosed):
            d = Dims(region="440300", unit="440300101")
            entry_post(lines=[dr("indicator", "9101", Decimal("1.00"), d),
                              cr("indicator", "9001", Decimal("1.00"), d)],
                       description="late", user=office, on=dt.date(YEAR, 3, 31))

    def test_reopening_needs_the_right_and_a_reason_shown_as_a_list(self, office, chief):  # noqa: ANN001
        close(sign_in(office), 4)
        c = sign_in(chief)
        page = text(c.get(f"{PAGE}?year={YEAR}"))
        assert 'id="reopen-4"' in page
        r = c.post(f"{PAGE}{YEAR}/4/reopen/", {"reason": "  "})
        assert r.status_code == 400
        problems = text(r).split('id="refused-problems"')[1].split("</ul>")[0]
        assert "A reason is required to reopen a period." in problems
        assert status(4) == "closed"
        r = c.post(f"{PAGE}{YEAR}/4/reopen/", {"reason": "补记3月工资"})
        assert r.status_code == 302 and status(4) == "open"
        history = text(c.get(r["Location"])).split('id="history"')[1]
        assert "Month 4 reopened" in history and "补记3月工资" in history
        assert history.index("Month 4 reopened") < history.index("Month 4 closed")

    def test_without_the_right_to_reopen_the_service_refusal_is_listed(self, world):  # noqa: ANN001
        c = sign_in(world.people.reviewer)
        close(c, 5)
        assert 'id="reopen-5"' not in text(c.get(f"{PAGE}?year={YEAR}"))
        r = c.post(f"{PAGE}{YEAR}/5/reopen/", {"reason": "x"})
        assert r.status_code == 400
        assert "the role reports.reopen_year is required" in text(r)
        assert status(5) == "closed"

    def test_refusals_are_in_chinese(self, office):  # noqa: ANN001
        c = sign_in(office, "zh-hans")
        r = c.post(f"{PAGE}{YEAR}/year-end/close/")
        problems = text(r).split('id="refused-problems"')[1].split("</ul>")[0]
        assert problems.count("<li>") == 11
        assert "1月尚未结账" in problems and "11月尚未结账" in problems
        assert "年终结账未完成" in text(r)

    def test_a_year_not_opened_says_so(self, office):  # noqa: ANN001
        page = text(sign_in(office).get(f"{PAGE}?year=2031"))
        assert 'id="no-year"' in page and 'id="months"' not in page


class TestYearEnd:
    def test_preconditions_then_close_result_and_reopen(self, office, chief):  # noqa: ANN001
        c = sign_in(chief)
        page = text(c.get(f"{PAGE}{YEAR}/year-end/"))
        checks = page.split('id="checks"')[1].split('</ul>\n')[0]
        assert "Month 1 is still open" in checks and "Month 11 is still open" in checks
        assert "12 is still open" not in checks
        assert "1 一般公共预算" in page.split('id="policies"')[1]
        for m in range(1, 12):
            assert close(c, m).status_code == 302
        page = text(c.get(f"{PAGE}{YEAR}/year-end/"))
        assert "✗" not in page.split('id="checks"')[1].split("</ul>")[0]

        r = c.post(f"{PAGE}{YEAR}/year-end/close/")
        assert r.status_code == 302
        page = text(c.get(r["Location"]))
        assert "Year-end close of 2026 done" in page
        summary = page.split('id="summary"')[1].split("</table>")[0]
        assert "unspent indicators taken back" in summary and "1,500.00" in summary
        held = page.split('id="commitments"')[1].split("</table>")[0]
        assert "released, requests withdrawn" in held and ">2<" in held and "200.50" in held
        assert "carried into 2027" in held and ">0<" in held
        zh = text(sign_in(chief, "zh-hans").get(f"{PAGE}{YEAR}/year-end/"))
        held = zh.split('id="commitments"')[1].split("</table>")[0]
        assert "年末未支付承诺" in held and "收回（承诺已释放，申请作废）" in held
        assert "结转至 2027 年度" in held
        assert "office" in page.split('id="close-status"')[1].split("</p>")[0]
        assert FiscalYear.objects.get(year=YEAR).is_closed and status(12) == "closed"
        assert FiscalYear.objects.filter(year=YEAR + 1).exists()
        months = text(c.get(f"{PAGE}?year={YEAR}"))
        assert "reopen the year first" in months and 'id="reopen-12"' not in months

        r = c.post(f"{PAGE}{YEAR}/year-end/reopen/", {"reason": ""})
        assert r.status_code == 400 and "A reason is required" in text(r)
        r = c.post(f"{PAGE}{YEAR}/year-end/reopen/", {"reason": "决算审计调整"})
        assert r.status_code == 302
        assert YearEndClose.objects.get(year=YEAR).status == "reopened"
        assert sorted(PaymentRequest.objects.values_list("status", flat=True)) == [
            "unit_review", "unit_review"]  # the withdrawn requests back as they were
        assert not FiscalYear.objects.get(year=YEAR).is_closed and status(12) == "open"
        page = text(c.get(r["Location"]))
        history = page.split('id="history"')[1]
        assert "Year-end close reopened" in history and "决算审计调整" in history
        assert 'id="year-close-button"' in page  # may be closed again
