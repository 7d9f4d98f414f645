"""The database itself enforces the rules, whatever interface writes."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from crm.models import Subscription
from tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_database_rejects_a_contact_email_differing_only_in_case():
    ContactFactory(email="jane@acme.example")

    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(email="JANE@Acme.Example")


def test_database_rejects_a_company_domain_differing_only_in_case():
    CompanyFactory(domain="acme.example")

    with pytest.raises(IntegrityError), transaction.atomic():
        CompanyFactory(domain="Acme.EXAMPLE")


def test_many_companies_without_domain_are_allowed():
    CompanyFactory(domain="")
    CompanyFactory(domain="")


def test_database_rejects_a_subscription_ending_before_it_starts():
    with pytest.raises(IntegrityError), transaction.atomic():
        # Written directly: the services refuse it before the database would.
        Subscription.objects.create(
            company=CompanyFactory(),
            plan="Pro",
            mrr=100,
            started_on=datetime.date(2026, 5, 1),
            ended_on=datetime.date(2026, 4, 30),
        )


def test_database_rejects_negative_mrr():
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.create(
            company=CompanyFactory(),
            plan="Pro",
            mrr=-1,
            started_on=datetime.date(2026, 5, 1),
        )
