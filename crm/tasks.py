"""Background jobs of the core app: webhook delivery and the periodic purges.

Beat schedules them (``CELERY_BEAT_SCHEDULE`` in the settings). Each is safe to
run twice or concurrently: deliveries are claimed row by row
(``crm.webhooks.claim_due``), and a purge deletes what is expired whoever else
deletes it too.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone
from knox.models import AuthToken

from crm import idempotency, webhooks

logger = logging.getLogger(__name__)

# The most a delivery job sends before it ends: the next beat tick goes on, so
# one job never holds a worker while receivers are slow.
DELIVERY_JOB_LIMIT = 500


@shared_task(
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    # Every few seconds from beat: no result row per run, but one per failure.
    ignore_result=True,
    store_errors_even_if_ignored=True,
)
def deliver_webhooks(batch: int = 20) -> int:
    """Fan out new events and send the due deliveries; return the attempts."""
    total = 0
    while total < DELIVERY_JOB_LIMIT:
        sent = webhooks.deliver_due(batch=batch)
        total += sent
        if sent < batch:
            break
    if total:
        logger.info("webhook delivery: %d attempt(s)", total)
    return total


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_idempotency_keys() -> int:
    """Delete stored Idempotency-Key results older than 24 hours."""
    deleted = idempotency.purge_expired()
    logger.info("purged %d expired idempotency key(s)", deleted)
    return deleted


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def purge_expired_tokens() -> int:
    """Delete API tokens past their expiry (knox refuses them already)."""
    deleted, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    logger.info("purged %d expired API token(s)", deleted)
    return deleted
