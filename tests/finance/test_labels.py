"""finance.labels (issue 18): the shared logs read in Chinese. Every workflow action the
services record and every fixed history reason they write has a label (a static scan of
the services' source, so a new action cannot slip onto a page as a bare code); the labels
read back in Chinese as the catalogue says, worked out here by hand."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from finance import labels
from payments.models import PaymentRequest

ROOT = Path(settings.BASE_DIR)
SERVICES = [p for app in ("finance", "budgets", "payments", "reports", "audit")
            for p in (ROOT / app).rglob("*.py")
            if "migrations" not in p.parts and "tests" not in p.parts]
# action="…" inside a workflow_record / workflow_record_many / _move / _move_many call
RECORDED = re.compile(r"(?:workflow_record(?:_many)?|_move(?:_many)?)\((?:[^()]|\([^()]*\))*?"
                      r"action=\"([^\"]+)\"", re.S)
# reason="…" (a fixed text) on a history row
REASON = re.compile(r"save_with_history\((?:[^()]|\([^()]*\))*?reason=\"([^\"]+)\"", re.S)


def _found(pattern: re.Pattern) -> set[str]:
    return {m.group(1) for p in SERVICES for m in pattern.finditer(p.read_text("utf-8"))}


def test_every_recorded_action_and_fixed_reason_has_a_label():
    actions, reasons = _found(RECORDED), _found(REASON)
    assert {"file", "submit 一上", "approve 批复", "bank_result"} <= actions  # the scan works
    assert {"filed", "submitted"} <= reasons
    assert actions - set(labels.ACTIONS) == set()
    assert reasons - set(labels.REASONS) - set(labels.ACTIONS) == set()


@pytest.mark.parametrize(("text", "zh"), [
    ("filed", "已填报"),
    ("approved by unit head", "单位负责人已同意"),
    ("withdrawn: 重复申请", "已撤回作废：重复申请"),
    ("approve 批复: 同意", "批复：同意"),
    ("bank result BK2026031400001", "银行回单 BK2026031400001"),
    ("opened by year-end close 2025", "由2025年年终结账开立"),
    ("由单位自行说明", "由单位自行说明"),  # a person's own words stay as written
    ("", ""),
])
def test_reasons_read_in_chinese(text, zh):  # noqa: ANN001
    with translation.override("zh-hans"):
        assert labels.reason_label(text) == zh


def test_actions_and_states_read_in_chinese():
    with translation.override("zh-hans"):
        assert labels.action_label("submit 二上") == "提交二上"
        assert labels.action_label("issue control numbers 一下") == "下达控制数（一下）"
        assert labels.action_label("unheard-of") == "unheard-of"
        assert labels.state_label(PaymentRequest, "unit_review") == "待单位负责人审批"
        assert labels.state_label(PaymentRequest, "") == ""
        assert labels.state_label(None, "x") == "x"
    with translation.override("en"):
        assert labels.state_label(PaymentRequest, "unit_review") == "awaiting unit head"
        assert labels.reason_label("approved by unit head") == "approved by the unit head"
