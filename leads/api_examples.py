"""OpenAPI examples of the leads endpoints (the story of docs/api.md)."""

from drf_spectacular.utils import OpenApiExample

# The story of docs/api.md: Ada Lovelace, CTO of Analytical Engines, downloads
# the sales playbook (lead 301, owned by rep 7), is qualified and converted.
# Charles Babbage, met at an event, is disqualified: Ada decides.
CAPTURE_EXAMPLES = [
    OpenApiExample(
        "Visitor downloads the playbook",
        value={
            "offer": "sales-playbook",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@analytical.example",
            "company": "Analytical Engines",
            "job_title": "CTO",
            "consent": True,
        },
        request_only=True,
    ),
    OpenApiExample(
        "Content delivered",
        value={
            "offer": "sales-playbook",
            "content_url": "https://www.demo.example/content/sales-playbook",
        },
        response_only=True,
        status_codes=[201],
    ),
]

_CHARLES = {
    "first_name": "Charles",
    "last_name": "Babbage",
    "email": "charles@analytical.example",
    "phone": "+44 20 7946 0018",
    "job_title": "CFO",
    "company_name": "Analytical Engines",
    "channel": "outbound",
    "source": "event",
    "offer": None,
    "owner": 7,
    "consent": False,
}

LEAD_CREATE_EXAMPLES = [
    OpenApiExample(
        "Rep adds a lead met at an event",
        value={"status": "lead", **_CHARLES},
        request_only=True,
    ),
    OpenApiExample(
        "Lead created",
        value={
            "id": 302,
            "status": "lead",
            **_CHARLES,
            "score": None,
            "deal": None,
            "became_lead_at": "2026-10-06T15:40:02.118734Z",
            "qualified_at": None,
            "disqualified_at": None,
            "converted_at": None,
            "created_at": "2026-10-06T15:40:02.118734Z",
            "updated_at": "2026-10-06T15:40:02.118734Z",
            "version": 1,
        },
        response_only=True,
        status_codes=[201],
    ),
]

# No "status" in the responses below: the schema's Lead.status lists only the
# statuses a client may create (prospect, lead), although these answers carry
# "qualified" and "disqualified"; the serializer's schema is to be corrected.
QUALIFY_EXAMPLES = [
    OpenApiExample(
        "Three of the four criteria met",
        value={
            "budget": True,
            "authority": True,
            "need": True,
            "timeline": False,
            "notes": "Budget approved for Q1",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Lead qualified",
        description="Score 65: three criteria (3 x 20) and one download (5).",
        value={
            "id": 301,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@analytical.example",
            "phone": "",
            "job_title": "CTO",
            "company_name": "Analytical Engines",
            "channel": "inbound",
            "source": "content_download",
            "offer": 3,
            "owner": 7,
            "score": 65,
            "deal": None,
            "consent": True,
            "became_lead_at": "2026-10-05T09:14:27.503118Z",
            "qualified_at": "2026-10-07T10:02:51.884210Z",
            "disqualified_at": None,
            "converted_at": None,
            "created_at": "2026-10-05T09:14:27.503118Z",
            "updated_at": "2026-10-07T10:02:51.884210Z",
            "version": 2,
        },
        response_only=True,
    ),
]

DISQUALIFY_EXAMPLES = [
    OpenApiExample(
        "Not the decision maker",
        value={"reason": "no_authority", "notes": "Ada Lovelace decides; see lead 301"},
        request_only=True,
    ),
    OpenApiExample(
        "Lead disqualified",
        description="Score 0: no criterion is met and there was no engagement.",
        value={
            "id": 302,
            **_CHARLES,
            "score": 0,
            "deal": None,
            "became_lead_at": "2026-10-06T15:40:02.118734Z",
            "qualified_at": None,
            "disqualified_at": "2026-10-07T10:05:13.290551Z",
            "converted_at": None,
            "created_at": "2026-10-06T15:40:02.118734Z",
            "updated_at": "2026-10-07T10:05:13.290551Z",
            "version": 2,
        },
        response_only=True,
    ),
]
