"""Real-browser tests: Debian's Chromium driven by Playwright against a live server.

Playwright's own browser download cannot work on these machines, so the system
Chromium is launched by path. Without it the tests are skipped, with the reason.
Screenshots go to ``tests/screenshots/`` (ignored by git) for a person to look at.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.servers.basehttp import WSGIServer
from django.test.testcases import LiveServerThread

# Playwright's sync API runs an event loop in this thread; Django would then
# refuse ORM calls from the test body, which is synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or ""
# CRM_SCREENSHOTS puts them elsewhere (outside the repository, to look at them).
SCREENSHOTS = Path(
    os.environ.get("CRM_SCREENSHOTS")
    or Path(__file__).resolve().parents[1] / "screenshots"
)
# The flags a sandboxed, offline CI machine needs (no GPU, no background calls).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class OneRequestAtATime(WSGIServer):
    """The live server's HTTP server on SQLite: one request at a time.

    On in-memory SQLite every request thread of Django's threaded live server
    shares the test's one connection; a page whose charts load in parallel then
    hangs inside SQLite. Serial requests are what one shared connection allows
    (the server then answers ``Connection: close``, so no request waits on
    another's kept-alive socket). PostgreSQL keeps the threaded server.
    """

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)


if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    LiveServerThread.server_class = OneRequestAtATime

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - requirements-dev.txt installs it
    sync_playwright = None


def pytest_collection_modifyitems(items):
    reason = None
    if sync_playwright is None:
        reason = "Playwright for Python is not installed"
    elif not CHROMIUM:
        reason = "no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)"
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server, request):
    """A fresh page on the live server; console errors are collected and checked."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda message: (
            message.type == "error" and page.console_errors.append(message.text)
        ),
    )
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    # Name the failing resource: the console only says "Failed to load resource".
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and page.console_errors.append(f"{response.status} {response.url}")
        ),
    )
    yield page
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=True)
    context.close()


def sign_in(page, username: str, password: str = "pass-Word-1") -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/admin/login/?next=/pipeline/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
