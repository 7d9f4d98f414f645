"""The reader's language: the browser's choice, overridden by the user's own.

``LocaleMiddleware`` activates the language of the ``Accept-Language`` header
(or of the switcher's cookie); a signed-in user who picked a language in the
switcher reads in that one on every device, whatever the browser says. The
switcher posts to :func:`language_choose`, Django's ``set_language`` plus the
preference saved on the user, so it works without JavaScript.

An API token is read after the middleware (DRF authenticates in the view), so
``crm.authentication`` calls :func:`activate_for_token`. There the order is
the other way round: an integration's ``Accept-Language`` is a choice made per
request (a browser's is a setting sent with every page), so it wins; the saved
preference applies to calls that name no language we speak.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

LANGUAGE_CODES = frozenset(code for code, _name in settings.LANGUAGES)


class UserLanguageMiddleware:
    """Activate the signed-in user's saved language, after ``LocaleMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = getattr(user, "language", "") if user is not None else ""
        if chosen in LANGUAGE_CODES:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        return self.get_response(request)


def asked_language(request: HttpRequest) -> str | None:
    """Return the language ``Accept-Language`` names that we speak, if any."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def activate_for_token(request: HttpRequest, user) -> None:
    """Speak a token user's saved language, unless the call asks for one."""
    chosen = getattr(user, "language", "")
    if chosen in LANGUAGE_CODES and asked_language(request) is None:
        translation.activate(chosen)
        request.LANGUAGE_CODE = chosen


@require_POST
def language_choose(request: HttpRequest) -> HttpResponse:
    """Switch the language (cookie, as Django's view) and keep it as the user's."""
    response = set_language(request)
    chosen = request.POST.get("language", "")
    user = request.user
    if chosen in LANGUAGE_CODES and user.is_authenticated and user.language != chosen:
        user.language = chosen
        user.save(update_fields=["language", "updated_at"])
    return response
