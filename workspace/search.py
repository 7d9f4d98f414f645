"""Global search across leads, contacts, companies and deals, in the user's scope.

Each kind of record is searched in texts: its own search document (the
generated column ``search_text``: a lead's names, e-mail and company; a
contact's names and e-mail; a company's name and domain; for a deal, its
title) and those of the records it belongs to (a contact's company, a deal's
company and contact). A record matches when every term is a substring of one
of its texts.

On PostgreSQL a term also matches when it is close to a word of a text by
trigram word similarity (``pg_trgm``'s ``%>``, so "Dupond" finds "Dupont")
when substring matches do not fill a page, and up to ``CANDIDATES`` matches
are ranked by that similarity.
Both tests (``ILIKE`` and ``%>``) are served by one GIN trigram index per
table (workspace migration 0004), so that a query reads the matching rows
through the index instead of computing a similarity for every lead.
Elsewhere (SQLite) the substring test alone applies, ordered by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import (
    F,
    FloatField,
    Model,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest

from crm.models import Company, Contact, User
from crm.search import AnyOf, ContainsAnyCase
from leads.models import Lead
from pipeline.models import Deal

# Bounds on what a query may cost: a longer query or more words buy nothing.
MAX_QUERY_LENGTH = 100
MAX_TERMS = 5
PER_KIND = 10
# Records of a kind ranked per query (PostgreSQL): a common word ("Martin")
# matches tens of thousands of leads, and computing the similarity of each
# to sort them costs more than the 50 ms target. When more match, the ranking
# is among the first found; a longer query narrows them.
CANDIDATES = 100

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
    """Return the filter: every term is a substring of one of the texts, in any
    case (served by the trigram indexes on PostgreSQL)."""
    return reduce(
        and_,
        (reduce(or_, (_test(path, t, fuzzy=False) for path in texts)) for t in terms),
    )


def _test(path: str, term: str, *, fuzzy: bool) -> Q:
    """Return the filter: ``term`` is in (or, ``fuzzy``, close to a word of) the
    text at ``path``."""
    contains = Q(ContainsAnyCase(F(path), term))
    if not fuzzy:
        return contains
    from django.contrib.postgres.lookups import TrigramWordSimilar

    # Trigrams ignore case.
    return contains | Q(TrigramWordSimilar(F(path), Value(term)))


def _scans(
    queryset: QuerySet, terms: list[str], *, fuzzy: bool = False
) -> list[QuerySet]:
    """Return one unordered id query per text of the kind: the rows whose text
    matches every term.

    A text of another table is tested by a subquery on that table's index
    (``company_id = ANY(ARRAY(matching companies))``): an OR of tests across a
    join cannot be served by the tables' indexes, and PostgreSQL would read
    every deal instead.
    """
    own, *related = TEXTS[queryset.model]
    queryset = queryset.order_by()

    def matches(path: str) -> Q:
        return reduce(and_, (_test(path, t, fuzzy=fuzzy) for t in terms))

    scans = [queryset.filter(matches(own))]
    for path in related:
        relation = path.removesuffix("__search_text")
        target = queryset.model._meta.get_field(relation).related_model
        matched = target._default_manager.filter(matches("search_text"))
        scans.append(
            queryset.filter(AnyOf(F(relation), Subquery(matched.values("pk"))))
        )
    return [scan.values("pk") for scan in scans]


def _candidates(queryset: QuerySet, terms: list[str], *, fuzzy: bool) -> QuerySet:
    """Return up to ``CANDIDATES`` ids of matching rows to rank.

    One UNION ALL of unordered scans under a LIMIT: PostgreSQL runs the scans
    in turn and stops once the limit is reached, so a common word ("Martin")
    reads a few thousand rows, not its 45,000 matches. For several words the texts
    of a record may share them out (a deal's company and title): scans by the
    longest word alone then bring those, and ``ranked`` checks every word on
    each candidate.
    """
    scans = _scans(queryset, terms, fuzzy=fuzzy)
    if len(terms) > 1 and len(scans) > 1:
        scans += _scans(queryset, [max(terms, key=len)], fuzzy=fuzzy)
    first, *others = (scan[:CANDIDATES] for scan in scans)
    return first.union(*others, all=True)[:CANDIDATES]


def ranked(
    queryset: QuerySet, query: str, terms: list[str], *, fuzzy: bool = False
) -> QuerySet:
    """Return the rows of ``queryset`` matching every term, in the order to show
    them (PostgreSQL: ``fuzzy`` also takes words close to a term)."""
    texts = TEXTS[queryset.model]
    if connection.vendor != "postgresql":
        return queryset.filter(substring(texts, terms))
    from django.contrib.postgres.search import TrigramWordSimilarity

    ranks = [TrigramWordSimilarity(Value(query), path) for path in texts]
    matching = queryset.filter(pk__in=_candidates(queryset, terms, fuzzy=fuzzy))
    if len(terms) > 1 and len(texts) > 1:
        # Candidates from the longest word alone: every word, in some text.
        matching = matching.filter(
            reduce(
                and_,
                (
                    reduce(or_, (_test(path, t, fuzzy=fuzzy) for path in texts))
                    for t in terms
                ),
            )
        )
    return matching.annotate(
        # GREATEST skips NULLs (a deal without company); COALESCE keeps a
        # record with no similar text from sorting first (NULLs sort high).
        search_rank=Coalesce(
            Greatest(*ranks) if len(ranks) > 1 else ranks[0],
            Value(0.0),
            output_field=FloatField(),
        ),
    ).order_by("-search_rank", "pk")


def _found(queryset: QuerySet, query: str, terms: list[str]) -> list:
    """Return a page of records containing the terms, else of records close to
    them (PostgreSQL): one query, or two for a typo or a rare word.

    The similarity test computes a word similarity for every row it reads,
    which a common word ("Martin", 45,000 leads) makes dear, while its
    substring matches fill the page anyway and rank above close ones.
    """
    found = list(ranked(queryset, query, terms)[:PER_KIND])
    if len(found) < PER_KIND and connection.vendor == "postgresql":
        found = list(ranked(queryset, query, terms, fuzzy=True)[:PER_KIND])
    return found


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
    results.leads = _found(leads, query, terms)
    results.contacts = _found(contacts, query, terms)
    results.companies = _found(companies, query, terms)
    results.deals = _found(deals, query, terms)
    return results
