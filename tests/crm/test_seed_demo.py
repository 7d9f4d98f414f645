"""``seed_demo`` (run by ``make demo``) is deterministic and safe to run twice."""

import pytest
from django.apps import apps
from django.core.management import call_command

pytestmark = pytest.mark.django_db

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
