"""Global search across leads, contacts, companies and deals, in the user's scope.

Each kind of record is searched in texts: its own search document (the
generated column ``search_text``: a lead's names, e-mail and company; a
contact's names and e-mail; a company's name and domain; for a deal, its
title) and those of the records it belongs to (a contact's company, a deal's
company and contact). A record matches when every term is a substring of one
of its texts.

On PostgreSQL a term also matches when it is close to a word of a text by
trigram word similarity (``pg_trgm``'s ``%>``, so "Dupond" finds "Dupont"), and
results are ranked by that similarity. Both tests read ``UPPER(text)``, served
by one GIN trigram index per table (workspace migrations 0002 and 0004), so
that a query reads the matching rows through the index instead of computing a
similarity for every lead. Elsewhere (SQLite) the substring test alone
applies, ordered by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import FloatField, Model, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest, Upper

from crm.models import Company, Contact, User
from leads.models import Lead
from pipeline.models import Deal

# Bounds on what a query may cost: a longer query or more words buy nothing.
MAX_QUERY_LENGTH = 100
MAX_TERMS = 5
PER_KIND = 10
# Records of a kind ranked per query (PostgreSQL): a common word ("Martin")
# matches tens of thousands of leads, and computing the similarity of each
# to sort them costs more than the target. When more match, the ranking is
# among the first found; a longer query narrows them.
CANDIDATES = 200

# The texts searched per model: its own first, then those of related records.
TEXTS: dict[type[Model], tuple[str, ...]] = {
    Lead: ("search_text",),
    Contact: ("search_text", "company__search_text"),
    Company: ("search_text",),
    Deal: ("title", "company__search_text", "contact__search_text"),
}


@dataclass
class Results:
    query: str = ""
    terms: list[str] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (
            len(self.leads) + len(self.contacts) + len(self.companies) + len(self.deals)
        )


def terms_of(query: str) -> tuple[str, list[str]]:
    """Return the query cut to its bounds, and its first ``MAX_TERMS`` words."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    return query, query.split()[:MAX_TERMS]


def substring(texts: tuple[str, ...], terms: list[str]) -> Q:
    """Return the filter: every term is a substring of one of the texts."""
    return reduce(
        and_,
        (
            reduce(or_, (Q(**{f"{path}__icontains": t}) for path in texts))
            for t in terms
        ),
    )


def _near(path: str, term: str) -> Q:
    """Return the filter: ``term`` is in, or close to a word of, the text."""
    from django.contrib.postgres.lookups import TrigramWordSimilar

    # Both read UPPER(text), the GIN indexes' expression (icontains compares
    # UPPER(text) LIKE UPPER(pattern)); trigrams ignore case.
    return Q(**{f"{path}__icontains": term}) | Q(
        TrigramWordSimilar(Upper(path), Value(term.upper()))
    )


def _matching_postgresql(queryset: QuerySet, terms: list[str]) -> QuerySet:
    """Return the rows of ``queryset`` where each term is near one of their texts.

    A text of another table is tested by a subquery on that table: an OR of
    tests across a join cannot be served by the tables' indexes, so the
    matching records of each term are the UNION of one index scan per text
    (records whose own text matches, records whose company matches, ...).
    """
    model = queryset.model
    own, *related = TEXTS[model]
    if not related:
        return queryset.filter(reduce(and_, (_near(own, t) for t in terms)))
    records = model._default_manager.order_by()
    for term in terms:
        scans = [records.filter(_near(own, term)).values("pk")]
        for path in related:
            relation = path.removesuffix("__search_text")
            target = model._meta.get_field(relation).related_model
            matched = target._default_manager.filter(_near("search_text", term))
            scans.append(
                records.filter(**{f"{relation}__in": matched.values("pk")}).values("pk")
            )
        queryset = queryset.filter(pk__in=scans[0].union(*scans[1:]))
    return queryset


def ranked(queryset: QuerySet, query: str, terms: list[str]) -> QuerySet:
    """Return the matching rows of ``queryset`` in the order to show them."""
    texts = TEXTS[queryset.model]
    if connection.vendor != "postgresql":
        return queryset.filter(substring(texts, terms))
    from django.contrib.postgres.search import TrigramWordSimilarity

    # Unordered: the first rows found, not all of them sorted, are the candidates.
    matching = _matching_postgresql(queryset, terms).order_by()
    candidates = matching.values("pk")[:CANDIDATES]
    ranks = [TrigramWordSimilarity(Value(query), path) for path in texts]
    return (
        queryset.filter(pk__in=candidates)
        .annotate(
            # GREATEST skips NULLs (a deal without company); COALESCE keeps a
            # record with no similar text from sorting first (NULLs sort high).
            search_rank=Coalesce(
                Greatest(*ranks) if len(ranks) > 1 else ranks[0],
                Value(0.0),
                output_field=FloatField(),
            ),
        )
        .order_by("-search_rank", "pk")
    )


def search(*, user: User, query: str) -> Results:
    """Return up to ``PER_KIND`` records of each kind matching ``query``."""
    query, terms = terms_of(query)
    results = Results(query=query, terms=terms)
    if not terms:
        return results
    leads = (
        Lead.objects.visible_to(user)
        .select_related("owner")
        .order_by("last_name", "first_name", "pk")
    )
    contacts = (
        Contact.objects.visible_to(user)
        .select_related("company")
        .order_by("last_name", "first_name", "pk")
    )
    companies = Company.objects.visible_to(user).order_by("name", "pk")
    deals = (
        Deal.objects.visible_to(user).select_related("company").order_by("title", "pk")
    )
    results.leads = list(ranked(leads, query, terms)[:PER_KIND])
    results.contacts = list(ranked(contacts, query, terms)[:PER_KIND])
    results.companies = list(ranked(companies, query, terms)[:PER_KIND])
    results.deals = list(ranked(deals, query, terms)[:PER_KIND])
    return results
