"""The production server as `make serve` runs it: gunicorn with DEBUG off.

One gunicorn process on a free port of 8100-8109, started from the shared
deploy/gunicorn.conf.py after a collectstatic into a temporary folder: the
probes answer plain HTTP although HTTPS is enforced, and static files are
served by WhiteNoise under hashed names, compressed and cached for good;
gunicorn's own log lines are JSON like the application's.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.serve

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(8100, 8110)
# The running server of each port, for the test reading its log.
PROCESSES: dict[int, subprocess.Popen] = {}


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 8100-8109")


def _get(port: int, path: str, **headers) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.body = response.read()
    connection.close()
    return response


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "test-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp / "static"),
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        "DJANGO_SETTINGS_MODULE": "crm.settings",
    }
    env.pop("CELERY_BROKER_URL", None)
    bin_dir = Path(sys.executable).parent
    # The CRM's own files only: hashing and compressing the admin's and the API
    # docs' (~40 MB) takes minutes and proves nothing more.
    ignored = ["-i", "admin", "-i", "rest_framework", "-i", "drf_spectacular_sidecar"]
    subprocess.run(  # noqa: S603 - fixed arguments, our own interpreter
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0", *ignored],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    process = subprocess.Popen(  # noqa: S603 - our own pinned gunicorn
        [bin_dir / "gunicorn", "-c", "deploy/gunicorn.conf.py", "crm.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(port, "/healthz")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(process.stderr.read().decode()[-2000:])
                time.sleep(0.3)
        PROCESSES[port] = process
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_health_answers_plain_http_while_https_is_enforced(server):
    health = _get(server, "/healthz")
    page = _get(server, "/pipeline/")

    assert (health.status, health.body) == (200, b'{"status": "ok"}')
    assert health.getheader("X-Request-ID")
    assert page.status == 301
    assert page.getheader("Location").startswith("https://")


def test_static_files_are_served_hashed_compressed_and_cached(server):
    https = {"X-Forwarded-Proto": "https"}
    favicon = _get(server, "/favicon.ico", **https)
    location = favicon.getheader("Location")

    static = _get(server, location, **https, **{"Accept-Encoding": "gzip"})

    assert favicon.status == 302
    assert location.startswith("/static/crm/favicon.")
    assert location != "/static/crm/favicon.svg"  # the name carries a hash
    assert static.status == 200
    assert static.getheader("Content-Encoding") == "gzip"
    assert "immutable" in static.getheader("Cache-Control")
    assert _get(server, "/static/crm/favicon.missing.svg", **https).status == 404


def test_gunicorns_own_lines_are_json_like_the_apps(server):
    _get(server, "/healthz")
    time.sleep(0.5)  # the request's line is written after the response
    stderr = PROCESSES[server].stderr
    os.set_blocking(stderr.fileno(), False)
    lines = (stderr.read() or b"").decode().splitlines()

    records = [json.loads(line) for line in lines]  # every line is JSON

    names = {record["name"] for record in records}
    assert {"gunicorn.error", "crm.requests"} <= names
    assert any(
        record["message"].startswith("Listening at")
        for record in records
        if record["name"] == "gunicorn.error"
    )
    assert all({"time", "level", "request_id"} <= set(record) for record in records)
