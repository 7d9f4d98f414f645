"""KPI targets: constraints, who sets them (API and admin), who reads them."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError

from metrics.models import KpiTarget, period_end

pytestmark = pytest.mark.django_db

TARGETS = "/api/v1/metrics/targets/"


def _payload(**extra):
    return {
        "kpi": "new_leads",
        "period_kind": "quarter",
        "period_start": "2026-01-01",
        "value": "40",
        **extra,
    }


def test_period_end_of_a_month_and_a_quarter():
    assert period_end("month", datetime.date(2026, 2, 1)) == datetime.date(2026, 2, 28)
    assert period_end("quarter", datetime.date(2026, 10, 1)) == datetime.date(
        2026, 12, 31
    )


def test_database_refuses_a_team_and_a_rep_together(rep, team):
    with pytest.raises(IntegrityError):
        KpiTarget.objects.create(
            kpi="new_leads", period_kind="month",
            period_start=datetime.date(2026, 1, 1),
            team=team, owner=rep, value=Decimal(1),
        )  # fmt: skip


def test_database_refuses_a_mid_month_start(rep):
    with pytest.raises(IntegrityError):
        KpiTarget.objects.create(
            kpi="new_leads", period_kind="month",
            period_start=datetime.date(2026, 1, 2),
            owner=rep, value=Decimal(1),
        )  # fmt: skip


def test_database_refuses_two_organisation_targets_for_one_period(db):
    start = datetime.date(2026, 4, 1)
    KpiTarget.objects.create(
        kpi="win_rate", period_kind="quarter", period_start=start, value=Decimal("0.3")
    )
    with pytest.raises(IntegrityError):
        KpiTarget.objects.create(
            kpi="win_rate", period_kind="quarter", period_start=start, value=Decimal(1)
        )


def test_manager_sets_targets_for_their_team_and_reps(manager, team, rep, api_as):
    client = api_as(manager)

    for_team = client.post(TARGETS, _payload(team=team.pk))
    for_rep = client.post(TARGETS, _payload(owner=rep.pk, kpi="win_rate", value="0.3"))

    assert for_team.status_code == 201, for_team.json()
    assert for_rep.status_code == 201, for_rep.json()
    assert for_rep.json()["period_end"] == "2026-03-31"


def test_manager_cannot_set_another_teams_or_the_organisations(
    manager, foreign_rep, api_as
):
    client = api_as(manager)

    assert client.post(TARGETS, _payload(owner=foreign_rep.pk)).status_code == 400
    assert client.post(TARGETS, _payload(team=foreign_rep.team_id)).status_code == 400
    assert client.post(TARGETS, _payload()).status_code == 400


def test_admin_sets_an_organisation_target(admin_user, api_as):
    response = api_as(admin_user).post(TARGETS, _payload())

    assert response.status_code == 201


def test_invalid_targets_are_400_per_field(admin_user, rep, api_as):
    client = api_as(admin_user)

    mid_quarter = client.post(TARGETS, _payload(period_start="2026-02-01"))
    money_without_currency = client.post(TARGETS, _payload(kpi="revenue_won"))
    client.post(TARGETS, _payload(owner=rep.pk))
    duplicate = client.post(TARGETS, _payload(owner=rep.pk))

    assert mid_quarter.status_code == 400
    assert mid_quarter.json()["errors"][0]["attr"] == "period_start"
    assert money_without_currency.json()["errors"][0]["attr"] == "currency"
    assert duplicate.status_code == 400


def test_rep_reads_own_targets_and_cannot_write(rep, other_rep, team, api_as):
    mine = KpiTarget.objects.create(
        kpi="new_leads", period_kind="quarter", period_start=datetime.date(2026, 1, 1),
        owner=rep, value=Decimal(10),
    )  # fmt: skip
    KpiTarget.objects.create(
        kpi="new_leads", period_kind="quarter", period_start=datetime.date(2026, 1, 1),
        owner=other_rep, value=Decimal(10),
    )  # fmt: skip
    client = api_as(rep)

    listed = client.get(TARGETS).json()["results"]
    created = client.post(TARGETS, _payload(owner=rep.pk))
    changed = client.patch(f"{TARGETS}{mine.pk}/", {"value": "99"})

    assert [t["id"] for t in listed] == [mine.pk]
    assert created.status_code == 403
    assert changed.status_code == 403


def test_targets_list_query_count(
    manager, team, rep, api_as, django_assert_max_num_queries
):
    for month in (1, 2, 3):
        KpiTarget.objects.create(
            kpi="new_leads", period_kind="month",
            period_start=datetime.date(2026, month, 1), owner=rep, value=Decimal(5),
        )  # fmt: skip

    # Queries: count 1, page of targets with team and owner joined 1.
    with django_assert_max_num_queries(2):
        response = api_as(manager).get(TARGETS)

    assert response.json()["count"] == 3


def test_manager_edits_a_target_in_the_admin(manager, team, rep, client):
    client.force_login(manager)
    target = KpiTarget.objects.create(
        kpi="new_leads", period_kind="quarter", period_start=datetime.date(2026, 1, 1),
        owner=rep, value=Decimal(10),
    )  # fmt: skip

    page = client.get(f"/admin/metrics/kpitarget/{target.pk}/change/")
    saved = client.post(
        f"/admin/metrics/kpitarget/{target.pk}/change/",
        {
            "kpi": "new_leads", "period_kind": "quarter", "period_start": "2026-01-01",
            "team": "", "owner": rep.pk, "value": "12", "currency": "",
        },
    )  # fmt: skip

    assert page.status_code == 200
    assert saved.status_code == 302
    target.refresh_from_db()
    assert target.value == Decimal(12)
