"""Write workflows of the core app: subscriptions and their MRR ledger."""

from __future__ import annotations

import datetime
import secrets
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import policy, rollups, webhooks
from crm.errors import Conflict
from crm.models import (
    Company,
    Contact,
    Subscription,
    User,
    WebhookEndpoint,
    WebhookEventType,
)
from crm.mrr_ledger import customer_ledger_post, mrr_ledger_post
from crm.versioning import (
    ExpectedVersion,
    differs,
    lock_version,
    save_versioned,
)

# How long the previous webhook secret keeps signing after a rotation.
WEBHOOK_SECRET_GRACE = datetime.timedelta(hours=24)


def _lock_customer(company_id: int) -> Company:
    """Lock the company: its MRR ledger is posted by one writer at a time."""
    return Company.objects.select_for_update().get(pk=company_id)


def _post_ledgers(customer: Company, currency: str, by: User | None) -> None:
    """Post the locked customer's MRR ledger in one currency and its customer
    ledger: what its subscriptions' change moved."""
    mrr_ledger_post(company=customer, currency=currency, by=by)
    customer_ledger_post(company=customer, by=by)


def company_update(
    *,
    company: Company,
    changes: dict[str, Any],
    expected_version: ExpectedVersion = None,
) -> Company:
    """Change a customer's fields; a new owner takes its rollups along.

    The KPIs count a customer under its current owner, so its MRR and
    customer rollups (``crm.rollups``) move with it in the same transaction.
    """
    with transaction.atomic():
        locked = lock_version(company, expected_version)
        from_owner_id = locked.owner_id
        # As ``record_update``: only what differs is written.
        changes = {n: v for n, v in changes.items() if differs(locked, n, v)}
        if changes:
            for name, value in changes.items():
                setattr(locked, name, value)
            save_versioned(locked, list(changes))
            for move in (rollups.mrr_move, rollups.customers_move):
                move(
                    company_id=locked.pk,
                    from_owner_id=from_owner_id,
                    to_owner_id=locked.owner_id,
                )
    return locked


def _check_terms(*, mrr: Decimal, currency: str) -> None:
    errors = {}
    if mrr is None or mrr < 0:
        errors["mrr"] = _("MRR cannot be negative.")
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = "Use a three-letter ISO 4217 code."
    if errors:
        raise ValidationError(errors)


def subscription_start(
    *,
    company: Company,
    by: User | None,
    plan: str,
    mrr: Decimal,
    started_on: datetime.date,
    currency: str | None = None,
    ended_on: datetime.date | None = None,
    churn_reason: str = "",
) -> Subscription:
    """Record a subscription (a billing sync may send one that already ended).

    Posts the customer's MRR movements in the same transaction: a start on the
    day another subscription of the customer ends is one netted movement.
    """
    sub = Subscription(
        company=company, plan=plan, mrr=mrr, started_on=started_on, ended_on=ended_on
    )
    sub.currency = (currency or sub.currency).upper()
    _check_terms(mrr=mrr, currency=sub.currency)
    if ended_on is not None and ended_on < started_on:
        raise ValidationError(
            {"ended_on": _("A subscription cannot end before it starts.")}
        )
    if ended_on is not None:
        sub.churn_reason = churn_reason
        sub.ended_by = by
        sub.ended_recorded_at = timezone.now()
    with transaction.atomic():
        customer = _lock_customer(company.pk)
        sub.save(force_insert=True)
        _post_ledgers(customer, sub.currency, by)
    return sub


def subscription_update(
    *,
    subscription: Subscription,
    by: User,
    started_on: datetime.date,
    expected_version: ExpectedVersion = None,
) -> Subscription:
    """Correct a subscription's start day; the ledger is posted again.

    MRR and plan change only through ``subscription_change`` (history is
    kept); company and currency never change.
    """
    with transaction.atomic():
        customer = _lock_customer(subscription.company_id)
        sub = lock_version(subscription, expected_version)
        if sub.ended_on is not None and started_on > sub.ended_on:
            raise ValidationError(
                {"started_on": _("A subscription cannot end before it starts.")}
            )
        if sub.replaces_id is not None and started_on != sub.started_on:
            raise ValidationError(
                {
                    "started_on": _(
                        "This subscription continues a plan change; "
                        "its start is the day of the change."
                    )
                }
            )
        sub.started_on = started_on
        save_versioned(sub, ["started_on"])
        _post_ledgers(customer, sub.currency, by)
    return sub


def subscription_end(
    *,
    subscription: Subscription,
    by: User,
    ended_on: datetime.date | None = None,
    reason: str = "",
    expected_version: ExpectedVersion = None,
) -> Subscription:
    """End a running subscription on a day (default today), recording who and when.

    The customer churns when it was its last running subscription; the MRR
    movement (churn or contraction) is posted in the same transaction.
    """
    ended_on = ended_on or timezone.localdate()
    with transaction.atomic():
        customer = _lock_customer(subscription.company_id)
        # Locked so that two concurrent "end" calls cannot both succeed.
        sub = lock_version(subscription, expected_version)
        if sub.ended_on is not None:
            # No retry can end it again: a field error, not a conflict.
            raise ValidationError(
                {
                    "ended_on": _("This subscription already ended on %(day)s.")
                    % {"day": sub.ended_on.isoformat()}
                }
            )
        if ended_on < sub.started_on:
            raise ValidationError(
                {
                    "ended_on": _(
                        "A subscription cannot end before it starts (%(day)s)."
                    )
                    % {"day": sub.started_on.isoformat()}
                }
            )
        sub.ended_on = ended_on
        sub.churn_reason = reason
        sub.ended_by = by
        sub.ended_recorded_at = timezone.now()
        save_versioned(
            sub, ["ended_on", "churn_reason", "ended_by", "ended_recorded_at"]
        )
        _post_ledgers(customer, sub.currency, by)
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


def address_book_deletion_refusal(record: Company | Contact) -> Conflict | None:
    """Return why ``record`` cannot be deleted now (what refers to it), if so."""
    blockers = policy.deletion_blockers(record)
    if not blockers:
        return None
    return Conflict(
        _(
            "This %(record)s cannot be deleted while other records refer "
            "to it (%(blockers)s)."
        )
        % {"record": record._meta.verbose_name, "blockers": ", ".join(blockers)},
        code="protected",
    )


def address_book_delete(
    *, record: Company | Contact, by: User, expected_version: ExpectedVersion = None
) -> None:
    """Delete a company or contact that no other record refers to.

    Deals, activities, subscriptions and contacts refer to them with
    ``PROTECT``: another rep's history never disappears with a record.
    """
    if not policy.may_delete(by, record):
        raise PermissionDenied(
            _("Only the owner, the owner's manager or an admin can delete this.")
        )
    with transaction.atomic():
        record = lock_version(record, expected_version)
        if refusal := address_book_deletion_refusal(record):
            raise refusal
        try:
            record.delete()
        except models.ProtectedError as exc:
            # A reference added since the check above.
            raise Conflict(
                _("This %(record)s cannot be deleted: other records now refer to it.")
                % {"record": record._meta.verbose_name},
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


def subscription_change(
    *,
    subscription: Subscription,
    by: User,
    plan: str,
    mrr: Decimal,
    effective_on: datetime.date | None = None,
    expected_version: ExpectedVersion = None,
) -> Subscription:
    """Change a subscription's plan and MRR from a day on (default today).

    The subscription ends on ``effective_on`` and a successor with the new terms
    starts that day (``replaces`` links them), so every row keeps the MRR it
    ran with and past periods never change; on the successor's first day the
    change is amended in place (the replaced terms never ran). The customer's
    ledger gets one netted expansion or contraction on that day. A billing
    system may backdate a change, but never before the start or after the end.
    Returns the subscription that carries the new terms.
    """
    if not policy.may_change(by, subscription):
        raise PermissionDenied(
            _("Only a user who may change this subscription can change its plan.")
        )
    effective_on = effective_on or timezone.localdate()
    with transaction.atomic():
        customer = _lock_customer(subscription.company_id)
        sub = lock_version(subscription, expected_version)
        _check_terms(mrr=mrr, currency=sub.currency)
        if effective_on < sub.started_on:
            raise ValidationError(
                {
                    "effective_on": _(
                        "A change cannot take effect before the subscription "
                        "starts (%(day)s)."
                    )
                    % {"day": sub.started_on.isoformat()}
                }
            )
        if sub.ended_on is not None and effective_on >= sub.ended_on:
            raise ValidationError(
                {
                    "effective_on": _(
                        "A change must take effect before the subscription "
                        "ends (%(day)s)."
                    )
                    % {"day": sub.ended_on.isoformat()}
                }
            )
        if effective_on == sub.started_on:
            sub.plan, sub.mrr = plan, mrr
            save_versioned(sub, ["plan", "mrr"])
            successor = sub
        else:
            successor = Subscription(
                company_id=sub.company_id,
                plan=plan,
                mrr=mrr,
                currency=sub.currency,
                started_on=effective_on,
                ended_on=sub.ended_on,
                churn_reason=sub.churn_reason,
                ended_by=sub.ended_by,
                ended_recorded_at=sub.ended_recorded_at,
            )
            # A backdated change splits a subscription that already had a
            # successor: the new piece takes the link over.
            following = Subscription.objects.filter(replaces=sub).first()
            if following is not None:
                following = lock_version(following)
                following.replaces = None
                save_versioned(following, ["replaces"])
            sub.ended_on = effective_on
            sub.churn_reason = ""
            sub.ended_by = by
            sub.ended_recorded_at = timezone.now()
            save_versioned(
                sub, ["ended_on", "churn_reason", "ended_by", "ended_recorded_at"]
            )
            successor.replaces = sub
            successor.save(force_insert=True)
            if following is not None:
                following.replaces = successor
                save_versioned(following, ["replaces"])
        _post_ledgers(customer, sub.currency, by)
    return successor
