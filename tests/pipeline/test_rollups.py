"""The lead, new-lead, deal close and pipeline rollups equal their recomputation.

Random sequences of lead and deal operations go through the services, on
days that move forward (a reopening may come days after its close, in
another period); after each sequence every rollup kept in the services'
transactions equals its ledgers regrouped (``crm.rollups.drift``, what
``verify_rollups`` runs), and the KPIs read from them equal the same figures
counted from the history row by row.
"""

import datetime
import statistics
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crm import rollups
from crm.errors import Conflict
from leads import rollups as lead_rollups
from leads import services as lead_services
from leads.models import Lead, LeadStatusChange, LeadStatusDaily, NewProspectDaily
from metrics import kpis
from metrics.kpis.numbers import in_units, ratio
from metrics.segments import Period, Segment
from pipeline import rollups as pipeline_rollups
from pipeline import services
from pipeline.activities import activity_log
from pipeline.models import Deal, FunnelDaily, PipelineDaily, StageChange
from tests.factories import DealFactory
from tests.metrics.datasets import at

pytestmark = pytest.mark.django_db

d = datetime.date
START = d(2026, 1, 1)
PERIODS = [
    Period(d(2026, 1, 1), d(2026, 1, 10)),
    Period(d(2026, 1, 11), d(2026, 2, 28)),
]
STAGES = ["prospection", "qualification", "presentation", "consideration", "closing"]

# Few records, so that operations meet the same ones (a win, then its reopening).
pick = st.integers(0, 2)
operation = st.one_of(
    st.tuples(
        st.just("lead_create"),
        st.sampled_from(["prospect", "lead"]),
        st.sampled_from(["inbound", "outbound"]),
        st.integers(0, 1),
    ),
    st.tuples(st.just("lead_promote"), pick),
    st.tuples(st.just("lead_qualify"), pick),
    st.tuples(st.just("lead_disqualify"), pick),
    st.tuples(st.just("lead_reassign"), pick, st.integers(0, 1)),
    st.tuples(st.just("lead_channel"), pick, st.sampled_from(["inbound", "outbound"])),
    st.tuples(st.just("lead_source"), pick, st.sampled_from(["event", "referral"])),
    st.tuples(st.just("lead_delete"), pick),
    st.tuples(st.just("lead_convert"), pick),
    # A call logged now or backdated (before the person became a lead, or
    # earlier than the lead's first answer): it may answer the lead first.
    st.tuples(st.just("lead_call"), pick, st.sampled_from([0, 3, 60, 2000, 20000])),
    st.tuples(
        st.just("deal_create"),
        st.sampled_from([*STAGES, "closing", "closing"]),
        st.sampled_from(["EUR", "USD"]),
        st.sampled_from([None, 30]),
        st.integers(0, 1),
    ),
    st.tuples(st.just("deal_move"), pick, st.sampled_from(STAGES)),
    st.tuples(st.just("deal_win"), pick),
    st.tuples(st.just("deal_lose"), pick),
    st.tuples(st.just("deal_reopen"), pick),
    st.tuples(
        st.just("deal_update"),
        pick,
        st.sampled_from(["amount", "probability", "owner", "currency"]),
    ),
)
# Each operation happens this many days after the previous one.
gap = st.sampled_from([0, 0, 1, 3, 9])


def _nth(model, index):
    rows = list(model.objects.order_by("pk"))
    if not rows:
        raise LookupError
    return rows[index % len(rows)]


def _apply(op, owners, actor) -> None:
    """Run one operation through its service; a refused one changes nothing."""
    kind, *args = op
    try:
        with transaction.atomic():
            if kind == "lead_create":
                status, channel, owner = args
                lead_services.lead_create(
                    by=actor,
                    email=f"p{Lead.objects.count()}@corp.example",
                    status=status,
                    channel=channel,
                    owner=owners[owner],
                )
            elif kind == "lead_promote":
                lead_services.lead_promote(lead=_nth(Lead, args[0]), by=actor)
            elif kind == "lead_qualify":
                lead_services.lead_qualify(
                    lead=_nth(Lead, args[0]),
                    by=actor,
                    budget=True,
                    authority=True,
                    need=True,
                    timeline=True,
                )
            elif kind == "lead_disqualify":
                lead_services.lead_disqualify(
                    lead=_nth(Lead, args[0]), by=actor, reason="no_budget"
                )
            elif kind == "lead_reassign":
                lead_services.lead_reassign(
                    lead=_nth(Lead, args[0]), to=owners[args[1]], by=actor
                )
            elif kind == "lead_channel":
                lead_services.lead_update(
                    lead=_nth(Lead, args[0]), by=actor, channel=args[1]
                )
            elif kind == "lead_source":
                lead_services.lead_update(
                    lead=_nth(Lead, args[0]), by=actor, source=args[1]
                )
            elif kind == "lead_delete":
                lead_services.lead_delete(lead=_nth(Lead, args[0]))
            elif kind == "lead_call":
                index, minutes_ago = args
                activity_log(
                    by=actor,
                    kind="call",
                    outcome="connected",
                    lead=_nth(Lead, index),
                    occurred_at=timezone.now()
                    - datetime.timedelta(minutes=minutes_ago),
                )
            elif kind == "lead_convert":
                services.lead_convert(
                    lead=_nth(Lead, args[0]), by=actor, amount=Decimal(700)
                )
            elif kind == "deal_create":
                stage, currency, probability, owner = args
                services.deal_create(
                    by=actor,
                    title="D",
                    channel="outbound",
                    amount=Decimal(1000),
                    currency=currency,
                    probability=probability,
                    owner=owners[owner],
                    stage=stage,
                )
            elif kind == "deal_move":
                services.deal_move(deal=_nth(Deal, args[0]), to_stage=args[1], by=actor)
            elif kind == "deal_win":
                services.deal_win(deal=_nth(Deal, args[0]), by=actor)
            elif kind == "deal_lose":
                services.deal_lose(deal=_nth(Deal, args[0]), by=actor, reason="price")
            elif kind == "deal_reopen":
                services.deal_reopen(deal=_nth(Deal, args[0]), by=actor)
            elif kind == "deal_update":
                index, field = args
                value = {
                    "amount": Decimal(2500),
                    "probability": 60,
                    "owner": owners[1],
                    "currency": "USD",
                }[field]
                services.deal_update(deal=_nth(Deal, index), by=actor, **{field: value})
    except (ValidationError, Conflict, PermissionDenied, LookupError, ProtectedError):
        pass  # refused (a closed deal's amount, deleting a lead with a deal...)


def _closed_from_history(period: Period, owner) -> dict[str, int]:
    """Count the period's standing closes row by row from the stage history."""
    start_at, end_at = period.bounds()
    counts = {"won": 0, "lost": 0}
    for deal in Deal.objects.filter(owner=owner):
        last = (
            StageChange.objects.filter(deal=deal, changed_at__lt=end_at)
            .order_by("-changed_at", "-pk")
            .first()
        )
        if last and last.to_status in counts and last.changed_at >= start_at:
            counts[last.to_status] += 1
    return counts


def _open_from_history(day: datetime.date, owner) -> int:
    _, end_at = Period(day, day).bounds()
    count = 0
    for deal in Deal.objects.filter(owner=owner):
        last = (
            StageChange.objects.filter(deal=deal, changed_at__lt=end_at)
            .order_by("-changed_at", "-pk")
            .first()
        )
        count += bool(last and last.to_status == "open")
    return count


@settings(
    max_examples=40,
    database=None,  # no example files in the checkout
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(gap, operation), min_size=1, max_size=16))
# A lead's source and channel change after its creation, and it is deleted.
@example(
    steps=[
        (0, ("lead_create", "lead", "inbound", 0)),
        (1, ("lead_source", 0, "event")),
        (1, ("lead_channel", 0, "outbound")),
        (0, ("lead_create", "lead", "inbound", 1)),
        (3, ("lead_delete", 0)),
    ]
)
# A move into a stage never reached (the guarded UPDATE), then back and
# forth, then a win: the funnel and pipeline rollups follow each.
@example(
    steps=[
        (0, ("deal_create", "prospection", "EUR", None, 0)),
        (1, ("deal_move", 0, "presentation")),
        (0, ("deal_move", 0, "qualification")),
        (9, ("deal_move", 0, "closing")),
        (1, ("deal_win", 0)),
    ]
)
# An inbound lead answered a day later, then earlier by a backdated call,
# qualified, moved to the outbound channel (no response counted there), back.
@example(
    steps=[
        (0, ("lead_create", "lead", "inbound", 0)),
        (1, ("lead_call", 0, 0)),
        (0, ("lead_call", 0, 60)),
        (0, ("lead_qualify", 0)),
        (1, ("lead_channel", 0, "outbound")),
        (0, ("lead_channel", 0, "inbound")),
    ]
)
# A lead converted into a deal cannot be deleted: refused, nothing changes.
@example(
    steps=[
        (0, ("lead_create", "lead", "outbound", 0)),
        (1, ("lead_convert", 0)),
        (1, ("lead_delete", 0)),
    ]
)
def test_rollups_equal_the_history_regrouped_after_any_operations(
    admin_user, rep, other_rep, steps
):
    with transaction.atomic():  # each example rolls back
        owners = [rep, other_rep]
        moment = at(2026, 1, 1, 9)
        for days, op in steps:
            moment += datetime.timedelta(days=days, minutes=7)
            with time_machine.travel(moment, tick=False):
                _apply(op, owners, admin_user)

        for key in (
            "lead_status",
            "new_prospects",
            "new_leads",
            "lead_durations",
            "lead_duration_months",
            "deal_closes",
            "pipeline",
            "pipeline_months",
            "funnel",
            "cold_calls",
            "won_over",
        ):
            assert list(rollups.drift(rollups.REGISTRY[key])) == [], key
        # The KPIs read from the rollups count what the history says, per owner.
        for owner in owners:
            for period in PERIODS:
                segment = Segment(owner=owner)
                figures = kpis.deal_kpis(period=period, segment=segment)
                assert {"won": figures.won, "lost": figures.lost} == (
                    _closed_from_history(period, owner)
                )
                assert figures.open_deals == _open_from_history(period.end, owner)
                # ... and so does the pipeline rollup summed up to the end.
                assert figures.open_deals == sum(
                    PipelineDaily.objects.filter(
                        owner=owner, day__lte=period.end
                    ).values_list("deals", flat=True)
                )
                start_at, end_at = period.bounds()
                assert kpis.lead_kpis(
                    period=period, segment=segment
                ).prospects_added == (
                    LeadStatusChange.objects.filter(
                        lead__owner=owner,
                        from_status="",
                        to_status="prospect",
                        changed_at__gte=start_at,
                        changed_at__lt=end_at,
                    ).count()
                )
        # The organisation's funnel, read from its rollup, is its reps' funnels
        # (read from their deals) added up.
        for period in PERIODS:
            whole = kpis.funnel(period=period, segment=Segment())
            per_rep = [
                kpis.funnel(period=period, segment=Segment(owner=o)) for o in owners
            ]
            assert [s.reached for s in whole.stages] == [
                sum(f.stages[i].reached for f in per_rep) for i in range(5)
            ]
            assert whole.won == sum(f.won for f in per_rep)
            # ... and so are its open pipeline and its closes, from the
            # rollups' rows for everyone.
            whole_deals = kpis.deal_kpis(period=period, segment=Segment())
            reps_deals = [
                kpis.deal_kpis(period=period, segment=Segment(owner=o)) for o in owners
            ]
            for figure in ("open_deals", "won", "lost"):
                assert getattr(whole_deals, figure) == sum(
                    getattr(d, figure) for d in reps_deals
                )
            # ... and its times to qualify and to answer, read from their
            # rollup, are its leads' own.
            _assert_durations_of_the_leads(period)
            # ... and its prospects added, per channel, from theirs.
            for channel in ("inbound", "outbound"):
                added = kpis.lead_kpis(period=period, segment=Segment(channel=channel))
                assert added.prospects_added == _reps_prospects_added(period, channel)
        transaction.set_rollback(True)


def _reps_prospects_added(period: Period, channel: str) -> int:
    """The records created as prospects in the period on ``channel``, from
    the status rollup's rows of every rep."""
    return sum(
        LeadStatusDaily.objects.filter(
            channel=channel,
            from_status="",
            to_status="prospect",
            day__gte=period.start,
            day__lte=period.end,
        ).values_list("changes", flat=True)
    )


def _assert_durations_of_the_leads(period: Period) -> None:
    """The organisation's qualification and response figures are those of
    its leads, measured one by one."""
    start_at, end_at = period.bounds()
    new = Lead.objects.filter(became_lead_at__gte=start_at, became_lead_at__lt=end_at)
    to_qualify = [
        lead.qualified_at - lead.became_lead_at
        for lead in new.filter(qualified_at__lt=end_at)
    ]
    responses = [
        lead.first_response_at - lead.became_lead_at
        for lead in new.filter(channel="inbound", first_response_at__isnull=False)
    ]
    sla = datetime.timedelta(minutes=django_settings.CRM_LEAD_RESPONSE_SLA_MINUTES)
    figures = kpis.lead_kpis(period=period, segment=Segment())
    hour, minute = datetime.timedelta(hours=1), datetime.timedelta(minutes=1)
    assert figures.qualified_by_end == len(to_qualify)
    assert figures.median_hours_to_qualify == (
        in_units(statistics.median(to_qualify), hour) if to_qualify else None
    )
    assert figures.inbound_leads_answered == len(responses)
    assert figures.median_lead_response_minutes == (
        in_units(statistics.median(responses), minute) if responses else None
    )
    assert figures.mean_lead_response_minutes == ratio(
        in_units(sum(responses, datetime.timedelta()), minute), len(responses)
    )
    assert figures.lead_response_within_sla_rate == ratio(
        sum(response <= sla for response in responses), figures.inbound_new_leads
    )


def test_a_reopening_days_later_leaves_the_closed_period_as_it_stood(admin_user, rep):
    # given a deal won on 5 January and reopened on 20 January
    with time_machine.travel(at(2026, 1, 5, 10), tick=False):
        deal = services.deal_create(
            by=admin_user, title="D", channel="outbound", amount=Decimal(900),
            owner=rep, stage="closing",
        )  # fmt: skip
        services.deal_win(deal=deal, by=admin_user)
    with time_machine.travel(at(2026, 1, 20, 10), tick=False):
        services.deal_reopen(deal=deal, by=admin_user)

    # then the first ten days keep their win; the rest of the month has none
    # (the reopening cancels a close of another period, not its own)
    segment = Segment(owner=rep)
    first, rest = PERIODS
    assert kpis.deal_kpis(period=first, segment=segment).won == 1
    assert kpis.deal_kpis(period=first, segment=segment).revenue_won == (
        ("EUR", Decimal("900.00")),
    )
    assert kpis.deal_kpis(period=rest, segment=segment).won == 0
    # open on the 10th? no (won); on 28 February? yes, in closing again
    assert kpis.deal_kpis(period=first, segment=segment).open_deals == 0
    assert kpis.deal_kpis(period=rest, segment=segment).open_deals == 1
    for rollup in pipeline_rollups.ROLLUPS:
        assert list(rollups.drift(rollup)) == []


def test_reassigning_a_lead_moves_its_counts_to_the_new_owner(
    admin_user, rep, other_rep
):
    with time_machine.travel(at(2026, 1, 5, 10), tick=False):
        lead = lead_services.lead_create(by=admin_user, status="prospect", owner=rep)
        lead_services.lead_reassign(lead=lead, to=other_rep, by=admin_user)

    assert LeadStatusDaily.objects.get(changes=1).owner == other_rep
    added = kpis.lead_kpis(period=PERIODS[0], segment=Segment(owner=other_rep))
    assert added.prospects_added == 1
    assert list(rollups.drift(rollups.REGISTRY["lead_status"])) == []


def test_deleting_a_lead_takes_its_counts_out(admin_user, rep):
    lead = lead_services.lead_create(by=admin_user, status="prospect", owner=rep)

    lead_services.lead_delete(lead=lead)

    assert not LeadStatusDaily.objects.exclude(changes=0).exists()
    assert not NewProspectDaily.objects.exclude(prospects=0).exists()
    assert list(rollups.drift(rollups.REGISTRY["lead_status"])) == []
    assert list(rollups.drift(rollups.REGISTRY["new_prospects"])) == []


def test_a_prospect_moved_to_another_channel_is_counted_there(admin_user, rep):
    with time_machine.travel(at(2026, 1, 5, 10), tick=False):
        lead = lead_services.lead_create(
            by=admin_user, status="prospect", owner=rep, channel="inbound"
        )
        lead_services.lead_update(lead=lead, by=admin_user, channel="outbound")

    added = {
        channel: kpis.lead_kpis(
            period=PERIODS[0], segment=Segment(channel=channel)
        ).prospects_added
        for channel in ("inbound", "outbound")
    }
    assert added == {"inbound": 0, "outbound": 1}
    assert list(rollups.drift(rollups.REGISTRY["new_prospects"])) == []


def test_migrations_build_the_rollups_of_existing_history(admin_user, rep):
    from importlib import import_module

    from django.apps import apps

    from crm.models import EVERYONE
    from pipeline.models import DealCloseDaily

    with time_machine.travel(at(2026, 1, 5, 10), tick=False):
        lead_services.lead_create(by=admin_user, status="prospect", owner=rep)
        deal = services.deal_create(
            by=admin_user, title="D", channel="inbound", amount=Decimal(300),
            owner=rep, stage="closing",
        )  # fmt: skip
        services.deal_lose(deal=deal, by=admin_user, reason="price")
    built = (*lead_rollups.STATUS_ROLLUPS, *pipeline_rollups.ROLLUPS)

    def stored(rollup):
        return set(rollup.model.objects.values_list(*rollup.key, *rollup.sums))

    kept = {rollup.name: stored(rollup) for rollup in built}
    for rollup in built:
        rollup.model.objects.all().delete()  # as before the migrations

    import_module("leads.migrations.0017_build_lead_status_daily_rollup").forward(
        apps, None
    )
    import_module("leads.migrations.0029_build_new_prospect_rollup").forward(apps, None)
    import_module(
        "pipeline.migrations.0015_build_deal_close_and_pipeline_daily_rollups"
    ).forward(apps, None)
    import_module("pipeline.migrations.0022_build_pipeline_monthly_rollup").forward(
        apps, None
    )
    import_module("pipeline.migrations.0024_build_funnel_daily_rollup").forward(
        apps, None
    )
    import_module("pipeline.migrations.0025_deal_close_rollup_for_everyone").forward(
        apps, None
    )

    assert {rollup.name: stored(rollup) for rollup in built} == kept
    # The rep's close, and the same for the whole organisation.
    assert set(DealCloseDaily.objects.values_list("owner_id", "amount")) == {
        (rep.pk, Decimal("300.00")),
        (EVERYONE, Decimal("300.00")),
    }


def test_an_amount_given_as_text_is_summed_as_a_number(admin_user, rep):
    # The admin's and the tests' callers may hand the service "500", not 500.
    deal = services.deal_create(
        by=admin_user, title="D", channel="outbound", amount="500", probability=50,
        owner=rep, stage="closing",
    )  # fmt: skip
    services.deal_win(deal=deal, by=admin_user)

    for rollup in pipeline_rollups.ROLLUPS:
        assert list(rollups.drift(rollup)) == []
    assert PipelineDaily.objects.get().probability_amount == Decimal("0.00")


def test_a_deal_deeper_than_its_history_is_counted_once_at_its_depth(rep):
    # An imported deal that had reached closing before the CRM knew it: no
    # history, so its first move takes the locking path; its history then
    # says presentation, not closing, so the next move must not take the
    # guarded one (which reads the depth from the history).
    imported = DealFactory(owner=rep, stage="qualification", deepest_stage="closing")
    rollups.rebuild(pipeline_rollups.FUNNEL)  # as a bulk import does

    for stage in ("presentation", "consideration", "qualification"):
        services.deal_move(deal=imported, to_stage=stage, by=rep)

    assert list(rollups.drift(pipeline_rollups.FUNNEL)) == []
    assert list(FunnelDaily.objects.exclude(deals=0).values_list("depth", "deals")) == [
        (4, 1)
    ]


def test_a_move_to_a_stage_reached_before_leaves_the_funnel_alone(admin_user, rep):
    deal = services.deal_create(
        by=admin_user, title="D", channel="outbound", owner=rep, stage="consideration"
    )
    services.deal_move(deal=deal, to_stage="qualification", by=rep)
    counted = list(FunnelDaily.objects.values_list("depth", "deals", "won"))

    services.deal_move(deal=deal, to_stage="presentation", by=rep)

    assert list(FunnelDaily.objects.values_list("depth", "deals", "won")) == counted
    assert counted == [(3, 1, 0)]
    assert list(rollups.drift(pipeline_rollups.FUNNEL)) == []


def test_a_move_to_a_new_stage_moves_the_deal_down_the_funnel(admin_user, rep):
    deal = services.deal_create(
        by=admin_user, title="D", channel="outbound", owner=rep, stage="prospection"
    )

    services.deal_move(deal=deal, to_stage="presentation", by=rep)

    assert list(FunnelDaily.objects.exclude(deals=0).values_list("depth", "deals")) == [
        (2, 1)
    ]
    assert list(rollups.drift(pipeline_rollups.FUNNEL)) == []


def test_only_a_whole_crm_viewer_reads_the_organisations_rows(
    admin_user, rep, foreign_rep, manager, integration
):
    """The funnel rollup has no owner, and the monthly pipeline's and the
    closes' owner-0 rows are everyone's: a viewer limited to some reps must
    not read them."""
    with time_machine.travel(at(2026, 1, 5, 10), tick=False):
        for owner in (rep, foreign_rep, foreign_rep):
            deal = services.deal_create(
                by=admin_user, title="D", channel="outbound", owner=owner
            )
            services.deal_move(deal=deal, to_stage="presentation", by=admin_user)
        for owner in (rep, foreign_rep):
            deal = services.deal_create(
                by=admin_user, title="W", channel="outbound", owner=owner,
                stage="closing",
            )  # fmt: skip
            services.deal_win(deal=deal, by=admin_user)
    period = PERIODS[0]

    def seen(viewer):
        segment = Segment(viewer=viewer)
        figures = kpis.deal_kpis(period=period, segment=segment)
        return (
            kpis.funnel(period=period, segment=segment).stages[2].reached,
            figures.open_deals,
            figures.won,
        )

    # Reached the presentation: the moved deals and the won ones (deeper).
    assert seen(integration) == (5, 3, 2)
    assert seen(manager) == (2, 1, 1)  # their team's rep only
    assert seen(foreign_rep) == (3, 2, 1)
