"""Double opt-in: the signed link that turns a consent request into consent.

The token is the request record's id signed with ``SECRET_KEY`` (Django's
``signing``, with a salt of its own and a timestamp), so it cannot be forged or
pointed at another record, and it expires after ``CONFIRM_MAX_AGE``. The mail
is a job (``leads.tasks.send_consent_email``), so a mail server that is down
delays it and never fails the capture; it goes through Django's e-mail
backend: the console in development, the test outbox in tests, SMTP
(``EMAIL_URL``) in production.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from leads.models import ConsentAction, ConsentEmail, ConsentRecord

SALT = "leads.consent.confirm"
CONFIRM_MAX_AGE = datetime.timedelta(days=14)


def confirmation_token(request: ConsentRecord) -> str:
    """Return the signed token of a consent request."""
    return signing.dumps(request.pk, salt=SALT, compress=False)


def request_id_from_token(token: str) -> int:
    """Return the request id signed in ``token`` (raises ``signing.BadSignature``;
    ``SignatureExpired`` past ``CONFIRM_MAX_AGE``)."""
    return int(signing.loads(token, salt=SALT, max_age=CONFIRM_MAX_AGE))


def signed_request(token: str) -> ConsentRecord | None:
    """Return the consent request signed in ``token``, with its offer's language
    (its e-mail's) and its wording only, or None for a bad or expired token."""
    try:
        request_id = request_id_from_token(token)
    except (signing.BadSignature, ValueError):
        return None
    return (
        ConsentRecord.objects.filter(pk=request_id, action=ConsentAction.REQUESTED)
        .select_related("offer")
        .only("text", "offer__language")
        .first()
    )


def confirmation_url(request: ConsentRecord) -> str:
    path = reverse("offers:consent-confirm", args=[confirmation_token(request)])
    return settings.CRM_SITE_URL.rstrip("/") + path


def confirmation_send(*, request_id: int) -> bool:
    """E-mail the person the link that confirms consent request ``request_id``.

    Once per request: the request row is locked and the ``ConsentEmail`` row
    inserted in the transaction around the sending, so a second run (a retry
    after a lost acknowledgement, a duplicate job) finds it and sends nothing.
    If the mail server refuses, the exception rolls the row back and the job
    retries. The lock is held while the server answers; only a commit that
    fails after the server accepted could let a retry send a second time.
    Written in the offer's language, as its page and consent text were.
    Return True when this call sent it.
    """
    with transaction.atomic():
        request = (
            ConsentRecord.objects.select_for_update(of=("self",))
            .select_related("lead", "offer")
            .filter(pk=request_id, action=ConsentAction.REQUESTED)
            .first()
        )
        if request is None or not request.lead.email:
            return False
        # A query of its own, after the lock: it sees a row that a run holding
        # the lock before us committed (a join in the locking query would not).
        if ConsentEmail.objects.filter(request=request).exists():
            return False
        offer = request.offer
        language = offer.language if offer else settings.LANGUAGE_CODE
        ConsentEmail.objects.create(
            request=request, sent_at=timezone.now(), language=language
        )
        with translation.override(language):
            _send(request, offer_title=offer.title if offer else "")
    return True


def _send(request: ConsentRecord, *, offer_title: str) -> None:
    send_mail(
        subject=str(_("Please confirm that we may contact you")),
        message=_(
            "You asked for “%(offer)s” and ticked:\n\n"
            "    %(consent)s\n\n"
            "Nothing is sent to you until you confirm. To confirm, open:\n\n"
            "    %(link)s\n\n"
            "If this was not you, ignore this message: without confirmation "
            "we will not contact you."
        )
        % {
            "offer": offer_title,
            "consent": request.text,
            "link": confirmation_url(request),
        },
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[request.lead.email],
    )
