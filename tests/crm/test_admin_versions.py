"""An admin change form never writes the values it showed over a newer save.

Two people open the same record; the second to save gets an error on the form
and nothing of theirs is written, instead of silently putting back every field
the first one changed.
"""

import pytest

from crm.versioning import record_update
from tests.factories import CompanyFactory, DealFactory, LeadFactory

pytestmark = pytest.mark.django_db


def submitted(response, **changes) -> dict:
    """Return the POST a browser sends for the change form, with ``changes``."""
    data = {}
    for bound in response.context["adminform"].form:
        value = bound.value()
        data[bound.html_name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for bound in management:
            data[bound.html_name] = bound.value()
    return {**data, **changes}


CASES = [
    ("crm/company", CompanyFactory, "name", "industry"),
    ("leads/lead", LeadFactory, "first_name", "job_title"),
    ("pipeline/deal", DealFactory, "title", "title"),  # the same field
]


@pytest.mark.parametrize(("path", "factory", "mine", "theirs"), CASES)
def test_a_save_made_from_an_older_version_is_refused(
    client, rep, path, factory, mine, theirs
):
    record = factory(owner=rep)
    client.force_login(rep)
    url = f"/admin/{path}/{record.pk}/change/"
    page = client.get(url)
    assert 'name="seen_version"' in page.content.decode()
    # given someone else saves the record after the page was opened
    record_update(record, changes={theirs: "Changed meanwhile"})

    # when this page is saved with its own change
    response = client.post(url, submitted(page, **{mine: "Mine"}))

    # then the form says so and the other save stands whole
    assert response.status_code == 200
    assert "changed since version" in response.content.decode()
    record.refresh_from_db()
    assert getattr(record, mine) != "Mine"
    assert getattr(record, theirs) == "Changed meanwhile"


@pytest.mark.parametrize(("path", "factory", "mine", "theirs"), CASES)
def test_a_save_from_the_current_version_goes_through(
    client, rep, path, factory, mine, theirs
):
    record = factory(owner=rep)
    client.force_login(rep)
    url = f"/admin/{path}/{record.pk}/change/"
    page = client.get(url)

    response = client.post(url, submitted(page, **{mine: "Mine"}))

    assert response.status_code == 302
    record.refresh_from_db()
    assert getattr(record, mine) == "Mine"
    assert record.version == 2
