"""Write workflows of the core app."""

from __future__ import annotations

import datetime
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm import webhooks
from crm.errors import Conflict
from crm.models import Subscription, User, WebhookEndpoint, WebhookEventType

# How long the previous webhook secret keeps signing after a rotation.
WEBHOOK_SECRET_GRACE = datetime.timedelta(hours=24)


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


def webhook_secret_rotate(
    *,
    endpoint: WebhookEndpoint,
    by: User,
    secret: str | None = None,
    grace: datetime.timedelta = WEBHOOK_SECRET_GRACE,
) -> WebhookEndpoint:
    """Give an endpoint a new signing secret (generated unless given).

    Until ``grace`` has passed, deliveries are signed with the new and the
    previous secret (one ``v1`` each), so the receiver can switch keys without
    rejecting a delivery. A rotation within the grace period drops the oldest key.
    """
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        now = timezone.now()
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = now + grace if grace else None
        locked.secret = secret or secrets.token_hex(32)
        locked.save(
            update_fields=[
                "secret",
                "previous_secret",
                "previous_secret_expires_at",
                "updated_at",
            ]
        )
    return locked
