"""公务卡 overdue alerts: the nightly sweep's check of official-card transactions still
unrepaid (open) more than the rule's `days` after their posting date (rule card_overdue,
default 30 days; payments.services.cards reads the transactions)."""
from __future__ import annotations

import datetime as dt

from audit.models import Alert, MonitoringRule
from audit.services import alert_raise
from payments.services import cards


def card_overdue_sweep(*, on: dt.date, as_of: dt.datetime,
                       rule: MonitoringRule) -> list[Alert]:
    """One alert per card with open charges posted more than `days` days before `on`
    (day 31 after posting with 30 days, not day 30), to the card's unit (`unit_code`)
    and the treasury. Raised once per card and oldest overdue transaction: running the
    sweep again raises nothing; when that transaction is repaid and others are still
    overdue, the card is raised again."""
    days = int(rule.params.get("days", cards.OVERDUE_DAYS))
    raised = []
    for o in cards.cards_overdue(on=on, days=days):
        card = o.card
        alert = alert_raise(
            rule=rule, fingerprint=f"{card.pk}:{o.oldest.pk}", year=on.year,
            unit_code=card.organization.code, amount_fen=int(o.amount * 100), as_of=as_of,
            message=f"Official card {card.number_masked} ({card.holder}) of unit "
                    f"{card.organization.code}: {o.count} transaction(s) of {o.amount:,} "
                    f"unrepaid more than {days} days after posting on {on.isoformat()} "
                    f"(oldest {o.oldest.reference}, posted {o.oldest.posted_on.isoformat()}).",
            details={"card": card.pk, "count": o.count, "amount": str(o.amount),
                     "oldest": o.oldest.reference, "days": days})
        if alert:
            raised.append(alert)
    return raised
