"""OpenAPI examples of the core endpoints (the story of docs/api.md)."""

from drf_spectacular.utils import OpenApiExample

# The integrator's story of docs/api.md: the "integration" user gets a token,
# registers a webhook, and billing records the subscription of the customer won
# (company 46, Analytical Engines).
TOKEN_EXAMPLES = [
    OpenApiExample(
        "Integration user logs in",
        value={"username": "integration", "password": "demo-pass-2026"},
        request_only=True,
    ),
    OpenApiExample(
        "Token issued",
        value={
            "token": "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f7",
            "expiry": "2026-10-06T07:58:12.417305Z",
        },
        response_only=True,
    ),
]

SUBSCRIPTION_EXAMPLES = [
    OpenApiExample(
        "Customer starts a plan",
        value={
            "company": 46,
            "plan": "Growth annual",
            "mrr": "1000.00",
            "currency": "EUR",
            "started_on": "2026-12-01",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Subscription running",
        value={
            "id": 87,
            "company": 46,
            "plan": "Growth annual",
            "mrr": "1000.00",
            "currency": "EUR",
            "started_on": "2026-12-01",
            "ended_on": None,
            "churn_reason": "",
            "replaces": None,
            "version": 1,
        },
        response_only=True,
    ),
]

SUBSCRIPTION_END_EXAMPLES = [
    OpenApiExample(
        "Customer leaves",
        value={"ended_on": "2027-11-30", "reason": "Moved to an in-house tool"},
        request_only=True,
    ),
    OpenApiExample(
        "Subscription ended",
        value={
            "id": 87,
            "company": 46,
            "plan": "Growth annual",
            "mrr": "1000.00",
            "currency": "EUR",
            "started_on": "2026-12-01",
            "ended_on": "2027-11-30",
            "churn_reason": "Moved to an in-house tool",
            "replaces": None,
            "version": 2,
        },
        response_only=True,
    ),
]

SUBSCRIPTION_CHANGE_EXAMPLES = [
    OpenApiExample(
        "Customer upgrades",
        description="Backdated by a billing sync; default effective_on is today.",
        value={"plan": "Scale annual", "mrr": "1500.00", "effective_on": "2027-03-01"},
        request_only=True,
    ),
    OpenApiExample(
        "The successor with the new terms",
        value={
            "id": 88,
            "company": 46,
            "plan": "Scale annual",
            "mrr": "1500.00",
            "currency": "EUR",
            "started_on": "2027-03-01",
            "ended_on": None,
            "churn_reason": "",
            "replaces": 87,
            "version": 1,
        },
        response_only=True,
        status_codes=[201],
    ),
]

WEBHOOK_EXAMPLES = [
    OpenApiExample(
        "Follow the pipeline",
        description="Without ``secret``, one is generated and shown once, below.",
        value={
            "url": "https://crm-hooks.example.com/in",
            "events": ["deal.stage_changed", "deal.won"],
        },
        request_only=True,
    ),
    OpenApiExample(
        "Endpoint registered",
        value={
            "id": 1,
            "url": "https://crm-hooks.example.com/in",
            "events": ["deal.stage_changed", "deal.won"],
            "secret": "bd7519d93c0e4f6a8b2d1e7f5a9c3b6d"
            "0e8f2a4c6b1d3e5f7a9b0c2d4e6f8a1b",
            "active": True,
            "is_failing": False,
            "consecutive_failures": 0,
            "created_at": "2026-10-05T08:03:41.220914Z",
            "version": 1,
        },
        response_only=True,
        status_codes=[201],
    ),
]
