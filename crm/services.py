"""Write workflows of the core app."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm import webhooks
from crm.errors import Conflict
from crm.models import Subscription, User, WebhookEventType


def subscription_end(
    *,
    subscription: Subscription,
    by: User,
    ended_on: datetime.date | None = None,
    reason: str = "",
) -> Subscription:
    """End a running subscription on a day (default today), recording who and when."""
    ended_on = ended_on or timezone.localdate()
    with transaction.atomic():
        # Locked so that two concurrent "end" calls cannot both succeed.
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if sub.ended_on is not None:
            raise Conflict(
                f"This subscription already ended on {sub.ended_on.isoformat()}.",
                code="already_ended",
            )
        if ended_on < sub.started_on:
            raise ValidationError(
                {
                    "ended_on": "A subscription cannot end before it starts "
                    f"({sub.started_on.isoformat()})."
                }
            )
        sub.ended_on = ended_on
        sub.churn_reason = reason
        sub.ended_by = by
        sub.ended_recorded_at = timezone.now()
        sub.save(
            update_fields=[
                "ended_on",
                "churn_reason",
                "ended_by",
                "ended_recorded_at",
                "updated_at",
            ]
        )
        webhooks.emit(
            WebhookEventType.SUBSCRIPTION_ENDED,
            {
                "subscription": sub.pk,
                "company": sub.company_id,
                "plan": sub.plan,
                "mrr": sub.mrr,
                "currency": sub.currency,
                "started_on": sub.started_on,
                "ended_on": sub.ended_on,
                "churn_reason": sub.churn_reason,
            },
        )
    return sub
