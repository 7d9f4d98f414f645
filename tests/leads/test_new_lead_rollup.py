"""The daily new-lead rollup (``leads.NewLeadDaily``) is the leads regrouped.

Every way a person becomes a lead, or a lead's channel, source or offer
changes, keeps it in the same transaction, so the organisation's new-lead
KPIs read a few rows a day and count exactly what the leads say.
"""

import datetime
import io

import pytest
import time_machine

from crm import rollups
from leads import services
from leads.importing import leads_import
from leads.models import Lead, NewLeadDaily, NewProspectDaily
from leads.rollups import NEW_LEADS, NEW_PROSPECTS
from metrics import kpis
from metrics.segments import Period, Segment
from tests.factories import ContentOfferFactory
from tests.metrics.datasets import at

pytestmark = pytest.mark.django_db

MARCH = Period(datetime.date(2026, 3, 1), datetime.date(2026, 3, 31))


def _stored() -> dict[tuple, int]:
    return {
        (row.day, row.channel, row.source, row.offer_key): row.leads
        for row in NewLeadDaily.objects.all()
        if row.leads
    }


def _no_drift() -> None:
    assert list(rollups.drift(NEW_LEADS)) == []


@pytest.fixture
def inbound(team, rep):
    team.handles_inbound = True
    team.save()
    return ContentOfferFactory(slug="playbook", external_url="https://x.example/p")


def _cold_call_prospect(rep, email):
    return services.lead_create(
        by=rep, email=email, status="prospect", channel="outbound", source="cold_call"
    )


def _capture(anon_api, email):
    response = anon_api.post(
        "/api/v1/capture/",
        {"offer": "playbook", "first_name": "Ana", "email": email, "consent": True},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_a_lead_counts_on_the_day_it_became_one_in_the_crms_time_zone(rep):
    # 23:30 in Paris on 10 March is 22:30 UTC: the 10th, not the 11th.
    with time_machine.travel(at(2026, 3, 10, 23, 30), tick=False):
        services.lead_create(
            by=rep,
            email="ana@corp.example",
            channel="outbound",
            source="prospect_list",
        )
        _cold_call_prospect(rep, "bo@corp.example")
    # The prospect is not a lead: counted nowhere yet.
    assert _stored() == {
        (datetime.date(2026, 3, 10), "outbound", "prospect_list", 0): 1,
    }
    _no_drift()


def test_promoting_a_prospect_counts_it_on_the_day_of_its_promotion(rep):
    with time_machine.travel(at(2026, 3, 2, 9), tick=False):
        prospect = _cold_call_prospect(rep, "bo@corp.example")
    with time_machine.travel(at(2026, 3, 20, 9), tick=False):
        services.lead_promote(lead=prospect, by=rep)

    assert _stored() == {(datetime.date(2026, 3, 20), "outbound", "cold_call", 0): 1}
    _no_drift()


def test_a_lead_whose_channel_source_or_offer_changes_moves_its_count(rep):
    offer = ContentOfferFactory()
    with time_machine.travel(at(2026, 3, 2, 9), tick=False):
        lead = services.lead_create(
            by=rep, email="ana@corp.example", channel="outbound", source="event"
        )
    services.lead_update(
        lead=lead, by=rep, channel="inbound", source="website_form", offer=offer
    )

    assert _stored() == {
        (datetime.date(2026, 3, 2), "inbound", "website_form", offer.pk): 1
    }
    _no_drift()
    # A change of something it does not count under writes nothing to it.
    services.lead_update(lead=Lead.objects.get(), by=rep, first_name="Ana")
    assert _stored() == {
        (datetime.date(2026, 3, 2), "inbound", "website_form", offer.pk): 1
    }


def test_deleting_a_lead_takes_its_count_out(rep):
    lead = services.lead_create(
        by=rep, email="ana@corp.example", channel="outbound", source="event"
    )
    services.lead_delete(lead=lead)

    assert _stored() == {}
    _no_drift()


def test_captures_count_new_leads_raised_prospects_and_first_offers(
    anon_api, inbound, rep
):
    with time_machine.travel(at(2026, 3, 3, 9), tick=False):
        _capture(anon_api, "new@corp.example")
        prospect = _cold_call_prospect(rep, "called@corp.example")
        services.lead_create(
            by=rep, email="known@corp.example", channel="outbound", source="event"
        )
    with time_machine.travel(at(2026, 3, 5, 9), tick=False):
        # The prospect asks for content: a lead from today, with the offer.
        _capture(anon_api, "called@corp.example")
        # A lead without an offer takes the offer of its first capture.
        _capture(anon_api, "known@corp.example")

    march = datetime.date(2026, 3, 1)
    assert _stored() == {
        (march.replace(day=3), "inbound", "content_download", inbound.pk): 1,
        (march.replace(day=5), "outbound", "cold_call", inbound.pk): 1,
        (march.replace(day=3), "outbound", "event", inbound.pk): 1,
    }
    assert Lead.objects.get(pk=prospect.pk).status == "lead"
    _no_drift()


def test_an_import_counts_the_leads_it_creates_and_the_prospects_it_raises(rep):
    with time_machine.travel(at(2026, 3, 2, 9), tick=False):
        _cold_call_prospect(rep, "raised@x.example")
    with time_machine.travel(at(2026, 3, 9, 9), tick=False):
        report = leads_import(
            file=io.StringIO(
                "first_name,email,status\n"
                "Ana,ana@x.example,lead\n"
                "Bo,bo@x.example,prospect\n"
                "Cy,raised@x.example,lead\n"
            ),
            by=rep,
        )
    assert report.saved

    day = datetime.date(2026, 3, 9)
    assert _stored() == {
        (day, "outbound", "prospect_list", 0): 1,
        (day, "outbound", "cold_call", 0): 1,
    }
    _no_drift()
    # and its prospect is counted as added that day, as the one created before
    added = NewProspectDaily.objects.values_list("day", "channel", "prospects")
    assert set(added) == {
        (datetime.date(2026, 3, 2), "outbound", 1),
        (day, "outbound", 1),
    }
    assert list(rollups.drift(NEW_PROSPECTS)) == []


def test_the_organisations_new_leads_are_the_rollup_and_agree_with_its_reps(
    rep, other_rep, inbound
):
    leads = [
        (rep, "inbound", "content_download", inbound, at(2026, 3, 1, 0, 30)),
        (rep, "outbound", "cold_call", None, at(2026, 3, 15, 12)),
        (other_rep, "inbound", "content_download", inbound, at(2026, 3, 31, 23)),
        (other_rep, "inbound", "website_form", None, at(2026, 4, 1)),  # April
    ]
    for n, (owner, channel, source, offer, moment) in enumerate(leads):
        with time_machine.travel(moment, tick=False):
            services.lead_create(
                by=owner,
                email=f"p{n}@corp.example",
                channel=channel,
                source=source,
                offer=offer,
            )

    organisation = kpis.lead_kpis(period=MARCH, segment=Segment())
    per_rep = [
        kpis.lead_kpis(period=MARCH, segment=Segment(owner=owner))
        for owner in (rep, other_rep)
    ]

    assert organisation.new_leads == 3 == sum(r.new_leads for r in per_rep)
    assert organisation.by_channel == (("inbound", 2), ("outbound", 1))
    assert organisation.by_source == (("cold_call", 1), ("content_download", 2))
    assert set(organisation.by_offer) == {
        (None, None, 1),
        (inbound.pk, inbound.title, 2),
    }
    assert organisation.inbound_new_leads == 2
    # A rep's figures come from the leads themselves, in the same shape.
    assert per_rep[1].by_offer == ((inbound.pk, inbound.title, 1),)
    assert kpis.lead_kpis(
        period=MARCH, segment=Segment(channel="outbound")
    ).by_source == (("cold_call", 1),)


def test_the_migration_builds_the_rollup_of_existing_leads(rep, inbound):
    for n, source in enumerate(["event", "event", "content_download"]):
        services.lead_create(
            by=rep,
            email=f"p{n}@corp.example",
            channel="inbound",
            source=source,
            offer=inbound if source == "content_download" else None,
        )
    kept = _stored()
    NewLeadDaily.objects.all().delete()

    rollups.rebuild(NEW_LEADS, batch=2)

    assert _stored() == kept
    assert sum(kept.values()) == 3


def test_only_a_whole_crm_viewer_reads_the_rollup_a_manager_counts_their_teams(
    rep, foreign_rep, manager, integration
):
    """The rollup has no owner: a viewer limited to some reps must not read it."""
    for n, owner in enumerate([rep, foreign_rep, foreign_rep]):
        with time_machine.travel(at(2026, 3, 10, 9), tick=False):
            services.lead_create(
                by=owner, email=f"p{n}@corp.example", channel="outbound", source="event"
            )

    def new_leads(viewer):
        return kpis.lead_kpis(period=MARCH, segment=Segment(viewer=viewer)).new_leads

    assert new_leads(integration) == 3
    assert new_leads(manager) == 1  # their team's rep only
    assert new_leads(foreign_rep) == 2
