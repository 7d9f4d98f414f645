"""factory_boy factories for every model; each test builds only what it asserts on."""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from crm.models import Company, Contact, Role, Subscription, Team, User
from leads import rollups as lead_rollups


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.REP
    is_staff = True
    password = factory.django.Password("pass-Word-1")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    manager = factory.SubFactory(UserFactory, role=Role.MANAGER)


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    industry = "Software"
    employees = 50
    country = "FR"
    owner = factory.SubFactory(UserFactory)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    company = factory.SubFactory(CompanyFactory)
    owner = factory.SelfAttribute("company.owner")


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    company = factory.SubFactory(CompanyFactory)
    plan = "Pro"
    mrr = Decimal("100.00")
    currency = "EUR"
    started_on = factory.LazyFunction(
        lambda: timezone.localdate() - datetime.timedelta(days=90)
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Through the service, so that the customer's MRR ledger is posted.
        from crm.services import subscription_start

        return subscription_start(by=kwargs.pop("by", None), **kwargs)


class ContentOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.ContentOffer"

    title = factory.Sequence(lambda n: f"Sales playbook {n}")
    kind = "ebook"
    slug = factory.Sequence(lambda n: f"offer-{n}")
    active = True


class LeadFactory(factory.django.DjangoModelFactory):
    """A lead (status ``lead``); pass ``status="prospect"`` for a prospect."""

    class Meta:
        model = "leads.Lead"

    status = "lead"
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.org")
    company_name = "Acme"
    channel = "inbound"
    source = "content_download"
    owner = factory.SubFactory(UserFactory)
    became_lead_at = factory.LazyAttribute(
        lambda lead: None if lead.status == "prospect" else timezone.now()
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        lead = super()._create(model_class, *args, **kwargs)
        # Counted in the new-lead and duration rollups, as the services count
        # a lead.
        lead_rollups.lead_moved(None, lead)
        return lead


class DealFactory(factory.django.DjangoModelFactory):
    """An open deal in prospection. Its history row is not created here: use
    the pipeline services when a test needs history."""

    class Meta:
        model = "pipeline.Deal"

    title = factory.Sequence(lambda n: f"Deal {n}")
    owner = factory.SubFactory(UserFactory)
    channel = "outbound"
    amount = Decimal("1000.00")
    currency = "EUR"
    stage = "prospection"
    status = "open"


class StageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pipeline.StageChange"

    deal = factory.SubFactory(DealFactory)
    from_stage = ""
    to_stage = "prospection"
    from_status = ""
    to_status = "open"
    changed_by = factory.SelfAttribute("deal.owner")
    changed_at = factory.LazyFunction(timezone.now)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pipeline.Activity"

    kind = "call"
    direction = "outbound"
    outcome = "connected"
    lead = factory.SubFactory(LeadFactory)
    owner = factory.SelfAttribute("lead.owner")
    occurred_at = factory.LazyFunction(timezone.now)
