"""KPI targets in the admin read in the KPI's unit and the reader's language:
money with its currency, rates as percentages, counts whole, durations in a
natural unit; the value is typed as the reader writes numbers."""

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from metrics.models import KpiTarget

pytestmark = pytest.mark.django_db

NNBSP = "\u202f"
NBSP = "\xa0"
NOV = datetime.date(2025, 11, 1)
Q4 = datetime.date(2025, 10, 1)
CHANGELIST = "/admin/metrics/kpitarget/"


def _client(user, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def _target(kpi: str, value: str, currency: str = "", kind="month", start=NOV):
    return KpiTarget.objects.create(
        kpi=kpi,
        period_kind=kind,
        period_start=start,
        value=Decimal(value),
        currency=currency,
    )


@pytest.mark.parametrize(
    ("language", "month", "quarter"),
    [
        ("en", "New leads, November 2025 (organisation)", "Win rate, Q4 2025 (North)"),
        (
            "fr",
            "Nouveaux leads, novembre 2025 (organisation)",
            "Taux de réussite, T4 2025 (North)",
        ),
    ],
)
def test_a_target_is_named_by_kpi_month_or_quarter_and_scope(
    team, language, month, quarter
):
    monthly = KpiTarget(kpi="new_leads", period_kind="month", period_start=NOV)
    quarterly = KpiTarget(
        kpi="win_rate", period_kind="quarter", period_start=Q4, team=team
    )
    with translation.override(language):
        assert str(monthly) == month
        assert str(quarterly) == quarter


@pytest.mark.parametrize(
    ("language", "figures"),
    [
        ("en", ["€8,000.00", "25.0%", "40", "36 hours", "30 days"]),
        (
            "fr",
            [
                f"8{NNBSP}000,00{NBSP}€",
                f"25,0{NBSP}%",
                "40",
                f"36{NBSP}heures",
                f"30{NBSP}jours",
            ],
        ),
    ],
)
def test_the_list_shows_each_target_in_its_kpis_unit(admin_user, language, figures):
    _target("revenue_won", "8000", "EUR")
    _target("win_rate", "0.25")
    _target("new_leads", "40")
    _target("median_hours_to_qualify", "36")  # 36 h < 48 h: in hours
    _target("average_sales_cycle_days", "30")  # in days

    page = _client(admin_user, language).get(CHANGELIST).content.decode()

    for figure in figures:
        assert f'<td class="field-target">{figure}</td>' in page


@pytest.mark.parametrize(
    ("language", "shown", "typed", "stored"),
    [
        ("fr", "0,25", "0,3", Decimal("0.3")),
        ("en", "0.25", "0.3", Decimal("0.3")),
    ],
)
def test_the_value_is_shown_without_idle_decimals_and_typed_in_the_readers_way(
    admin_user, language, shown, typed, stored
):
    target = _target("win_rate", "0.25")
    client = _client(admin_user, language)
    url = f"{CHANGELIST}{target.pk}/change/"

    form = client.get(url).context["adminform"].form
    saved = client.post(
        url,
        {
            "kpi": "win_rate",
            "period_kind": "month",
            "period_start": form["period_start"].value(),
            "team": "",
            "owner": "",
            "value": typed,
            "currency": "",
        },
    )

    assert form["value"].value() == shown  # stored as 0.2500
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    target.refresh_from_db()
    assert target.value == stored


def test_a_rate_above_one_is_refused_in_the_readers_language(admin_user):
    response = _client(admin_user, "fr").post(
        f"{CHANGELIST}add/",
        {
            "kpi": "win_rate",
            "period_kind": "month",
            "period_start": "01/11/2025",
            "team": "",
            "owner": "",
            "value": "1,5",
            "currency": "",
        },
    )

    assert response.context["adminform"].form.errors["value"] == [
        f"Un objectif de taux est une fraction de 0 à 1 (0,25 pour 25{NBSP}%), pas 1,5."
    ]
