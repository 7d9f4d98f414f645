"""Every create answers where the new record lives (``Location``), as RFC 9110 says.

A client that created something can follow the header instead of building the
URL itself; an ``Idempotency-Key`` replay answers the same header.
"""

import pytest

from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

CREATES = [
    ("companies", lambda rep: {"name": "Initech"}),
    ("contacts", lambda rep: {"first_name": "Ann", "last_name": "Lee"}),
    (
        "leads",
        lambda rep: {
            "email": "ann@initech.example",
            "first_name": "Ann",
            "channel": "inbound",
            "source": "referral",
        },
    ),
    (
        "deals",
        lambda rep: {
            "title": "Rollout",
            "amount": "10.00",
            "currency": "EUR",
            "channel": "outbound",
        },
    ),
    (
        "activities",
        lambda rep: {"kind": "note", "lead": LeadFactory(owner=rep).pk},
    ),
]


@pytest.mark.parametrize(("resource", "payload"), CREATES)
def test_create_answers_the_new_records_location(api_as, rep, resource, payload):
    api = api_as(rep)

    response = api.post(f"/api/v1/{resource}/", payload(rep), format="json")

    assert response.status_code == 201, response.json()
    location = response["Location"]
    assert location == f"http://testserver/api/v1/{resource}/{response.json()['id']}/"
    followed = api.get(location)
    assert followed.status_code == 200
    assert followed["ETag"] == response["ETag"]


def test_a_new_webhook_answers_its_location(api_as, integration):
    api = api_as(integration)

    response = api.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example/crm", "events": ["deal.won"]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response["Location"].endswith(f"/api/v1/webhooks/{response.json()['id']}/")
    assert api.get(response["Location"]).status_code == 200


def test_a_replayed_create_answers_the_same_location(api_as, rep):
    api = api_as(rep)
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-initech-once"}

    first = api.post("/api/v1/companies/", {"name": "Initech"}, **headers)
    replay = api.post("/api/v1/companies/", {"name": "Initech"}, **headers)

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Location"] == first["Location"]
