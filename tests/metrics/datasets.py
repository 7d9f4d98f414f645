"""Small hand-checkable datasets for the KPI tests, all around Q1 2026.

Each builder documents what it creates; the tests carry the arithmetic next
to the expected figures. Rows are created directly, dated in the past, with
what the services would have recorded taken from ``pipeline.history`` (the
rules the services use): stage history and the deal's state, cold calls, the
leads' activity counters. The history rows go into the daily rollups through
the increment functions the services call (``leads.rollups.status_add``,
``pipeline.rollups.change_add``). ``created_at`` is set with ``update()``
because it is ``auto_now_add``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from crm import rollups
from leads import rollups as lead_rollups
from leads.models import Lead, LeadStatusChange
from metrics.segments import Period
from pipeline import history
from pipeline import rollups as pipeline_rollups
from pipeline.history import Step, deal_history
from pipeline.models import Activity, Deal, StageChange
from tests.factories import (
    ActivityFactory,
    CompanyFactory,
    ContentOfferFactory,
    DealFactory,
    LeadFactory,
    SubscriptionFactory,
)

Q1 = Period(datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
EMPTY = Period(datetime.date(2024, 1, 1), datetime.date(2024, 3, 31))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0):
    """Return an aware moment in the CRM's time zone."""
    return timezone.make_aware(
        datetime.datetime(year, month, day, hour, minute),  # noqa: DTZ001
        timezone.get_default_timezone(),
    )


def set_created(obj, moment) -> None:
    type(obj).objects.filter(pk=obj.pk).update(created_at=moment)
    obj.created_at = moment


def record_history(lead, *, created, became) -> None:
    """Write the status history the lead services would have written: what the
    record was created as and, for a prospect, when it became a lead."""
    created_as = "lead" if became is not None and became == created else "prospect"
    changes = [("", created_as, created)]
    if created_as == "prospect" and became is not None:
        changes.append(("prospect", "lead", became))
    for before, after, moment in changes:
        change = LeadStatusChange.objects.create(
            lead=lead, from_status=before, to_status=after, changed_at=moment
        )
        lead_rollups.status_add(change, lead)


def log_activity(*, lead, occurred_at, **fields) -> Activity:
    """Create an activity on ``lead`` as if it had been logged at ``occurred_at``.

    A factory row (``activity_log`` would refuse a past that the clock has not
    reached) with what the services record: whether it is a cold call, for the
    person as they were then, whether its prospect's promotion marked it, and
    the lead's activity counters, and the cold-call, won-over and duration
    rollups' rows.
    """
    activity = ActivityFactory.build(lead=lead, occurred_at=occurred_at, **fields)
    activity.is_cold_call = history.is_cold_call(
        kind=activity.kind,
        direction=activity.direction,
        lead_status=history.status_at(occurred_at, became_lead_at=lead.became_lead_at),
        came_inbound=lead.touches.filter(
            channel="inbound", occurred_at__lte=occurred_at
        ).exists(),
    )
    # What the promotion marks on the calls it follows.
    activity.led_to_lead = activity.is_cold_call and history.led_to_lead(
        occurred_at, became_lead_at=lead.became_lead_at
    )
    # Its lead's calls won over, recounted with it as the promotion counts
    # the calls it marks (here one at a time, in any order).
    won_over = pipeline_rollups.WON_OVER
    before = rollups.contributions(won_over, lead.pk) if activity.led_to_lead else []
    activity.save()
    pipeline_rollups.cold_call_add(activity)  # as activity_log counts it
    if activity.led_to_lead:
        after = rollups.contributions(won_over, lead.pk)
        rollups.replace_contributions(won_over, before, after)
    before = lead_rollups.counted(Lead.objects.get(pk=lead.pk))
    Lead.objects.filter(pk=lead.pk).update(
        **history.engagement_update(
            occurred_at, kind=activity.kind, direction=activity.direction
        )
    )
    # Its response time counted, as activity_log counts a first answer.
    lead_rollups.lead_moved(before, Lead.objects.get(pk=lead.pk))
    return activity


# --- churn -----------------------------------------------------------------------


def build_customers(rep, foreign_rep) -> None:
    """Companies of ``rep`` (A-F, all EUR) and of ``foreign_rep`` (G, USD).

    A  100 EUR  2025-06-01 ->              customer all along
    B  200 EUR  2025-01-01 -> 2026-02-15   churns in the period
    C   50 EUR  2025-03-01 ->              two subscriptions, one ends:
    C   70 EUR  2025-03-01 -> 2026-03-10   still a customer
    D  100 EUR  2026-01-10 -> 2026-03-01   starts and churns inside the period
    E  300 EUR  2026-02-01 ->              new customer
    F   80 EUR  2025-05-01 -> 2026-01-01   ends on `start`: in the cohort, lost on day 1
    G 1000 USD  2025-01-01 ->              another team, another currency
    """
    d = datetime.date
    rows = [
        ("A", "100", d(2025, 6, 1), None, rep, "EUR"),
        ("B", "200", d(2025, 1, 1), d(2026, 2, 15), rep, "EUR"),
        ("C", "50", d(2025, 3, 1), None, rep, "EUR"),
        ("C", "70", d(2025, 3, 1), d(2026, 3, 10), rep, "EUR"),
        ("D", "100", d(2026, 1, 10), d(2026, 3, 1), rep, "EUR"),
        ("E", "300", d(2026, 2, 1), None, rep, "EUR"),
        ("F", "80", d(2025, 5, 1), d(2026, 1, 1), rep, "EUR"),
        ("G", "1000", d(2025, 1, 1), None, foreign_rep, "USD"),
    ]
    companies: dict = {}
    for name, mrr, started, ended, owner, currency in rows:
        company = companies.get(name) or CompanyFactory(
            name=name, domain=f"{name.lower()}.example", owner=owner
        )
        companies[name] = company
        SubscriptionFactory(
            company=company,
            mrr=Decimal(mrr),
            currency=currency,
            started_on=started,
            ended_on=ended,
        )


# --- leads -----------------------------------------------------------------------


def build_leads(rep, foreign_rep):
    """Leads of ``rep`` around Q1 (times in the CRM's time zone).

    L1 inbound  content_download offer O1  lead 01-05 10:00  qualified 01-05 20:00
       first activity 01-05 10:30 (30 min), another 01-06
    L2 inbound  website_form               lead 02-01 00:00  qualified 02-03 00:00
       first activity 02-01 02:00 (120 min)
    L3 outbound cold_call   created 02-15 as a prospect, lead 03-01 09:00,
       qualified 04-02 (after `end`)
    L4 outbound prospect_list              lead 03-10 (created as a lead)
    L5 inbound                             lead 2025-12-31 23:00 (before `start`)
    L6 outbound prospect created 01-20, still a prospect
    L7 inbound  content_download           lead 03-20 12:00, no activity yet
    F1 foreign_rep's inbound lead 01-15 (another team)
    """
    offer = ContentOfferFactory(title="Playbook")

    def lead(name, owner, channel, source, created, became, qualified=None, **kw):
        record = LeadFactory(
            first_name=name,
            owner=owner,
            channel=channel,
            source=source,
            status=kw.pop("status", "qualified" if qualified else "lead"),
            became_lead_at=became,
            qualified_at=qualified,
            **kw,
        )
        set_created(record, created)
        record_history(record, created=created, became=became)
        return record

    l1 = lead(
        "L1", rep, "inbound", "content_download", at(2026, 1, 5, 10),
        at(2026, 1, 5, 10), at(2026, 1, 5, 20), offer=offer,
    )  # fmt: skip
    l2 = lead(
        "L2", rep, "inbound", "website_form", at(2026, 2, 1),
        at(2026, 2, 1), at(2026, 2, 3),
    )  # fmt: skip
    lead(
        "L3", rep, "outbound", "cold_call", at(2026, 2, 15),
        at(2026, 3, 1, 9), at(2026, 4, 2),
    )  # fmt: skip
    lead("L4", rep, "outbound", "prospect_list", at(2026, 3, 10), at(2026, 3, 10))
    lead(
        "L5", rep, "inbound", "content_download", at(2025, 12, 31, 23),
        at(2025, 12, 31, 23), at(2026, 1, 2),
    )  # fmt: skip
    lead(
        "L6", rep, "outbound", "prospect_list", at(2026, 1, 20), None,
        status="prospect",
    )  # fmt: skip
    lead(
        "L7", rep, "inbound", "content_download", at(2026, 3, 20, 12),
        at(2026, 3, 20, 12),
    )  # fmt: skip
    lead(
        "F1", foreign_rep, "inbound", "website_form", at(2026, 1, 15),
        at(2026, 1, 15),
    )  # fmt: skip
    for subject, moment in [
        (l1, at(2026, 1, 5, 10, 30)),
        (l1, at(2026, 1, 6)),
        (l2, at(2026, 2, 1, 2)),
    ]:
        log_activity(lead=subject, kind="email", outcome="", occurred_at=moment)
    return offer


def build_cold_calls(rep, foreign_rep) -> None:
    """Cold calls around Q1.

    C1 01-10 connected       on P1 (lead 01-25: within 30 days)
    C2 01-12 no_answer       on P1 again
    C3 02-01 meeting_booked  on P2 (lead 03-15: 42 days later)
    C4 03-30 voicemail       on P3 (never a lead)
    C5 2025-12-20 connected  on P4 (lead 01-05) -- outside the period
    a call from P3 (inbound, so not cold) in the period, and foreign_rep's cold
    call 02-02
    """

    def prospect(name, owner, became=None):
        return LeadFactory(
            first_name=name,
            owner=owner,
            channel="outbound",
            source="cold_call",
            status="lead" if became else "prospect",
            became_lead_at=became,
        )

    p1 = prospect("P1", rep, at(2026, 1, 25))
    p2 = prospect("P2", rep, at(2026, 3, 15))
    p3 = prospect("P3", rep)
    p4 = prospect("P4", rep, at(2026, 1, 5))
    f1 = prospect("PF", foreign_rep)
    for subject, moment, outcome, direction in [
        (p1, at(2026, 1, 10), "connected", "outbound"),
        (p1, at(2026, 1, 12), "no_answer", "outbound"),
        (p2, at(2026, 2, 1), "meeting_booked", "outbound"),
        (p3, at(2026, 3, 30), "voicemail", "outbound"),
        (p4, at(2025, 12, 20), "connected", "outbound"),
        (p3, at(2026, 2, 2), "connected", "inbound"),  # P3 called back
        (f1, at(2026, 2, 2), "connected", "outbound"),
    ]:
        log_activity(
            lead=subject, occurred_at=moment, outcome=outcome, direction=direction
        )
    assert Activity.objects.count() == 7
    assert Activity.objects.filter(is_cold_call=True).count() == 6


# --- deals -----------------------------------------------------------------------


def make_deal(owner, created, steps, *, amount="1000", currency="EUR", **fields):
    """Create a deal whose current state is its last step, with its history.

    ``steps`` lists (stage, status, moment); the first entry is the creation.
    """
    built = deal_history([Step(*step) for step in steps])
    deal = DealFactory(
        owner=owner,
        amount=Decimal(amount),
        currency=currency,
        stage=built.stage,
        status=built.status,
        closed_at=built.closed_at,
        stage_entered_at=built.stage_entered_at,
        deepest_stage=built.deepest_stage,
        version=built.version,
        **fields,
    )
    set_created(deal, created)
    changes = StageChange.objects.bulk_create(
        StageChange(deal=deal, **change._asdict()) for change in built.changes
    )
    for previous, change in zip([None, *changes], changes, strict=False):
        pipeline_rollups.change_add(
            change,
            deal,
            undone_close_at=None if previous is None else previous.changed_at,
        )
    # Counted in the funnel rollup where its history took it, as the services
    # count a deal.
    pipeline_rollups.funnel_moved(None, deal)
    return deal


def build_deals(rep, foreign_rep) -> dict[str, Deal]:
    """Deals of ``rep`` (EUR unless said) and one of ``foreign_rep``.

    D1 1000  created 01-01, every stage, won 01-11           (cycle 10 days)
    D2 3000  created 2025-12-01, won 02-01                   (cycle 62 days)
    D3  500  created 01-05, qualification, lost 02-10
    D4 2000  created 03-01, skips to closing 03-20, won 04-02 (after `end`)
    D5  800  created 01-02, up to consideration, lost 01-15, reopened 01-20
             in consideration: open on `end`, no own probability
    D6 2000 USD created 02-01, won 02-21 (cycle 20 days), no history rows
    D7 1000  created 02-10, to consideration then back to presentation 03-05,
             own probability 25%, inbound
    D8  400  created 03-05, prospection
    D9  700  created 04-05 (after `end`)
    DF 9999  foreign_rep's, created 01-10, won 02-05
    """
    s = "prospection", "qualification", "presentation", "consideration", "closing"
    deals = {
        "D1": make_deal(
            rep,
            at(2026, 1, 1),
            [
                (s[0], "open", at(2026, 1, 1)),
                (s[1], "open", at(2026, 1, 2)),
                (s[2], "open", at(2026, 1, 3)),
                (s[3], "open", at(2026, 1, 4)),
                (s[4], "open", at(2026, 1, 5)),
                (s[4], "won", at(2026, 1, 11)),
            ],
        ),
        "D2": make_deal(
            rep,
            at(2025, 12, 1),
            [
                (s[0], "open", at(2025, 12, 1)),
                (s[4], "open", at(2026, 1, 20)),
                (s[4], "won", at(2026, 2, 1)),
            ],
            amount="3000",
        ),
        "D3": make_deal(
            rep,
            at(2026, 1, 5),
            [
                (s[0], "open", at(2026, 1, 5)),
                (s[1], "open", at(2026, 1, 8)),
                (s[1], "lost", at(2026, 2, 10)),
            ],
            amount="500",
            lost_reason="price",
        ),
        "D4": make_deal(
            rep,
            at(2026, 3, 1),
            [
                (s[0], "open", at(2026, 3, 1)),
                (s[4], "open", at(2026, 3, 20)),
                (s[4], "won", at(2026, 4, 2)),
            ],
            amount="2000",
        ),
        "D5": make_deal(
            rep,
            at(2026, 1, 2),
            [
                (s[0], "open", at(2026, 1, 2)),
                (s[1], "open", at(2026, 1, 3)),
                (s[2], "open", at(2026, 1, 4)),
                (s[3], "open", at(2026, 1, 6)),
                (s[3], "lost", at(2026, 1, 15)),
                (s[3], "open", at(2026, 1, 20)),
            ],
            amount="800",
        ),
        "D7": make_deal(
            rep,
            at(2026, 2, 10),
            [
                (s[0], "open", at(2026, 2, 10)),
                (s[2], "open", at(2026, 2, 12)),
                (s[3], "open", at(2026, 2, 20)),
                (s[2], "open", at(2026, 3, 5)),
            ],
            probability=25,
            channel="inbound",
        ),
        "D8": make_deal(
            rep, at(2026, 3, 5), [(s[0], "open", at(2026, 3, 5))], amount="400"
        ),
        "D9": make_deal(
            rep, at(2026, 4, 5), [(s[0], "open", at(2026, 4, 5))], amount="700"
        ),
        "DF": make_deal(
            foreign_rep,
            at(2026, 1, 10),
            [
                (s[0], "open", at(2026, 1, 10)),
                (s[4], "open", at(2026, 1, 20)),
                (s[4], "won", at(2026, 2, 5)),
            ],
            amount="9999",
        ),
    }
    # D6: no history rows at all (e.g. imported): counts in its current stage.
    d6 = DealFactory(
        owner=rep,
        amount=Decimal(2000),
        currency="USD",
        stage="closing",
        status="won",
        closed_at=at(2026, 2, 21),
    )
    set_created(d6, at(2026, 2, 1))
    # The rollups count it as the KPIs read a deal without history: by its
    # own fields (what recomputing them gives).
    for rollup in pipeline_rollups.ROLLUPS:
        rollups.replace_contributions(rollup, [], rollups.contributions(rollup, d6.pk))
    deals["D6"] = d6
    return deals
