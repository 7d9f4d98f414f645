"""The KPI registry defines each KPI once; the report, the targets and the docs
read it."""

import dataclasses
import re
import typing
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from metrics.kpis import deal_kpis
from metrics.kpis.registry import (
    KPIS,
    MONEY,
    Better,
    Currencies,
    Kpi,
    markdown_table,
)
from metrics.models import KpiTarget
from tests.metrics.datasets import Q1, build_customers

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
KPIS_URL = "/api/v1/metrics/kpis/"


def test_docs_table_is_the_registry():
    text = DOCS.read_text()
    table = re.search(
        r"<!-- kpi-registry:start -->\n(.*)\n<!-- kpi-registry:end -->", text, re.S
    )

    assert table is not None
    assert table.group(1) == markdown_table(), (
        "docs/metrics.md is behind metrics/kpis/registry.py; paste this table "
        f"between its kpi-registry markers:\n{markdown_table()}"
    )


@pytest.mark.parametrize("kpi", KPIS, ids=lambda kpi: kpi.key)
def test_each_kpi_reads_a_field_of_its_family(kpi):
    result_type = typing.get_type_hints(kpi.family)["return"]

    assert kpi.field in {field.name for field in dataclasses.fields(result_type)}


@pytest.mark.django_db
def test_money_targets_name_a_currency_and_others_do_not(rep):
    common = {"period_kind": "quarter", "period_start": Q1.start, "owner": rep}

    with pytest.raises(ValidationError, match="needs a currency"):
        KpiTarget(kpi="revenue_won", value=Decimal(1), **common).clean()
    with pytest.raises(ValidationError, match="Only money KPIs"):
        KpiTarget(kpi="win_rate", value=Decimal(1), currency="EUR", **common).clean()


@pytest.mark.django_db
def test_a_lower_is_better_rate_target_is_judged_within_or_not(
    rep, foreign_rep, manager, api_as
):
    # given: the rep's customers, all in EUR, and a gross MRR churn target
    build_customers(rep, foreign_rep)
    KpiTarget.objects.create(
        kpi="gross_mrr_churn_rate", period_kind="quarter", period_start=Q1.start,
        owner=rep, value=Decimal("0.5"),
    )  # fmt: skip

    # when
    body = (
        api_as(manager)
        .get(KPIS_URL, {"start": "2026-01-01", "end": "2026-03-31", "owner": rep.pk})
        .json()
    )

    # then: (churned 380 + contraction 70) / started 500 = 0.9, above the 0.5
    # target where lower is better: not within target. No attainment: a
    # ratio of 180% (the old figure) read as over-achievement.
    item = next(i for i in body["kpis"] if i["key"] == "gross_mrr_churn_rate")
    assert item["better"] == "lower"
    assert item["value"] == "0.9000"
    assert item["attainment"] is None
    assert item["within_target"] is False


def test_a_money_kpi_must_be_summed_or_per_currency():
    with pytest.raises(ValueError, match="money is summed or per currency"):
        Kpi(
            key="lifetime_value",
            label="Lifetime value",
            unit=MONEY,
            better=Better.HIGHER,
            currencies=Currencies.NONE,
            family=deal_kpis,
            field="revenue_won",
        )
