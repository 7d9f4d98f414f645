"""Global search across leads, contacts, companies and deals, in the user's scope.

A record matches when every term is a substring of one of its fields. On
PostgreSQL a term also matches when it is close to a word of a field by
trigram word similarity (``pg_trgm``'s ``%>``, so "Dupond" finds "Dupont"), and
results are ranked by that similarity; both tests are served by GIN trigram
indexes. Elsewhere (SQLite) the substring test alone applies, ordered by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import FloatField, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest, Upper

from crm.models import Company, Contact, User
from leads.models import Lead
from pipeline.models import Deal

# Bounds on what a query may cost: a longer query or more words buy nothing.
MAX_QUERY_LENGTH = 100
MAX_TERMS = 5
PER_KIND = 10

# The fields searched per model, by name, e-mail, company and domain.
FIELDS: dict[type, tuple[str, ...]] = {
    Lead: ("first_name", "last_name", "email", "company_name"),
    Contact: ("first_name", "last_name", "email", "company__name"),
    Company: ("name", "domain"),
    Deal: ("title", "company__name", "contact__email"),
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


def substring(fields: tuple[str, ...], terms: list[str]) -> Q:
    """Return the filter: every term is a substring of one of the fields."""
    return reduce(
        and_,
        (
            reduce(or_, (Q(**{f"{name}__icontains": t}) for name in fields))
            for t in terms
        ),
    )


def _matching(queryset: QuerySet, fields: tuple[str, ...], query: str, terms):
    if connection.vendor != "postgresql":
        return queryset.filter(substring(fields, terms))
    from django.contrib.postgres.lookups import TrigramWordSimilar
    from django.contrib.postgres.search import TrigramWordSimilarity

    # Every term must be in, or close to a word of, some field. Both tests read
    # UPPER(field): the GIN trigram indexes of migration workspace 0002 are on
    # UPPER(field), which is what icontains compares; trigrams ignore case.
    # Testing term by term (not the whole query) keeps a common word ("SA",
    # "Company") from matching every row on its own.
    per_term = (
        reduce(
            or_,
            [
                Q(**{f"{name}__icontains": term})
                | Q(TrigramWordSimilar(Upper(name), Value(term.upper())))
                for name in fields
            ],
        )
        for term in terms
    )
    needle = Value(query.upper())
    ranks = [TrigramWordSimilarity(needle, Upper(name)) for name in fields]
    return (
        queryset.filter(reduce(and_, per_term))
        .annotate(
            # GREATEST skips NULLs (a deal without company); COALESCE keeps a
            # record with no similar field from sorting first (NULLs sort high).
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
    results.leads = list(_matching(leads, FIELDS[Lead], query, terms)[:PER_KIND])
    results.contacts = list(
        _matching(contacts, FIELDS[Contact], query, terms)[:PER_KIND]
    )
    results.companies = list(
        _matching(companies, FIELDS[Company], query, terms)[:PER_KIND]
    )
    results.deals = list(_matching(deals, FIELDS[Deal], query, terms)[:PER_KIND])
    return results
