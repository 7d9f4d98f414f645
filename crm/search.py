"""Bounded search: a list's ``?search=`` and the admin's search box.

Each term becomes one ``LIKE`` per search field, OR-ed, and the terms are
AND-ed: a search with thousands of terms is a query with thousands of
predicates (3,000 terms took 11 s). People search with a few words, so a few
words of reasonable length are allowed; the API refuses more with a 400 that
says why, the admin keeps the first ones.

A searched column that a model's search document (its generated
``search_text``: a lead's names, e-mail and company, say) joins is tested on
the document, which one GIN trigram index per table serves on PostgreSQL
(workspace migration 0004), so that a search reads the matching rows instead
of the whole table. A column of a related record with a document (a deal's
company's name) is tested by a subquery on that record's table, its index
again. The rows found are those the columns' own tests find.
"""

from __future__ import annotations

from functools import reduce
from operator import and_, or_

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Lookup, Model, Q, Subquery
from django.db.models.lookups import IContains
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, filters, serializers

MAX_SEARCH_TERMS = 8
MAX_TERM_LENGTH = 100
# The generated column that joins a record's searched texts, one space apart.
DOCUMENT = "search_text"


class ContainsAnyCase(IContains):
    """``icontains`` as ``text ILIKE '%term%'`` on PostgreSQL.

    Django's ``icontains`` compares ``UPPER(text)``: an expression, which the
    trigram indexes (on the columns themselves) do not serve and for which
    PostgreSQL keeps no statistics, so it guesses how many rows a word
    matches. ``ILIKE`` on the column itself is served by the column's trigram
    index and estimated from its statistics. Elsewhere, plain ``icontains``.
    """

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


class AnyOf(Lookup):
    """``lhs = ANY(ARRAY(subquery))`` on PostgreSQL, ``lhs IN (subquery)``
    elsewhere: the deals of the matching contacts, say, found by one index
    scan over the ids of all of them.

    With ``IN (subquery)`` PostgreSQL joins the deals to each matching contact
    in turn (within a rep's scope it intersected each one's deals with all the
    rep's deals: 900 times for a common surname), and under an OR with another
    test it checks every deal against a hashed subquery. The array is computed
    once, and the deals read in one bitmap scan, which an OR combines with
    another index's.
    """

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} IN {rhs}", [*lhs_params, *rhs_params]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY(ARRAY{rhs})", [*lhs_params, *rhs_params]


def contains(path: str, term: str) -> Q:
    """Return the filter: ``term`` is in the text at ``path``, in any case."""
    return Q(ContainsAnyCase(F(path), term))


def document_fields(model: type[Model]) -> frozenset[str]:
    """Return the columns the model's search document joins (none without one)."""
    try:
        document = model._meta.get_field(DOCUMENT)
    except FieldDoesNotExist:
        return frozenset()
    return frozenset(
        part.name for part in document.expression.flatten() if isinstance(part, F)
    )


def _in_document(model: type[Model], fields: list[str], term: str) -> Q:
    """Return the filter: ``term`` is in one of ``fields``, which the model's
    document joins, tested on the document so that its index serves it."""
    found = contains(DOCUMENT, term)
    # A term with a space may span two columns of the document; and a column
    # the search leaves out (a company's domain, for a deal's company name)
    # must not match. The columns' own tests then check the rows found.
    if " " in term or set(fields) != document_fields(model):
        found &= reduce(or_, (contains(name, term) for name in fields))
    return found


def _groups(
    model: type[Model], search_fields: list[str]
) -> dict[str, list[str]] | None:
    """Return the search fields by relation ("" for the model's own), or None
    when one is not a plain column or a column of a record the model refers to
    (a lookup prefix, a reverse or many-to-many relation): the library's own
    search handles those."""
    groups: dict[str, list[str]] = {}
    for path in map(str, search_fields):
        relation, _sep, name = path.rpartition("__")
        target = model
        try:
            if relation:
                field = model._meta.get_field(relation)
                if not (field.concrete and (field.many_to_one or field.one_to_one)):
                    return None
                target = field.related_model
            if target._meta.get_field(name).is_relation:
                return None
        except FieldDoesNotExist:
            return None
        groups.setdefault(relation, []).append(name)
    return groups


def _term(model: type[Model], groups: dict[str, list[str]], term: str) -> Q:
    """Return the filter: ``term`` is in one of the grouped search fields."""
    tests = []
    for relation, names in groups.items():
        target = model._meta.get_field(relation).related_model if relation else model
        covered = [name for name in names if name in document_fields(target)]
        others = [name for name in names if name not in covered]
        if covered and relation:
            # Every record of the related table, as a join would see it.
            matched = target._base_manager.filter(_in_document(target, covered, term))
            tests.append(Q(AnyOf(F(relation), Subquery(matched.values("pk")))))
        elif covered:
            tests.append(_in_document(model, covered, term))
        # A deal's title has a trigram index of its own, read by ILIKE.
        tests += [
            contains(f"{relation}__{name}" if relation else name, term)
            for name in others
        ]
    return reduce(or_, tests)


def document_search(
    model: type[Model], search_fields: list[str], terms: list[str]
) -> Q | None:
    """Return the filter: every term is in one of the search fields, read
    through the search documents' indexes; None when a field is not one this
    search handles (see ``_groups``)."""
    groups = _groups(model, search_fields)
    if groups is None:
        return None
    return reduce(and_, (_term(model, groups, term) for term in terms))


class CappedSearchFilter(filters.SearchFilter):
    """DRF's search, refusing more than ``MAX_SEARCH_TERMS`` terms or long ones,
    and reading the search documents' indexes (``document_search``).

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

    def filter_queryset(self, request, queryset, view):
        search_fields = self.get_search_fields(view, request)
        if not search_fields:
            # A list without search ignores ?search= whatever it holds (its
            # schema documents no such parameter, nor its refusals).
            return queryset
        terms = self.get_search_terms(request)
        if not terms:
            return queryset
        found = document_search(queryset.model, search_fields, terms)
        if found is None:
            return super().filter_queryset(request, queryset, view)
        return queryset.filter(found)


def admin_search_terms(search_term: str) -> list[str]:
    """Return the admin search box's first words (a quoted phrase is one word),
    each cut to a sane length."""
    words = []
    for word in smart_split(search_term):
        if len(words) == MAX_SEARCH_TERMS:
            break
        if word.startswith(('"', "'")) and word[0] == word[-1] and len(word) > 1:
            word = unescape_string_literal(word)
        words.append(word[:MAX_TERM_LENGTH])
    return words


def capped_admin_search(search_term: str) -> str:
    """Return the admin search box's first words, each cut to a sane length."""
    return " ".join(
        f'"{word}"' if " " in word else word for word in admin_search_terms(search_term)
    )
