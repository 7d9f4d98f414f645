"""Bounded search: a list's ``?search=`` and the admin's search box.

Each term becomes one ``LIKE`` per search field, OR-ed, and the terms are
AND-ed: a search with thousands of terms is a query with thousands of
predicates (3,000 terms took 11 s). People search with a few words, so a few
words of reasonable length are allowed; the API refuses more with a 400 that
says why, the admin keeps the first ones.
"""

from __future__ import annotations

from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, filters, serializers

MAX_SEARCH_TERMS = 8
MAX_TERM_LENGTH = 100


class CappedSearchFilter(filters.SearchFilter):
    """DRF's search, refusing more than ``MAX_SEARCH_TERMS`` terms or long ones.

    Its refusals (too many words, a NUL character) name the parameter.
    """

    def get_search_terms(self, request):
        try:
            terms = super().get_search_terms(request)
        except exceptions.ValidationError as exc:
            raise exceptions.ValidationError({self.search_param: exc.detail}) from exc
        if len(terms) > MAX_SEARCH_TERMS or any(
            len(term) > MAX_TERM_LENGTH for term in terms
        ):
            raise serializers.ValidationError(
                {
                    self.search_param: _(
                        "Search with at most %(terms)d words of at "
                        "most %(length)d characters each."
                    )
                    % {"terms": MAX_SEARCH_TERMS, "length": MAX_TERM_LENGTH}
                }
            )
        return terms


def capped_admin_search(search_term: str) -> str:
    """Return the admin search box's first words, each cut to a sane length."""
    words = []
    for word in smart_split(search_term):
        if len(words) == MAX_SEARCH_TERMS:
            break
        if word.startswith(('"', "'")) and word[0] == word[-1] and len(word) > 1:
            word = unescape_string_literal(word)
        words.append(
            f'"{word[:MAX_TERM_LENGTH]}"' if " " in word else word[:MAX_TERM_LENGTH]
        )
    return " ".join(words)
