"""The load test's database: the benchmark's synthetic CRM, and who logs in.

Runs with Django set up on the load test's own database. The data is the
benchmark's (``bench.generate``) at the scale asked for; a database left by an
earlier run at the same scale and seed is reused (generating a million leads
takes minutes). The fixture handed to locust holds API tokens (knox) and
session keys, so the simulated users never go through the login page (whose
lockouts would count their logins), plus the ids they work on.
"""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from django.db import connection
from django.utils.module_loading import import_string
from knox.models import AuthToken

from bench.generate import SEED, Dataset, generate, last_full_quarter
from crm.models import Role, User
from leads.models import ContentOffer, Lead
from pipeline.models import STAGE_ORDER, Deal, DealStatus

MARKER_TABLE = "loadtest_dataset"
FIXTURE_REPS = 60
DEALS_PER_REP = 200
LEADS_PER_REP = 200


def _generated(scale: float, seed: int) -> dict | None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (facts jsonb)")
        cursor.execute(f"SELECT facts FROM {MARKER_TABLE}")  # noqa: S608  # nosec B608 - own name
        row = cursor.fetchone()
    if row is None:
        return None
    facts = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    return facts if (facts["scale"], facts["seed"]) == (scale, seed) else None


def dataset_facts(*, scale: float, seed: int = SEED, say=print) -> dict:
    """Migrate, generate the data unless there already, return its facts."""
    call_command("migrate", verbosity=0, interactive=False)
    facts = _generated(scale, seed)
    if facts is not None:
        say(f"Reusing the generated data (scale {scale:g}, seed {seed}).")
        return facts
    if Lead.objects.exists():
        raise SystemExit(
            "The load test database holds other data: drop it (--fresh) first."
        )
    dataset: Dataset = generate(scale=scale, seed=seed, progress=True)
    facts = {
        "scale": scale,
        "seed": seed,
        "anchor": dataset.anchor.isoformat(),
        "team_ids": dataset.team_ids,
        "manager_ids": dataset.manager_ids,
        "rep_ids": dataset.rep_ids,
        "integration_id": dataset.integration_id,
        "email_prefix": dataset.email_prefix,
        "rows": dataset.rows,
        "generation_seconds": round(dataset.total_seconds, 1),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MARKER_TABLE} (facts) VALUES (%s)",  # noqa: S608  # nosec B608
            [json.dumps(facts)],
        )
    # Fresh statistics, as a database that has lived would have.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return facts


def _session_for(user: User) -> str:
    """Return the key of a logged-in session, as ``login`` would store it."""
    from django.conf import settings

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    # The first backend that can load a user (axes' only checks logins).
    store[BACKEND_SESSION_KEY] = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if hasattr(import_string(path), "get_user")
    )
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.set_expiry(datetime.timedelta(hours=12))
    store.create()
    return store.session_key


def _month_start(day: datetime.date, months_back: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months_back
    return day.replace(year=index // 12, month=index % 12 + 1, day=1)


def write_fixture(facts: dict, path: Path) -> dict:
    """Create the tokens and sessions; write what locust needs to ``path``."""
    rng = random.Random(facts["seed"])  # noqa: S311 - test data, not secrets
    # Managers read the dashboard, an admin page: staff, as a real team's are.
    User.objects.filter(pk__in=facts["manager_ids"]).update(is_staff=True)
    users = User.objects.in_bulk(
        [
            *facts["rep_ids"][:FIXTURE_REPS],
            *facts["manager_ids"],
            facts["integration_id"],
        ]
    )
    reps = []
    for pk in facts["rep_ids"][:FIXTURE_REPS]:
        user = users[pk]
        deals = list(
            Deal.objects.filter(owner=user, status=DealStatus.OPEN)
            .order_by("pk")
            .values_list("pk", "stage")[:DEALS_PER_REP]
        )
        leads = list(
            Lead.objects.filter(owner=user)
            .order_by("pk")
            .values_list("pk", flat=True)[:LEADS_PER_REP]
        )
        if not leads:
            continue
        reps.append(
            {
                "id": pk,
                "token": AuthToken.objects.create(user)[1],
                "session": _session_for(user),
                "deals": deals,
                "leads": leads,
            }
        )
    managers = [
        {
            "id": pk,
            "team": team,
            "token": AuthToken.objects.create(users[pk])[1],
            "session": _session_for(users[pk]),
        }
        for pk, team in zip(facts["manager_ids"], facts["team_ids"], strict=True)
        if users[pk].role == Role.MANAGER
    ]
    last_names = list(
        Lead.objects.order_by("pk").values_list("last_name", flat=True)[:500]
    )
    anchor = datetime.datetime.fromisoformat(facts["anchor"]).date()
    start, end = last_full_quarter(anchor)
    this_month = anchor.replace(day=1)
    fixture = {
        "reps": reps,
        "managers": managers,
        "integration": {
            "token": AuthToken.objects.create(users[facts["integration_id"]])[1]
        },
        "offers": list(ContentOffer.objects.values_list("slug", flat=True)[:20]),
        "email_prefix": facts["email_prefix"],
        "stages": [stage.value for stage in STAGE_ORDER],
        "search_terms": sorted(set(rng.sample(last_names, min(50, len(last_names))))),
        "quarter": {"start": str(start), "end": str(end)},
        "churn": {
            "start": str(_month_start(this_month, 12)),
            "end": str(this_month - datetime.timedelta(days=1)),
        },
    }
    path.write_text(json.dumps(fixture))
    return fixture
