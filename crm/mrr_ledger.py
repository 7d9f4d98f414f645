"""Post the MRR movement ledger from a customer's subscriptions.

A customer's movements in one currency are a function of its subscriptions in
that currency (each row's MRR is fixed: a plan change is an end and a start).
On each day where one of them starts or ends, the customer's MRR before the
day (subscriptions running at its start) is compared with the MRR after it
(running at its end), and the day gets at most one movement:

- nothing running before, something after: ``new``, or ``reactivation`` when
  the customer had a subscription in this currency before;
- something before, nothing after: ``churn`` (the last running one ended);
- running on both sides: ``expansion`` or ``contraction`` by the difference
  (an end and a start on one day, a plan change, is one netted movement).

Posting compares that with the rows already in the ledger and appends only
the difference, so the ledger stays append-only while backdated syncs and
same-day corrections land on the day they are effective.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from crm import rollups
from crm.models import Company, MovementKind, MrrMovement, Subscription, User

Movements = dict[tuple[datetime.date, str], Decimal]


@dataclass(frozen=True)
class Terms:
    """What the ledger needs of one subscription."""

    started_on: datetime.date
    ended_on: datetime.date | None
    mrr: Decimal

    def runs_at_start_of(self, day: datetime.date) -> bool:
        return self.started_on < day and (self.ended_on is None or self.ended_on >= day)

    def runs_at_end_of(self, day: datetime.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on > day)


def movements_of(terms: Iterable[Terms]) -> Movements:
    """Return one customer's movements in one currency: {(day, kind): amount}."""
    terms = list(terms)
    days = sorted(
        {t.started_on for t in terms} | {t.ended_on for t in terms if t.ended_on}
    )
    movements: Movements = {}
    was_customer = False
    for day in days:  # a customer's few subscriptions, not the whole table
        before = [t for t in terms if t.runs_at_start_of(day)]
        after = [t for t in terms if t.runs_at_end_of(day)]
        mrr_before = sum((t.mrr for t in before), Decimal(0))
        mrr_after = sum((t.mrr for t in after), Decimal(0))
        if not before and after:
            kind = MovementKind.REACTIVATION if was_customer else MovementKind.NEW
        elif before and not after:
            kind = MovementKind.CHURN
        elif mrr_after > mrr_before:
            kind = MovementKind.EXPANSION
        else:
            kind = MovementKind.CONTRACTION
        was_customer = was_customer or bool(before or after)
        if mrr_after != mrr_before:
            movements[(day, kind)] = mrr_after - mrr_before
    return movements


def _terms(company_id: int, currency: str) -> list[Terms]:
    return [
        Terms(*row)
        for row in Subscription.objects.filter(
            company_id=company_id, currency=currency
        ).values_list("started_on", "ended_on", "mrr")
    ]


def _posted(company_id: int, currency: str) -> Movements:
    rows = (
        MrrMovement.objects.filter(company_id=company_id, currency=currency)
        .values("effective_on", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {(row["effective_on"], row["kind"]): row["total"] for row in rows}


def corrections(wanted: Movements, posted: Movements) -> Movements:
    """Return the rows to append so that the ledger sums to ``wanted``."""
    result = {}
    for key in sorted(set(wanted) | set(posted)):
        difference = wanted.get(key, Decimal(0)) - posted.get(key, Decimal(0))
        if difference:
            result[key] = difference
    return result


def mrr_ledger_post(
    *, company: Company | int, currency: str, by: User | None = None
) -> list[MrrMovement]:
    """Bring one customer's ledger in one currency in line with its subscriptions.

    Called by the subscription services inside their transaction, after the
    subscription rows changed and with the company row locked (so two posts
    for one customer never interleave; pass the locked ``Company``, whose
    owner the daily rollup is added under). Five statements at most: the
    subscriptions, the posted sums, the new rows and their rollups' upserts.
    """
    if isinstance(company, int):
        company = Company.objects.only("owner").get(pk=company)
    missing = corrections(
        movements_of(_terms(company.pk, currency)), _posted(company.pk, currency)
    )
    posted = MrrMovement.objects.bulk_create(
        MrrMovement(
            company_id=company.pk,
            currency=currency,
            kind=kind,
            effective_on=day,
            amount=amount,
            recorded_by=by,
        )
        for (day, kind), amount in missing.items()
    )
    rollups.mrr_add(posted, owner_id=company.owner_id)
    return posted


def mrr_ledger_rebuild(*, companies: Iterable[int] | None = None) -> int:
    """Post every customer's missing movements from its subscriptions.

    For rows written in bulk around the services (the demo data, the benchmark
    generator): two grouped reads and one bulk insert, whatever the number of
    customers. Returns the number of rows appended (0 when already in line).
    """
    subscriptions = Subscription.objects.order_by()
    movements = MrrMovement.objects.order_by()
    if companies is not None:
        ids = list(companies)
        subscriptions = subscriptions.filter(company_id__in=ids)
        movements = movements.filter(company_id__in=ids)
    terms: dict[tuple[int, str], list[Terms]] = defaultdict(list)
    for company_id, currency, *row in subscriptions.values_list(
        "company_id", "currency", "started_on", "ended_on", "mrr"
    ).iterator(chunk_size=5000):
        terms[(company_id, currency)].append(Terms(*row))
    posted: dict[tuple[int, str], Movements] = defaultdict(dict)
    for row in (
        movements.values("company_id", "currency", "effective_on", "kind")
        .annotate(total=Sum("amount"))
        .iterator(chunk_size=5000)
    ):
        ledger = (row["company_id"], row["currency"])
        posted[ledger][(row["effective_on"], row["kind"])] = row["total"]
    rows = [
        MrrMovement(
            company_id=company_id,
            currency=currency,
            kind=kind,
            effective_on=day,
            amount=amount,
        )
        for (company_id, currency) in sorted(set(terms) | set(posted))
        for (day, kind), amount in corrections(
            movements_of(terms.get((company_id, currency), [])),
            posted.get((company_id, currency), {}),
        ).items()
    ]
    MrrMovement.objects.bulk_create(rows, batch_size=2000)
    if rows:
        rollups.rebuild(rollups.MRR)
        rollups.rebuild(rollups.MRR_MONTHS)
    return len(rows)
