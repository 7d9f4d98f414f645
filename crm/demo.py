"""Demo data of the core app: people, teams, companies, contacts, subscriptions."""

from __future__ import annotations

import datetime
from decimal import Decimal

from tqdm import tqdm

from crm.demo_context import DEMO_PASSWORD, DemoContext
from crm.models import Company, Contact, Role, Subscription, Team, User
from crm.mrr_ledger import customer_ledger_rebuild, mrr_ledger_rebuild

TEAMS = {
    # team: (manager, reps, receives inbound leads)
    "North": ("maria", ["alice", "bob", "chloe"], True),
    "South": ("marc", ["david", "emma", "farid"], False),
}
INDUSTRIES = [
    "Software",
    "Retail",
    "Manufacturing",
    "Healthcare",
    "Finance",
    "Logistics",
]
PLANS = [
    ("Starter", Decimal("49.00")),
    ("Team", Decimal("199.00")),
    ("Business", Decimal("499.00")),
    ("Enterprise", Decimal("1490.00")),
]


def _user(username: str, role: str, **extra) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "role": role,
            "first_name": username.capitalize(),
            "last_name": "Demo",
            "email": f"{username}@demo.example",
            "is_staff": role != Role.INTEGRATION,
            **extra,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def seed(ctx: DemoContext) -> str:
    """Create the demo cast and address book once; later runs change nothing."""
    _user("admin", Role.MANAGER, is_superuser=True)
    _user("integration", Role.INTEGRATION)
    for name, (manager_name, rep_names, inbound) in TEAMS.items():
        manager = _user(manager_name, Role.MANAGER)
        team, _ = Team.objects.get_or_create(
            name=name, defaults={"manager": manager, "handles_inbound": inbound}
        )
        for rep_name in rep_names:
            _user(rep_name, Role.REP, team=team)

    if Company.objects.exists():
        return "already seeded"
    reps = list(User.objects.filter(role=Role.REP).order_by("username"))
    companies = _companies(ctx, reps)
    contacts = _contacts(ctx, companies)
    subscriptions = _subscriptions(ctx, companies)
    return (
        f"{len(reps)} reps, {len(companies)} companies, {contacts} contacts, "
        f"{subscriptions} subscriptions"
    )


def _companies(ctx: DemoContext, reps: list[User]) -> list[Company]:
    count = 40 * ctx.size
    rows = []
    for i in tqdm(range(count), desc="companies", disable=ctx.quiet or count < 1000):
        name = ctx.fake.unique.company()
        rows.append(
            Company(
                name=name,
                domain=f"{ctx.fake.unique.domain_word()}-{i}.example",
                industry=ctx.rng.choice(INDUSTRIES),
                employees=ctx.rng.choice([8, 25, 60, 150, 400, 1200]),
                country=ctx.rng.choice(["FR", "DE", "ES", "PT", "BR", "US"]),
                owner=ctx.rng.choice(reps),
            )
        )
    return Company.objects.bulk_create(rows, batch_size=1000)


def _contacts(ctx: DemoContext, companies: list[Company]) -> int:
    rows = []
    for company in companies:
        for n in range(2):
            first, last = ctx.fake.first_name(), ctx.fake.last_name()
            rows.append(
                Contact(
                    first_name=first,
                    last_name=last,
                    email=f"{first}.{last}.{company.pk}.{n}@{company.domain}".lower(),
                    phone=ctx.fake.phone_number()[:40],
                    job_title=ctx.rng.choice(
                        ["CEO", "CTO", "Head of Sales", "Buyer", "COO"]
                    ),
                    company=company,
                    owner=company.owner,
                )
            )
    Contact.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _subscriptions(ctx: DemoContext, companies: list[Company]) -> int:
    """Twelve months and more of subscriptions, about a fifth of them churned."""
    rows = []
    for company in companies:
        if ctx.rng.random() > 0.7:
            continue
        plan, mrr = ctx.rng.choice(PLANS)
        started = ctx.today - datetime.timedelta(days=ctx.rng.randint(30, 480))
        ended = None
        reason = ""
        if ctx.rng.random() < 0.22:
            ended = started + datetime.timedelta(
                days=ctx.rng.randint(20, (ctx.today - started).days)
            )
            reason = ctx.rng.choice(
                [
                    "Too expensive",
                    "Switched to a competitor",
                    "Company closed",
                    "Missing features",
                ]
            )
        rows.append(
            Subscription(
                company=company,
                plan=plan,
                mrr=mrr,
                currency="EUR",
                started_on=started,
                ended_on=ended,
                churn_reason=reason,
            )
        )
    Subscription.objects.bulk_create(rows, batch_size=1000)
    # Written in bulk around the services: post their MRR movements at once.
    for rebuild in (mrr_ledger_rebuild, customer_ledger_rebuild):
        rebuild(companies=[company.pk for company in companies])
    return len(rows)
