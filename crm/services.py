"""Write workflows of the core app."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm import webhooks
from crm.models import Subscription, User, WebhookEventType
from crm.versioning import ExpectedVersion, lock_version, save_versioned


def subscription_end(
    *,
    subscription: Subscription,
    by: User,
    ended_on: datetime.date | None = None,
    reason: str = "",
    expected_version: ExpectedVersion = None,
) -> Subscription:
    """End a running subscription on a day (default today), recording who and when."""
    ended_on = ended_on or timezone.localdate()
    with transaction.atomic():
        # Locked so that two concurrent "end" calls cannot both succeed.
        sub = lock_version(subscription, expected_version)
        if sub.ended_on is not None:
            # No retry can end it again: a field error, not a conflict.
            raise ValidationError(
                {
                    "ended_on": "This subscription already ended on "
                    f"{sub.ended_on.isoformat()}."
                }
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
        save_versioned(
            sub, ["ended_on", "churn_reason", "ended_by", "ended_recorded_at"]
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
