"""Global search across leads, contacts, companies and deals, in the user's scope.

On PostgreSQL a record matches when every term is a substring of one of its
fields, or the whole query matches its full-text vector, or it is close to a
field by trigram word similarity (``pg_trgm``, so "Dupnot" finds "Dupont");
results are ranked by that similarity. Elsewhere (SQLite) the substring test
alone applies, ordered by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import FloatField, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest

from crm.models import Company, Contact, User
from leads.models import Lead
from pipeline.models import Deal

# Bounds on what a query may cost: a longer query or more words buy nothing.
MAX_QUERY_LENGTH = 100
MAX_TERMS = 5
PER_KIND = 10
# Below this word similarity a trigram hit is noise (pg_trgm's own default).
SIMILARITY = 0.6

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


def _substring(fields: tuple[str, ...], terms: list[str]) -> Q:
    return reduce(
        and_,
        (
            reduce(or_, (Q(**{f"{name}__icontains": t}) for name in fields))
            for t in terms
        ),
    )


def _matching(queryset: QuerySet, fields: tuple[str, ...], query: str, terms):
    substring = _substring(fields, terms)
    if connection.vendor != "postgresql":
        return queryset.filter(substring)
    from django.contrib.postgres.search import (
        SearchQuery,
        SearchVector,
        TrigramWordSimilarity,
    )

    similarity = [TrigramWordSimilarity(query, name) for name in fields]
    return (
        queryset.annotate(
            # GREATEST skips NULLs (a deal without company); COALESCE keeps a
            # record with no similar field from sorting first (NULLs sort high).
            search_rank=Coalesce(
                Greatest(*similarity), Value(0.0), output_field=FloatField()
            ),
            search_vector=SearchVector(*fields, config="simple"),
        )
        .filter(
            substring
            | Q(search_vector=SearchQuery(query, config="simple"))
            | Q(search_rank__gte=SIMILARITY)
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
