"""Concurrent writes to one lead keep every change (PostgreSQL only).

Each case ran in several rounds against the old update, which saved every
column as it had read it: one of the two changes was lost in most rounds.
"""

import datetime

import pytest
import time_machine

from leads.models import Lead, Qualification
from pipeline.models import Deal
from tests.factories import ContentOfferFactory, LeadFactory
from tests.markers import postgres_only
from tests.races import api_call, run_together

pytestmark = [
    pytest.mark.postgres,
    postgres_only,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _frozen_clock():
    # Records are dated by the services; the races need no real clock.
    with time_machine.travel(
        datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC), tick=False
    ):
        yield


ROUNDS = 4


def lead_url(lead, action: str = "") -> str:
    return f"/api/v1/leads/{lead.pk}/{action + '/' if action else ''}"


def test_two_patches_of_different_fields_both_survive(rep, other_rep):
    for round_ in range(ROUNDS):
        lead = LeadFactory(owner=rep, job_title="", phone="")
        statuses = run_together(
            api_call(rep, "patch", lead_url(lead), {"job_title": f"CTO {round_}"}),
            api_call(rep, "patch", lead_url(lead), {"phone": f"+44 {round_}"}),
        )
        assert statuses == [200, 200]
        lead.refresh_from_db()
        assert (lead.job_title, lead.phone) == (f"CTO {round_}", f"+44 {round_}")
        assert lead.version == 3


def test_a_patch_racing_a_conversion_keeps_the_conversion(rep):
    for round_ in range(ROUNDS):
        lead = LeadFactory(
            owner=rep, status="qualified", email=f"buyer{round_}@initech.example"
        )
        statuses = run_together(
            api_call(rep, "post", lead_url(lead, "convert"), {}),
            api_call(rep, "patch", lead_url(lead), {"job_title": "Buyer"}),
        )
        assert statuses == [201, 200]
        lead.refresh_from_db()
        assert lead.status == "converted"
        assert lead.converted_at is not None
        assert Deal.objects.filter(lead=lead).exists()
        assert lead.job_title == "Buyer"


def test_a_patch_racing_a_qualification_keeps_the_decision(rep):
    bant = {"budget": True, "authority": True, "need": True, "timeline": False}
    for _ in range(ROUNDS):
        lead = LeadFactory(owner=rep, status="lead")
        statuses = run_together(
            api_call(rep, "post", lead_url(lead, "qualify"), bant),
            api_call(rep, "patch", lead_url(lead), {"last_name": "Lovelace"}),
        )
        assert statuses == [200, 200]
        lead.refresh_from_db()
        decision = Qualification.objects.get(lead=lead)
        assert (lead.status, lead.score) == ("qualified", decision.score)
        assert lead.qualified_at is not None
        assert lead.last_name == "Lovelace"


def test_a_patch_racing_a_reassignment_keeps_the_new_owner(rep, other_rep, manager):
    for _ in range(ROUNDS):
        lead = LeadFactory(owner=rep)
        statuses = run_together(
            api_call(manager, "patch", lead_url(lead), {"owner": other_rep.pk}),
            api_call(rep, "patch", lead_url(lead), {"phone": "+33 1"}),
        )
        assert statuses == [200, 200]
        lead.refresh_from_db()
        assert (lead.owner_id, lead.phone) == (other_rep.pk, "+33 1")


def test_engagement_counters_are_exact_after_parallel_activities_and_patches(rep):
    # given a lead who already has some engagement
    lead = LeadFactory(owner=rep, status="lead", touch_count=2)
    calls = 6
    days = [
        datetime.datetime(2026, 3, day, 9, 0, tzinfo=datetime.UTC)
        for day in (2, 5, 3, 9, 4, 8)
    ]
    # when activities are logged while the lead is being edited
    statuses = run_together(
        *[
            api_call(
                rep,
                "post",
                "/api/v1/activities/",
                {"kind": "call", "lead": lead.pk, "occurred_at": day.isoformat()},
            )
            for day in days
        ],
        *[
            api_call(rep, "patch", lead_url(lead), {"job_title": f"Title {i}"})
            for i in range(3)
        ],
    )
    # then every increment is counted and the dates are the extremes
    assert statuses == [201] * calls + [200] * 3
    lead.refresh_from_db()
    assert lead.activity_count == calls
    assert lead.first_activity_at == min(days)
    assert lead.last_activity_at == max(days)
    assert lead.touch_count == 2


def test_touch_count_is_exact_after_parallel_captures_and_patches(rep):
    # Five captures stay under the capture throttle (the cache is cleared
    # between tests).
    offer = ContentOfferFactory()
    lead = LeadFactory(owner=rep, email="ada@analytical.example", touch_count=1)
    capture = {
        "offer": offer.slug,
        "first_name": "Ada",
        "email": "ada@analytical.example",
    }
    statuses = run_together(
        *[api_call(None, "post", "/api/v1/capture/", capture) for _ in range(5)],
        *[
            api_call(rep, "patch", lead_url(lead), {"job_title": f"Title {i}"})
            for i in range(3)
        ],
    )
    assert statuses == [201] * 5 + [200] * 3
    lead.refresh_from_db()
    assert lead.touch_count == 1 + 5
    assert Lead.objects.count() == 1


def test_two_runs_of_one_consent_email_job_at_once_send_it_once(rep, settings):
    # A duplicate job (a broker's redelivery, the sweep meeting a retry): the
    # second run waits for the first's lock, then finds its ConsentEmail row.
    from django.core import mail

    from leads.consent import confirmation_send
    from leads.models import ConsentAction, ConsentEmail, ConsentRecord

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    offer = ContentOfferFactory()
    for _round in range(ROUNDS):
        lead = LeadFactory(owner=rep)
        request = ConsentRecord.objects.create(
            lead=lead,
            action=ConsentAction.REQUESTED,
            recorded_at=datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC),
            offer=offer,
            text="You may contact me.",
        )
        mail.outbox = []

        sent = run_together(
            lambda pk=request.pk: confirmation_send(request_id=pk),
            lambda pk=request.pk: confirmation_send(request_id=pk),
        )

        assert sorted(sent) == [False, True]
        assert len(mail.outbox) == 1
        assert ConsentEmail.objects.filter(request=request).count() == 1
