"""The cast every test can use: two reps and their manager in one team, a rep of
another team with their own manager, an integration user and an admin."""

from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from crm.models import Role
from tests.factories import TeamFactory, UserFactory

LOCALE = Path(__file__).resolve().parents[1] / "locale"


@pytest.fixture(autouse=True, scope="session")
def _compiled_translations():
    # `make test` compiles the catalogues first; a bare `pytest` gets them too,
    # so that the French pages are French and not silently English.
    for po in LOCALE.glob("*/LC_MESSAGES/django.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            call_command(
                "compilemessages",
                locale=[po.parts[-3]],
                ignore_patterns=[".venv", "node_modules", "staticfiles"],
                verbosity=0,
            )


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; one test must not throttle the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Uploaded files (imports) go to the test's own folder, not the checkout.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs a second per user created; tests need
    # no protection against brute force.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=Role.MANAGER)


@pytest.fixture
def team(manager):
    return TeamFactory(name="North", manager=manager)


@pytest.fixture
def rep(team):
    return UserFactory(username="rep", team=team)


@pytest.fixture
def other_rep(team):
    """A second rep of the same team."""
    return UserFactory(username="other_rep", team=team)


@pytest.fixture
def foreign_rep(db):
    """A rep of another team, with another manager."""
    other_team = TeamFactory(
        name="South", manager=UserFactory(username="south_manager", role=Role.MANAGER)
    )
    return UserFactory(username="foreign_rep", team=other_team)


@pytest.fixture
def integration(db):
    return UserFactory(username="integration", role=Role.INTEGRATION, is_staff=False)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_superuser=True, role=Role.MANAGER)


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api_as():
    """Return an API client authenticated as the given user: ``api_as(rep)``."""
    return _client_for


@pytest.fixture
def anon_api():
    return APIClient()
