"""Every page carries a strict Content-Security-Policy (the browser test checks
that nothing on the pages violates it: tests/browser/)."""

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


def test_dashboard_charts_are_images_whose_style_stays_in_them(admin_user):
    client = Client()
    client.force_login(admin_user)

    page = client.get("/admin/metrics/dashboard/")
    chart = client.get("/admin/metrics/dashboard/chart/funnel.svg")

    # The page: no inline style or script, the charts are <img> of their own.
    assert "unsafe-inline" not in page["Content-Security-Policy"]
    html = page.content.decode()
    assert html.count('<img src="/admin/metrics/dashboard/chart/') == 5
    assert 'class="pygal-chart"' not in html
    # A chart: an SVG document without script, allowed its own <style> only.
    policy = chart["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy
    assert "script-src 'self'" in policy
    assert "<script" not in chart.content.decode()
