"""``seed_demo`` (run by ``make demo``) is deterministic and safe to run twice."""

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from crm.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    # seed_demo is a development tool (pytest-django runs with DEBUG off).
    settings.DEBUG = True


def test_seed_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("seed_demo", verbosity=0)

    assert not User.objects.exists()  # no admin with the published password


PROJECT_APPS = ("crm", "leads", "pipeline", "metrics")


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app in PROJECT_APPS
        for model in apps.get_app_config(app).get_models()
    }


def test_seed_demo_twice_does_not_duplicate_anything():
    call_command("seed_demo", verbosity=0)
    first = _counts()

    call_command("seed_demo", verbosity=0)

    assert _counts() == first
    assert first["crm.User"] >= 8
    assert first["crm.Subscription"] > 0
    assert first["crm.Team"] == 2


def test_seed_demo_prints_the_logins(capsys):
    call_command("seed_demo")

    out = capsys.readouterr().out
    assert "alice" in out
    assert "maria" in out
    assert "demo only" in out
