"""finance.roles: the role names and labels, the user's roles and organization (cached),
the decisions "who may act" and the error they raise; Membership now lives in finance."""
from __future__ import annotations

import pytest
from django.utils import translation

from finance import errors, roles
from finance import services as fin
from finance.ids import make_uscc
from finance.models import Membership
from tests.helpers import grant, person


@pytest.fixture
def people(orgs, user):  # noqa: ANN001
    """A filer and a head of unit u1, a filer of u2, a member of the education department,
    the budget office, an auditor and someone with no role."""
    return {
        "filer": person("filer-u1", roles.UNIT_FILER, organization=orgs["u1"], by=user),
        "head": person("head-u1", roles.UNIT_HEAD, organization=orgs["u1"], by=user),
        "other_filer": person("filer-u2", roles.UNIT_FILER, organization=orgs["u2"], by=user),
        "dept": person("dept-reviewer", organization=orgs["dept"], by=user),
        "office": person("office", roles.BUDGET_OFFICE, organization=orgs["bureau"], by=user),
        "auditor": person("auditor", roles.AUDITOR),
        "nobody": person("nobody"),
    }


def fresh(u):  # noqa: ANN001, ANN201
    """The same user as a new request would load it (no cached roles)."""
    return type(u).objects.get(pk=u.pk)


class TestVocabulary:
    def test_every_group_in_use_is_a_role_with_a_chinese_label(self):
        assert set(roles.GROUP_ROLES) == {"unit_filer", "unit_head", "treasury_reviewer",
                                          "treasury_director", "budget_office", "auditor"}
        with translation.override("zh-hans"):
            shown = {r: roles.label(r) for r in (*roles.GROUP_ROLES, roles.DEPARTMENT_REVIEWER)}
        assert shown == {"unit_filer": "经办人", "unit_head": "单位负责人",
                         "treasury_reviewer": "国库审核人", "treasury_director": "国库负责人",
                         "budget_office": "预算处", "auditor": "审计人员",
                         "department_reviewer": "主管部门审核人"}

    def test_payments_keeps_its_names_equal_to_finances(self):
        from payments import services as pay

        assert (pay.FILER, pay.UNIT_HEAD, pay.REVIEWER, pay.DIRECTOR) == (
            roles.UNIT_FILER, roles.UNIT_HEAD, roles.TREASURY_REVIEWER, roles.TREASURY_DIRECTOR)


class TestRolesOf:
    def test_reads_the_groups_and_the_membership_of_a_user(self, people, orgs):
        filer = fresh(people["filer"])
        assert roles.roles_of(filer) == {roles.UNIT_FILER}
        assert roles.has_role(filer, roles.UNIT_HEAD, roles.UNIT_FILER)
        assert not roles.has_role(filer, roles.BUDGET_OFFICE)
        assert roles.unit_of(filer) == "440300101"
        assert roles.organization_of(filer) == orgs["u1"]

    def test_anonymous_and_unassigned_users_hold_nothing(self, people):
        from django.contrib.auth.models import AnonymousUser

        for u in (None, AnonymousUser(), fresh(people["nobody"])):
            assert roles.roles_of(u) == frozenset()
            assert roles.unit_of(u) == ""
            assert roles.organization_of(u) is None

    def test_a_user_object_reads_its_roles_once(self, people, django_assert_num_queries):
        filer = fresh(people["filer"])
        with django_assert_num_queries(2):  # groups, membership
            for _ in range(3):
                roles.roles_of(filer)
                roles.unit_of(filer)

    def test_users_prefetch_fills_the_caches_of_many_users_in_two_queries(
            self, people, django_assert_num_queries):
        users = [fresh(u) for u in people.values()]
        with django_assert_num_queries(2):
            roles.users_prefetch(users)
            answers = {u.username: (sorted(roles.roles_of(u)), roles.unit_of(u)) for u in users}
        assert answers == {
            "filer-u1": (["unit_filer"], "440300101"), "head-u1": (["unit_head"], "440300101"),
            "filer-u2": (["unit_filer"], "440300102"), "dept-reviewer": ([], "440300100"),
            "office": (["budget_office"], "440300001"), "auditor": (["auditor"], ""),
            "nobody": ([], "")}

    def test_a_grant_or_a_new_membership_shows_on_the_same_user_object(self, people, orgs, user):
        nobody = people["nobody"]
        assert not roles.may_file(nobody, "440300102")
        grant(nobody, roles.UNIT_FILER, organization=orgs["u2"], by=user)
        assert roles.may_file(nobody, "440300102")


class TestDecisions:
    def test_only_the_units_own_filer_files_for_it(self, people):
        p = people
        assert roles.may_file(p["filer"], "440300101")
        assert not roles.may_file(p["other_filer"], "440300101")
        assert not roles.may_file(p["head"], "440300101")  # the head approves, not files
        assert not roles.may_file(p["office"], "440300101")
        assert not roles.may_file(p["filer"], "")

    def test_only_the_units_own_head_approves_at_the_unit_level(self, people):
        assert roles.may_approve_unit(people["head"], "440300101")
        assert not roles.may_approve_unit(people["head"], "440300102")
        assert not roles.may_approve_unit(people["filer"], "440300101")

    def test_a_department_reviews_its_own_units_only(self, people, orgs, user):
        health = fin.organization_upsert(
            code="440300200", name="深圳市卫生健康委员会", kind="department",
            region_code="440300", uscc=make_uscc("440300", 200),
            parent_code="440300001", user=user, reason="set-up")
        dept = people["dept"]
        assert roles.may_review_department(dept, "440300100")
        assert roles.may_review_department(dept, orgs["dept"])
        assert not roles.may_review_department(dept, health)
        assert roles.may_review_for_unit(dept, orgs["u1"])
        assert not roles.may_review_department(people["office"], "440300100")
        assert roles.may_review_for_unit(people["office"], orgs["u1"])  # the bureau may too
        assert not roles.may_review_for_unit(people["filer"], orgs["u1"])

    def test_only_the_budget_office_acts_as_the_budget_office(self, people):
        assert roles.may_act_as_budget_office(people["office"])
        for name in ("filer", "head", "dept", "auditor", "nobody"):
            assert not roles.may_act_as_budget_office(people[name])


class TestRequire:
    def test_names_the_user_the_role_and_the_unit(self, people):
        other = people["other_filer"]
        with pytest.raises(errors.NotPermitted) as exc:
            roles.require(roles.may_file(other, "440300101"), user=other, role=roles.UNIT_FILER,
                          unit="440300101")
        assert str(exc.value) == ("filer-u2 may not do this: it needs the role “unit filer” "
                                  "for 440300101.")
        assert exc.value.params["role"] == roles.UNIT_FILER
        assert exc.value.code == "not_permitted"
        with translation.override("zh-hans"):
            assert str(exc.value) == "filer-u2 无权办理此事项：需要 440300101 的“经办人”角色。"

    def test_a_role_not_tied_to_a_unit_and_alternatives(self, people):
        filer = people["filer"]
        with pytest.raises(errors.NotPermitted) as exc:
            roles.require(roles.may_act_as_budget_office(filer), user=filer,
                          role=roles.BUDGET_OFFICE)
        assert str(exc.value) == "filer-u1 may not do this: it needs the role “budget office”."
        with pytest.raises(errors.NotPermitted) as exc:
            roles.require(False, user=filer, role=(roles.DEPARTMENT_REVIEWER, roles.BUDGET_OFFICE),
                          unit="440300101")
        with translation.override("zh-hans"):
            assert str(exc.value) == ("filer-u1 无权办理此事项：需要 440300101 的“主管部门审核人” / "
                                      "“预算处”角色。")

    def test_passes_when_allowed(self, people):
        roles.require(True, user=people["nobody"], role=roles.BUDGET_OFFICE)


class TestMembership:
    def test_lives_in_finance_on_its_old_table_with_history(self, people, orgs, user):
        from payments import models as payment_models

        assert payment_models.Membership is Membership
        assert Membership._meta.db_table == "payments_membership"
        assert Membership.history.model._meta.db_table == "payments_historicalmembership"
        m = Membership.objects.get(user=people["filer"])
        fin.membership_set(member=people["filer"], organization=orgs["u2"], user=user,
                           reason="moved to the second school")
        assert [(h.organization_id, h.history_change_reason) for h in m.history.order_by(
            "history_id")] == [(orgs["u1"].pk, "membership"),
                               (orgs["u2"].pk, "moved to the second school")]
        assert roles.unit_of(people["filer"]) == "440300102"  # the cache follows

    def test_setting_the_same_organization_again_writes_nothing(self, people, orgs, user):
        before = Membership.history.count()
        fin.membership_set(member=people["filer"], organization=orgs["u1"], user=user)
        assert Membership.history.count() == before

    def test_role_grant_refuses_an_unknown_role(self, people):
        with pytest.raises(ValueError, match="unknown role 'treasurer'"):
            fin.role_grant(member=people["nobody"], role="treasurer")
