"""控制方式 pages (web/views_control.py): the bureau's control rules with their history, and
the control panel of a request's page with the treasury director's override.

Figures by hand: unit 440300101's indicator is 1,000.00, with 120.50 committed by the
world's request; a request of 100.00 takes it to (120.50 + 100.00) / 1,000.00 = 22.05 %,
above a block rule at 10 %."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from finance import control, roles
from finance.models import ControlRule
from payments import services as pay
from tests.helpers import YEAR, dims
from tests.web.conftest import AS_OF

pytestmark = pytest.mark.django_db
PAGE = "/web/bureau/control-rules/"
# the permission matrix of these pages (tests/web/test_permissions.py's registry)
ROLES = ["anonymous", "filer", "head", "dept", "reviewer", "office", "auditor", "roleless"]
LOGIN, A, D, R, NF = 302, 200, 403, 302, 404
PAGES = {
    PAGE: [LOGIN, D, D, D, A, A, A, A],
    f"{PAGE}{{id}}/": [LOGIN, D, D, D, A, A, A, A],
}
POSTS = {  # the override: treasury only; the reviewer is refused by the service (a message,
    # back to the page); a role-less account sees no request (web.scoping: 404)
    "/web/requests/{tracking_id}/control-override/": [LOGIN, D, D, D, R, D, D, NF],
    "/web/contracts/{contract}/control-override/": [LOGIN, D, D, D, R, D, D, D],
}


def sign_in(user, lang: str = "en") -> Client:  # noqa: ANN001
    c = Client(headers={"accept-language": lang})
    c.force_login(user)
    return c


def new_contract(world) -> object:  # noqa: ANN001
    """A draft contract of 600.00 on the unit's indicator, registered by the filer."""
    return pay.contract_create(
        dims=dims(), year=YEAR, number="HT-2026-009", counterparty=world.payee,
        title="教学楼维修", amount=Decimal("600.00"), start=dt.date(YEAR, 3, 1),
        end=dt.date(YEAR, 12, 31), schedule=[(dt.date(YEAR, 6, 30), Decimal("600.00"))],
        user=world.people.filer, as_of=AS_OF)


@pytest.fixture
def rule(world):  # noqa: ANN001
    return control.control_rule_save(user=world.people.office, reason="深财预〔2026〕9号",
                                      fund_source="1", economic_prefix="302",
                                      threshold_percent=Decimal("10.00"),
                                      effective_from=dt.date(2026, 1, 1))


class TestWhoSeesThePages:
    def test_every_page_for_every_role(self, world, rule, django_user_model):  # noqa: ANN001
        contract = new_contract(world)
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
                    url = url.format(id=rule.pk, tracking_id=world.r1.tracking_id,
                                     contract=contract.pk)
                    r = c.post(url, {"reason": "x"}) if post else c.get(url)
                    if r.status_code != answers[ROLES.index(role)]:
                        wrong.append(f"{role} {url}: {r.status_code}")
        assert wrong == []


class TestControlRulesPage:
    def test_the_office_adds_and_changes_a_rule_and_the_history_shows_both(self, world):  # noqa: ANN001
        c = sign_in(world.people.office, "zh-hans")
        data = {"fund_source": "1", "economic_prefix": "302", "unit": "", "mode": "block",
                "threshold_percent": "90.00", "effective_from": "2026-01-01",
                "active": "on", "reason": "深财预〔2026〕9号"}
        r = c.post(PAGE, data)
        saved = ControlRule.objects.get()
        assert r.status_code == 302 and r["Location"] == f"{PAGE}{saved.pk}/"
        r = c.post(f"{PAGE}{saved.pk}/", {**data, "mode": "warn", "threshold_percent": "85.00",
                                          "reason": "改为预警"})
        html = c.get(f"{PAGE}{saved.pk}/").content.decode()
        assert "改为预警" in html and "深财预〔2026〕9号" in html
        assert "预警控制" in html and "刚性控制" in html  # the mode now and before
        assert "控制方式" in c.get(PAGE).content.decode()

    def test_the_reviewer_reads_but_may_not_change(self, world, rule):  # noqa: ANN001
        c = sign_in(world.people.reviewer)
        assert 'id="control-rule-form"' not in c.get(PAGE).content.decode()
        c.post(f"{PAGE}{rule.pk}/", {"fund_source": "1", "economic_prefix": "302",
                                     "mode": "record", "threshold_percent": "50.00",
                                     "effective_from": "2026-01-01", "reason": "x"})
        rule.refresh_from_db()
        assert (rule.mode, rule.threshold_percent) == ("block", Decimal("10.00"))


class TestOverrideOnTheRequestPage:
    def test_the_director_overrides_a_blocked_request_and_the_page_shows_it(
            self, world, rule, django_user_model):  # noqa: ANN001
        director = django_user_model.objects.create_user(username="director")
        director.groups.add(Group.objects.get_or_create(name=roles.TREASURY_DIRECTOR)[0])
        req = pay.payment_request_create(dims=dims(), year=YEAR, amount=Decimal("100.00"),
                                         payee=world.payee, purpose="办公费",
                                         user=world.people.filer, as_of=AS_OF, submit=True)
        assert req.status == "refused"  # 22.05 % > 10 %
        page = f"/web/requests/{req.tracking_id}/"
        html = sign_in(director).get(page).content.decode()
        assert 'id="override-form"' in html and "22.05" in html
        assert 'id="override-form"' not in sign_in(world.people.filer).get(page).content.decode()
        r = sign_in(director).post(f"{page}control-override/", {"reason": "专项会议纪要"})
        assert r.status_code == 302
        html = sign_in(world.people.filer).get(page).content.decode()
        assert "Overridden by director" in html and "专项会议纪要" in html
        req = pay.payment_request_submit(request=req, user=world.people.filer, as_of=AS_OF)
        assert req.status == "unit_review"


class TestOverrideOnTheContractPage:
    def test_a_blocked_signing_is_overridden_by_the_director_then_signed(
            self, world, rule, django_user_model):  # noqa: ANN001
        # (120.50 + 600.00) / 1,000.00 = 72.05 % > 10 %: the head's signing is refused
        director = django_user_model.objects.create_user(username="director")
        director.groups.add(Group.objects.get_or_create(name=roles.TREASURY_DIRECTOR)[0])
        contract = new_contract(world)
        page = f"/web/contracts/{contract.pk}/"
        html = sign_in(world.people.head, "zh-hans").post(f"{page}sign/", follow=True)
        html = html.content.decode()
        contract.refresh_from_db()
        assert contract.status == "draft"
        assert "不能签订" in html and "72.05" in html and 'id="control-checks"' in html
        assert 'id="override-form"' not in html  # the head may not override
        html = sign_in(director).get(page).content.decode()
        assert 'id="override-form"' in html and f'action="{page}control-override/"' in html
        r = sign_in(director).post(f"{page}control-override/", {"reason": "区长办公会纪要"})
        assert r.status_code == 302
        html = sign_in(world.people.head, "zh-hans").post(f"{page}sign/", follow=True)
        contract.refresh_from_db()
        assert contract.status == "signed" and "区长办公会纪要" in html.content.decode()
        assert [c.outcome for c in control.checks_of(contract)] == ["blocked", "overridden"]
