"""A constraint the database enforced is a 400 on its field, not a 409 "retry"."""

import pytest
from django.db import IntegrityError
from drf_standardized_errors.handler import exception_handler

from tests.factories import CompanyFactory, SubscriptionFactory


@pytest.mark.parametrize(
    ("message", "attr", "detail"),
    [
        (
            'duplicate key value violates unique constraint "company_domain_unique_ci"',
            "domain",
            "A company with this domain already exists.",
        ),
        (
            "UNIQUE constraint failed: index 'contact_email_unique_ci'",
            "email",
            "A contact with this e-mail already exists.",
        ),
        (
            "CHECK constraint failed: subscription_ends_after_start",
            "non_field_errors",
            "A subscription cannot end before it starts.",
        ),
    ],
)
def test_a_constraint_caught_by_the_database_is_a_400_on_its_field(
    message, attr, detail
):
    # Two concurrent writes can both pass validation; the database's
    # constraint then decides, and a retry would fail the same way.
    response = exception_handler(IntegrityError(message), {"view": None})
    assert response.status_code == 400
    assert response.data["errors"][0]["attr"] == attr
    assert response.data["errors"][0]["detail"] == detail


def test_an_integrity_error_without_a_known_constraint_stays_a_409():
    response = exception_handler(
        IntegrityError("insert or update violates foreign key constraint"),
        {"view": None},
    )
    assert response.status_code == 409


@pytest.mark.django_db
def test_deleting_a_company_that_has_subscriptions_is_a_409_saying_why(api_as, rep):
    company = CompanyFactory(owner=rep)
    SubscriptionFactory(company=company)

    response = api_as(rep).delete(f"/api/v1/companies/{company.pk}/")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "protected"
    assert "1 subscription" in response.json()["errors"][0]["detail"]
