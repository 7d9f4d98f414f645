"""Double opt-in: the signed link that turns a consent request into consent.

The token is the request record's id signed with ``SECRET_KEY`` (Django's
``signing``, with a salt of its own and a timestamp), so it cannot be forged or
pointed at another record, and it expires after ``CONFIRM_MAX_AGE``. The mail
goes through Django's e-mail backend: the console in development, the test
outbox in tests, SMTP (``EMAIL_URL``) in production.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from leads.models import ConsentRecord

SALT = "leads.consent.confirm"
CONFIRM_MAX_AGE = datetime.timedelta(days=14)


def confirmation_token(request: ConsentRecord) -> str:
    """Return the signed token of a consent request."""
    return signing.dumps(request.pk, salt=SALT, compress=False)


def request_id_from_token(token: str) -> int:
    """Return the request id signed in ``token`` (raises ``signing.BadSignature``;
    ``SignatureExpired`` past ``CONFIRM_MAX_AGE``)."""
    return int(signing.loads(token, salt=SALT, max_age=CONFIRM_MAX_AGE))


def confirmation_url(request: ConsentRecord) -> str:
    path = reverse("offers:consent-confirm", args=[confirmation_token(request)])
    return settings.CRM_SITE_URL.rstrip("/") + path


def send_confirmation(request: ConsentRecord, *, email: str, offer_title: str) -> None:
    """E-mail the person the link that confirms their consent."""
    send_mail(
        subject=_("Please confirm that we may contact you"),
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
        recipient_list=[email],
    )
