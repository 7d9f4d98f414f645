"""The reader's language: the browser's choice, overridden by the user's own.

``LocaleMiddleware`` activates the language of the ``Accept-Language`` header
(or of the switcher's cookie); a signed-in user who picked a language in the
switcher reads in that one on every device, whatever the browser says. The
switcher posts to :func:`language_choose`, Django's ``set_language`` plus the
preference saved on the user, so it works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
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
