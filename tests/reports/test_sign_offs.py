"""Issue 22 items 2 and 3: the confidentiality review (保密审查) and the department head's
sign-off (主要负责人审签) before publishing, and the legal deadline (批复 + 20 days) with
late and overdue sets. Dates worked out by hand: 批复 2027-03-10 → due 2027-03-30 (21
days in March: 10 + 20 = 30); published on the 30th is on time, on the 31st late."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from finance.errors import NotPermitted
from reports import errors, services
from reports.models import DisclosureSet
from reports.selectors import deadline_state, disclosure_deadlines, disclosure_due
from tests.reports.conftest import YEAR, make_department_head

SH = ZoneInfo("Asia/Shanghai")
EDU = "440300100"


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SH)


@pytest.fixture
def approved(city, user, approver):  # noqa: ANN001, ARG001
    """A final-accounts set of 2026, 批复 on 2027-03-10 (the year after), approved."""
    ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="final",
                                        approved_on=dt.date(2027, 3, 10), user=user,
                                        as_of=at(dt.date(2027, 3, 11)))
    return services.disclosure_set_approve(disclosure_id=ds.pk, user=approver,
                                           as_of=at(dt.date(2027, 3, 12)))


@pytest.fixture
def head(django_user_model, city):  # noqa: ANN001, ARG001
    return make_department_head(django_user_model)


def review(ds: DisclosureSet, user, conclusion: str = "cleared", note: str = "不涉及国家秘密",  # noqa: ANN001
           day: dt.date = dt.date(2027, 3, 13)) -> DisclosureSet:
    return services.disclosure_set_confidentiality(disclosure_id=ds.pk, user=user,
                                                   conclusion=conclusion, note=note,
                                                   as_of=at(day))


class TestPublishingNeedsBothSignOffs:
    def test_refused_without_the_confidentiality_review(self, approved, approver, head):  # noqa: ANN001
        services.disclosure_set_sign(disclosure_id=approved.pk, user=head)
        with pytest.raises(errors.ConfidentialityReviewMissing) as exc:
            services.disclosure_set_publish(disclosure_id=approved.pk, user=approver)
        assert isinstance(exc.value, errors.SignOffMissing)
        with translation.override("zh-hans"):
            assert str(exc.value) == f"公开报表 {approved.pk} 尚未完成保密审查，不能发布。"
        assert DisclosureSet.objects.get(pk=approved.pk).status == "approved"

    def test_refused_without_the_heads_sign_off(self, approved, approver):  # noqa: ANN001
        review(approved, approver)
        with pytest.raises(errors.HeadSignOffMissing) as exc:
            services.disclosure_set_publish(disclosure_id=approved.pk, user=approver)
        with translation.override("zh-hans"):
            assert str(exc.value) == (f"公开报表 {approved.pk} 尚未经深圳市教育局主要负责人审签，"
                                      "不能发布。")
        assert not approved.files.exists()

    def test_refused_when_the_review_found_secrets(self, approved, approver, head):  # noqa: ANN001
        with pytest.raises(errors.ReasonRequired):  # withholding says why
            review(approved, approver, conclusion="withheld", note=" ")
        review(approved, approver, conclusion="withheld", note="表 F3 含涉密项目")
        services.disclosure_set_sign(disclosure_id=approved.pk, user=head)
        with pytest.raises(errors.ConfidentialityWithheld) as exc:
            services.disclosure_set_publish(disclosure_id=approved.pk, user=approver)
        assert "表 F3 含涉密项目" in str(exc.value)
        with pytest.raises(errors.ConclusionUnknown):
            review(approved, approver, conclusion="maybe")

    def test_who_may_record_each(self, approved, user, approver, django_user_model):  # noqa: ANN001
        with pytest.raises(errors.NotAuthorised):  # no reports.review_disclosure_confidentiality
            review(approved, user)
        with pytest.raises(NotPermitted):  # the discloser is not the department's head
            services.disclosure_set_sign(disclosure_id=approved.pk, user=approver)
        other = make_department_head(django_user_model, code="440300200", username="health-head")
        with pytest.raises(NotPermitted):  # another department's head
            services.disclosure_set_sign(disclosure_id=approved.pk, user=other)
        unit_head = make_department_head(django_user_model, code="440300101",
                                         username="school-head")
        with pytest.raises(NotPermitted):  # the head of one of its units
            services.disclosure_set_sign(disclosure_id=approved.pk, user=unit_head)

    def test_the_head_signs_the_approved_set_only(self, city, user, head):  # noqa: ANN001, ARG002
        ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                            approved_on=dt.date(YEAR, 3, 1), user=user)
        with pytest.raises(errors.BadState):
            services.disclosure_set_sign(disclosure_id=ds.pk, user=head)

    def test_both_recorded_with_history_and_in_the_manifest(self, approved, approver, head):  # noqa: ANN001
        review(approved, approver)
        services.disclosure_set_sign(disclosure_id=approved.pk, user=head,
                                     as_of=at(dt.date(2027, 3, 20), 9))
        ds = services.disclosure_set_publish(disclosure_id=approved.pk, user=approver,
                                             as_of=at(dt.date(2027, 3, 25)))
        assert ds.manifest["confidentiality_review"] == {
            "by": "head", "at": "2027-03-13T10:00:00+08:00", "conclusion": "cleared",
            "note": "不涉及国家秘密"}
        assert ds.manifest["head_sign_off"] == {"by": "dept-head",
                                                "at": "2027-03-20T09:00:00+08:00"}
        reasons = list(ds.history.order_by("history_id").values_list("history_change_reason",
                                                                     flat=True))
        assert reasons == ["draft", "approve", "confidentiality review", "head sign-off",
                           "publish"]
        with pytest.raises(errors.PublishedImmutable):  # nothing changes once published
            review(ds, approver)


class TestDeadlines:
    def test_arithmetic(self):
        assert disclosure_due(dt.date(2027, 3, 10)) == dt.date(2027, 3, 30)
        assert disclosure_due(dt.date(2027, 2, 15)) == dt.date(2027, 3, 7)  # 28 days in Feb
        assert disclosure_due(dt.date(2026, 12, 20)) == dt.date(2027, 1, 9)

    def test_unpublished_sets_become_overdue_after_the_deadline(self, approved):  # noqa: ANN001
        assert deadline_state(approved, dt.date(2027, 3, 24)) == "open"  # 6 days left
        assert deadline_state(approved, dt.date(2027, 3, 25)) == "due_soon"  # 5 days
        assert deadline_state(approved, dt.date(2027, 3, 30)) == "due_soon"  # the last day
        assert deadline_state(approved, dt.date(2027, 3, 31)) == "overdue"
        d = disclosure_deadlines(today=dt.date(2027, 3, 31))[0]
        assert (d.due, d.days_left, d.state) == (dt.date(2027, 3, 30), -1, "overdue")

    @pytest.mark.parametrize(("published", "late", "state"), [
        (at(dt.date(2027, 3, 30), 23), False, "published"),  # 23:00 in Shenzhen: the 30th
        (at(dt.date(2027, 3, 31), 9), True, "published_late"),
    ])
    def test_published_after_the_deadline_is_late(self, approved, approver, head, published,  # noqa: ANN001, PLR0913
                                                  late, state):
        review(approved, approver)
        services.disclosure_set_sign(disclosure_id=approved.pk, user=head)
        ds = services.disclosure_set_publish(disclosure_id=approved.pk, user=approver,
                                             as_of=published)
        assert ds.manifest["approved_on"] == "2027-03-10"
        assert ds.manifest["deadline"] == "2027-03-30"
        assert ds.manifest["published_on"] == published.date().isoformat()
        assert ds.manifest["late"] is late
        assert deadline_state(ds, dt.date(2027, 6, 1)) == state

    def test_a_budget_set_takes_the_date_of_its_budget_approval(self, city, user):  # noqa: ANN001, ARG002
        from budgets.models import BudgetPlan
        from finance.models import Entry, Organization

        with pytest.raises(errors.ApprovalDateMissing):  # nothing approved yet
            services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                           user=user)
        approval = Entry.objects.filter(description__startswith="批复 ").first()
        assert approval.date == dt.date(YEAR, 1, 20)  # the fixture's 批复
        BudgetPlan.objects.create(unit=Organization.objects.get(code="440300101"), year=YEAR,
                                  status="approved", approval_entry=approval)
        ds = services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                            user=user)
        assert (ds.approved_on, ds.approved_on_source) == (dt.date(YEAR, 1, 20),
                                                           "budget_approval")
        assert disclosure_due(ds.approved_on) == dt.date(YEAR, 2, 9)  # 11 days of Jan + 9
        with pytest.raises(errors.ApprovalDateMissing):  # no final-accounts 批复 in the ledger
            services.disclosure_set_create(department_code=EDU, year=YEAR, kind="final",
                                           user=user)


class TestPublishedFileAndPage:
    @pytest.fixture
    def published(self, approved, approver, head):  # noqa: ANN001
        review(approved, approver)
        services.disclosure_set_sign(disclosure_id=approved.pk, user=head,
                                     as_of=at(dt.date(2027, 3, 20), 9))
        return services.disclosure_set_publish(disclosure_id=approved.pk, user=approver,
                                               as_of=at(dt.date(2027, 3, 31), 15))

    def test_the_manifest_read_back_from_the_published_file(self, published, client):  # noqa: ANN001
        r = client.get(f"/reports/public/{published.pk}/manifest.json")
        assert r.status_code == 200
        body = b"".join(r.streaming_content) if r.streaming else r.content
        assert hashlib.sha256(body).hexdigest() == published.manifest_sha256
        doc = json.loads(body)
        assert doc["confidentiality_review"]["by"] == "head"
        assert doc["confidentiality_review"]["conclusion"] == "cleared"
        assert doc["head_sign_off"] == {"by": "dept-head", "at": "2027-03-20T09:00:00+08:00"}
        assert (doc["approved_on"], doc["deadline"], doc["published_on"], doc["late"]) == (
            "2027-03-10", "2027-03-30", "2027-03-31", True)
        names = {f["name"] for f in doc["files"]}
        assert "datapackage.json" in names and len(doc["figures"]) > 100

    def test_the_public_page_shows_both_sign_offs(self, published, client):  # noqa: ANN001
        html = client.get(f"/reports/public/{published.pk}/").content.decode()
        assert "保密审查" in html and "主要负责人审签" in html
        assert "不涉及国家秘密，同意公开" in html and "2027-03-13 10:00" in html
        assert "dept-head" in html and "2027-03-20 09:00" in html
        assert "2027-03-30" in html and "逾期公开" in html
        assert f"/reports/public/{published.pk}/manifest.json" in html

    def test_the_disclosure_page_flags_late_and_overdue(self, published, user, approver,  # noqa: ANN001
                                                        client):
        services.disclosure_set_create(department_code=EDU, year=YEAR, kind="budget",
                                       approved_on=dt.date(2026, 1, 5), user=user)
        client.force_login(approver)
        html = client.get("/reports/disclosure/").content.decode()
        assert "逾期公开" in html and "已逾期" in html
