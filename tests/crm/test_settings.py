"""The settings refuse an unsafe production start and pass Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    # The browser tests allow async-unsafe ORM calls; a deploy must not inherit it.
    unset = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "crm.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _run(["-c", "import django; django.setup()"], DEBUG="false")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_starts_without_secret_key_in_debug():
    result = _run(["-c", "import django; django.setup()"], DEBUG="true")

    assert result.returncode == 0, result.stderr


def test_deploy_checks_pass_with_production_like_variables():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="false",
        SECRET_KEY="a-long-random-production-key-" + "x7Kq9!vB2@pL4#zR8$wT6%nY3^" * 2,
        ALLOWED_HOSTS="crm.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_proxies_are_trusted_only_as_configured():
    show = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    default = _run(["-c", show], DEBUG="true")
    configured = _run(
        ["-c", show],
        DEBUG="true",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        TRUSTED_PROXY_COUNT="1",
    )

    assert default.stdout.split() == ["None", "0"], default.stderr
    assert configured.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') 1"


def test_database_url_options_are_kept_and_production_has_a_statement_timeout():
    show = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['OPTIONS'])"
    )
    url = "postgres://u@db.example:5432/crm?options=-c%20lock_timeout%3D2000"
    secret = "a-long-random-production-key-" + "x7Kq9!vB2@pL4#zR8$wT6%nY3^" * 2

    production = _run(["-c", show], DEBUG="false", SECRET_KEY=secret, DATABASE_URL=url)
    development = _run(["-c", show], DEBUG="true", DATABASE_URL=url)

    assert production.stdout.strip() == (
        "{'options': '-c jit=off -c statement_timeout=30000 -c lock_timeout=2000'}"
    ), production.stderr
    assert (
        development.stdout.strip() == "{'options': '-c jit=off -c lock_timeout=2000'}"
    )
