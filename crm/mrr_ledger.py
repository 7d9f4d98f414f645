"""Post a customer's ledgers from its subscriptions: the MRR movement ledger,
and the customer ledger (the days it became or stopped being a customer).

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

A company is a customer at the end of a day when any of its subscriptions
runs then (any currency, any MRR), so the customer ledger is a function of
all of them: +1 on a day it becomes one, -1 on a day it stops. Its spells
(``CustomerSpell``: from a +1 to the next -1) are that ledger read as periods,
rewritten with it.

Posting compares that with the rows already in the ledger and appends only
the difference, so the ledgers stay append-only while backdated syncs and
same-day corrections land on the day they are effective.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.db.models import Sum

from crm import rollups
from crm.models import (
    Company,
    CustomerChange,
    CustomerSpell,
    MovementKind,
    MrrMovement,
    Subscription,
    User,
)

Movements = dict[tuple[datetime.date, str], Decimal]
# A company's customer changes: {day: +1 or -1}.
CustomerChanges = dict[datetime.date, int]
# One spell as a customer: (started_on, ended_on or None, returned_on or None).
Spell = tuple[datetime.date, datetime.date | None, datetime.date | None]


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


def _change_days(terms: list[Terms]) -> list[datetime.date]:
    """The days on which one of the subscriptions starts or ends, in order."""
    return sorted(
        {t.started_on for t in terms} | {t.ended_on for t in terms if t.ended_on}
    )


def movements_of(terms: Iterable[Terms]) -> Movements:
    """Return one customer's movements in one currency: {(day, kind): amount}."""
    terms = list(terms)
    days = _change_days(terms)
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


def customer_changes_of(terms: Iterable[Terms]) -> CustomerChanges:
    """Return one company's customer changes, from its subscriptions in every
    currency: +1 on a day after whose end one runs when none ran at the end
    of the day before, -1 the other way round."""
    terms = list(terms)
    days = _change_days(terms)
    changes: CustomerChanges = {}
    was_customer = False
    for day in days:  # a customer's few subscriptions, not the whole table
        is_customer = any(t.runs_at_end_of(day) for t in terms)
        if is_customer != was_customer:
            changes[day] = 1 if is_customer else -1
        was_customer = is_customer
    return changes


def spells_of(changes: CustomerChanges) -> list[Spell]:
    """Return a company's spells as a customer, in order, from its changes
    netted per day (a +1 starts one, the next -1 ends it)."""
    spells: list[list] = []
    for day, change in sorted(changes.items()):  # one company's few changes
        if change > 0:
            spells.append([day, None])
        elif change < 0 and spells:
            spells[-1][1] = day
    return [
        (start, end, spells[i + 1][0] if i + 1 < len(spells) else None)
        for i, (start, end) in enumerate(spells)
    ]


def spell_rows(
    changes: dict[int, CustomerChanges], model: type[models.Model] = CustomerSpell
) -> Iterator[models.Model]:
    """Yield the spells (``model``: a migration's historical one, or the
    app's) of the companies in ``changes`` (company id: its netted changes)."""
    for company_id in sorted(changes):
        for started_on, ended_on, returned_on in spells_of(changes[company_id]):
            yield model(
                company_id=company_id,
                started_on=started_on,
                ended_on=ended_on,
                returned_on=returned_on,
            )


def spells_write(changes: dict[int, CustomerChanges]) -> None:
    """Rewrite the spells of the companies in ``changes`` from them: a delete
    and a bulk insert per 2,000 companies, in the caller's transaction."""
    ids = sorted(changes)
    for start in range(0, len(ids), 2000):
        batch = ids[start : start + 2000]
        CustomerSpell.objects.filter(company_id__in=batch).delete()
        CustomerSpell.objects.bulk_create(
            spell_rows({company_id: changes[company_id] for company_id in batch}),
            batch_size=2000,
        )


def netted_changes(
    ledger: type[models.Model] = CustomerChange,
) -> dict[int, CustomerChanges]:
    """Return every company's customer changes netted per day, from the
    ledger (``ledger``: a migration's historical one, or the app's)."""
    netted: dict[int, CustomerChanges] = defaultdict(dict)
    rows = (
        ledger._default_manager.order_by()
        .values("company_id", "effective_on")
        .annotate(total=Sum("change"))
        .values_list("company_id", "effective_on", "total")
    )
    for company_id, day, total in rows.iterator(chunk_size=5000):
        if total:
            netted[company_id][day] = total
    return netted


def spells_drift() -> dict[int, CustomerChanges]:
    """Return the companies whose stored spells differ from their ledger's,
    with their netted changes (``spells_write`` rewrites them). Two reads,
    compared in Python: a spell pairs each +1 with the next -1 of its
    company, which a grouped query cannot do."""
    netted = netted_changes()
    stored: dict[int, list[Spell]] = defaultdict(list)
    rows = CustomerSpell.objects.order_by("company_id", "started_on").values_list(
        "company_id", "started_on", "ended_on", "returned_on"
    )
    for company_id, *spell in rows.iterator(chunk_size=5000):
        stored[company_id].append(tuple(spell))
    return {
        company_id: netted.get(company_id, {})
        for company_id in set(netted) | set(stored)
        if spells_of(netted.get(company_id, {})) != stored.get(company_id, [])
    }


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


def corrections(wanted: dict, posted: dict) -> dict:
    """Return the rows to append so that the ledger sums to ``wanted``."""
    result = {}
    for key in sorted(set(wanted) | set(posted)):
        difference = wanted.get(key, 0) - posted.get(key, 0)
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


def customer_ledger_post(*, company: Company, by: User | None = None) -> list:
    """Bring one company's customer ledger in line with its subscriptions.

    Called with ``mrr_ledger_post``, in the same transaction and under the
    same lock of the locked ``Company`` (whose owner the rollups are added
    under). Three statements, seven when the company became or stopped being
    a customer: its subscriptions, its posted changes, the new rows, their
    rollups' upserts and its spells rewritten.
    """
    terms = [
        Terms(*row)
        for row in Subscription.objects.filter(company_id=company.pk).values_list(
            "started_on", "ended_on", "mrr"
        )
    ]
    posted = dict(
        CustomerChange.objects.filter(company_id=company.pk)
        .values("effective_on")
        .annotate(total=Sum("change"))
        .order_by()
        .values_list("effective_on", "total")
    )
    wanted = customer_changes_of(terms)
    missing = corrections(wanted, posted)
    if not missing:
        return []
    rows = CustomerChange.objects.bulk_create(
        CustomerChange(
            company_id=company.pk, effective_on=day, change=change, recorded_by=by
        )
        for day, change in missing.items()
    )
    rollups.customers_add(rows, owner_id=company.owner_id)
    spells_write({company.pk: wanted})
    return rows


def _terms_and_posted(
    companies: Iterable[int] | None,
    ledger: type[models.Model],
    by: tuple[str, ...],
    entry: tuple[str, ...],
    total: str,
) -> tuple[dict[tuple, list[Terms]], dict[tuple, dict]]:
    """Read, for the rebuilds, the subscriptions' terms and the ledger's posted
    sums of ``companies`` (None: all), each grouped per ledger (``by``: the
    company, and the currency for the MRR ledger), the sums keyed as the
    rules return them (``entry``: the day, and the kind). Two grouped reads.
    """
    subscriptions = Subscription.objects.order_by()
    rows = ledger._default_manager.order_by()
    if companies is not None:
        ids = list(companies)
        subscriptions = subscriptions.filter(company_id__in=ids)
        rows = rows.filter(company_id__in=ids)
    width = len(by)
    terms: dict[tuple, list[Terms]] = defaultdict(list)
    for row in subscriptions.values_list(*by, "started_on", "ended_on", "mrr").iterator(
        chunk_size=5000
    ):
        terms[row[:width]].append(Terms(*row[width:]))
    posted: dict[tuple, dict] = defaultdict(dict)
    for *key, amount in (
        rows.values(*by, *entry)
        .annotate(posted_total=Sum(total))
        .values_list(*by, *entry, "posted_total")
        .iterator(chunk_size=5000)
    ):
        day_key = tuple(key[width:])
        posted[tuple(key[:width])][day_key if len(entry) > 1 else day_key[0]] = amount
    return terms, posted


def customer_ledger_rebuild(*, companies: Iterable[int] | None = None) -> int:
    """Post every company's missing customer changes, as ``mrr_ledger_rebuild``
    posts the MRR ledger: two grouped reads and one bulk insert, then the
    rollups rebuilt and the changed companies' spells rewritten when anything
    was appended. Returns the rows appended.
    """
    terms, posted = _terms_and_posted(
        companies, CustomerChange, ("company_id",), ("effective_on",), "change"
    )
    wanted = {
        company_id: customer_changes_of(terms.get((company_id,), []))
        for (company_id,) in set(terms) | set(posted)
    }
    rows = [
        CustomerChange(company_id=company_id, effective_on=day, change=change)
        for company_id in sorted(wanted)
        for day, change in corrections(
            wanted[company_id], posted.get((company_id,), {})
        ).items()
    ]
    CustomerChange.objects.bulk_create(rows, batch_size=2000)
    if rows:
        rollups.rebuild(rollups.CUSTOMERS)
        rollups.rebuild(rollups.CUSTOMER_MONTHS)
        spells_write({row.company_id: wanted[row.company_id] for row in rows})
    return len(rows)


def mrr_ledger_rebuild(*, companies: Iterable[int] | None = None) -> int:
    """Post every customer's missing movements from its subscriptions.

    For rows written in bulk around the services (the demo data, the benchmark
    generator): two grouped reads and one bulk insert, whatever the number of
    customers. Returns the number of rows appended (0 when already in line).
    """
    terms, posted = _terms_and_posted(
        companies,
        MrrMovement,
        ("company_id", "currency"),
        ("effective_on", "kind"),
        "amount",
    )
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
