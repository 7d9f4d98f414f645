"""Write workflows of the core app."""

from __future__ import annotations

import datetime
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from crm import policy, webhooks
from crm.errors import Conflict
from crm.models import (
    Company,
    Contact,
    Subscription,
    User,
    WebhookEndpoint,
    WebhookEventType,
)
from crm.versioning import ExpectedVersion, lock_version, save_versioned

# How long the previous webhook secret keeps signing after a rotation.
WEBHOOK_SECRET_GRACE = datetime.timedelta(hours=24)


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


def address_book_delete(
    *, record: Company | Contact, by: User, expected_version: ExpectedVersion = None
) -> None:
    """Delete a company or contact that no other record refers to.

    Deals, activities, subscriptions and contacts refer to them with
    ``PROTECT``: another rep's history never disappears with a record.
    """
    if not policy.may_delete(by, record):
        raise PermissionDenied(
            "Only the owner, the owner's manager or an admin can delete this."
        )
    with transaction.atomic():
        record = lock_version(record, expected_version)
        blockers = policy.deletion_blockers(record)
        if blockers:
            raise Conflict(
                f"This {record._meta.verbose_name} cannot be deleted while other "
                f"records refer to it ({', '.join(blockers)}).",
                code="protected",
            )
        try:
            record.delete()
        except models.ProtectedError as exc:
            # A reference added since the check above.
            raise Conflict(
                f"This {record._meta.verbose_name} cannot be deleted: "
                "other records now refer to it.",
                code="protected",
            ) from exc


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
        locked = lock_version(endpoint)
        now = timezone.now()
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = now + grace if grace else None
        locked.secret = secret or secrets.token_hex(32)
        save_versioned(
            locked, ["secret", "previous_secret", "previous_secret_expires_at"]
        )
    return locked
