"""Every page carries a strict Content-Security-Policy (the browser test checks
that nothing on the pages violates it: tests/browser/)."""

import re

import pytest
from django.test import Client

from tests.factories import ContentOfferFactory

pytestmark = pytest.mark.django_db


def test_pages_carry_a_policy_without_unsafe_inline():
    ContentOfferFactory(slug="playbook")

    for path in ("/admin/login/", "/offers/playbook/", "/api/docs/"):
        policy = Client().get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy


def test_dashboard_charts_style_carries_the_pages_nonce(admin_user):
    client = Client()
    client.force_login(admin_user)

    response = client.get("/admin/metrics/dashboard/")

    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])[1]
    page = response.content.decode()
    assert page.count(f'<style nonce="{nonce}"') == 5  # one per chart
    assert "<script" not in page.split('<div class="kpi-charts">')[1]
