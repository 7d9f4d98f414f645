"""The API's OpenAPI schema class (its own module: it imports the API settings,
which import the filter backends, so it cannot live beside them)."""

from __future__ import annotations

from drf_standardized_errors.openapi import AutoSchema

from crm.search import CappedSearchFilter


class SearchAwareAutoSchema(AutoSchema):
    """drf-standardized-errors' schema, documenting the ``search`` refusal too.

    Its 400 response lists the fields a list's filters validate; the capped
    search is a filter backend of its own, so its errors (too many words, a
    NUL character) are added here.
    """

    def _get_extra_validation_errors(self) -> dict[str, set[str]]:
        extra = dict(super()._get_extra_validation_errors())
        searchable = self.method == "GET" and getattr(self.view, "search_fields", None)
        if searchable and any(
            issubclass(backend, CappedSearchFilter)
            for backend in self.get_filter_backends()
        ):
            extra["search"] = {
                *extra.get("search", ()),
                "invalid",
                "null_characters_not_allowed",
            }
        return extra
