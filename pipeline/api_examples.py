"""OpenAPI examples of the pipeline's endpoints (the story of docs/api.md)."""

from drf_spectacular.utils import OpenApiExample

# The story of docs/api.md: Ada Lovelace's lead (301) converts into deal 156 of
# Analytical Engines (company 46, contact 86), owned by rep 7; it moves to
# closing and is won (or lost, then reopened).
_DEAL_156 = {
    "id": 156,
    "title": "Analytical Engines deal",
    "owner": 7,
    "company": 46,
    "contact": 86,
    "lead": 301,
    "channel": "inbound",
    "amount": "12000.00",
    "currency": "EUR",
    "probability": None,
    "expected_close_on": "2027-01-31",
    "stage": "presentation",
    "status": "open",
    "lost_reason": "",
    "closed_at": None,
    "stage_entered_at": "2026-10-07T10:09:30.412907Z",
    "is_stale": False,
    "version": 1,
    "created_at": "2026-10-07T10:09:30.412907Z",
    "updated_at": "2026-10-07T10:09:30.412907Z",
}
_IN_CLOSING = {
    **_DEAL_156,
    "stage": "closing",
    "stage_entered_at": "2026-11-10T14:31:07.065318Z",
    "version": 2,
    "updated_at": "2026-11-10T14:31:07.065318Z",
}
_CLOSED_AT = "2026-11-27T12:22:15.884133Z"
_LOST = {
    **_IN_CLOSING,
    "status": "lost",
    "lost_reason": "competitor",
    "closed_at": _CLOSED_AT,
    "version": 3,
    "updated_at": _CLOSED_AT,
}


def _deal_examples(
    request: dict | None, summary: str, version: int, response: dict
) -> list:
    """Return the request and 200 examples of a deal action sent with If-Match."""
    sent_with = f'Sent with the header If-Match: "{version}".'
    examples = [
        OpenApiExample(
            summary, value=response, response_only=True, description=sent_with
        )
    ]
    if request is not None:
        examples.insert(
            0,
            OpenApiExample(
                summary, value=request, request_only=True, description=sent_with
            ),
        )
    return examples


DEAL_CREATE_EXAMPLES = [
    OpenApiExample(
        "Rep opens an upsell",
        value={
            "title": "Analytical Engines support plan",
            "company": 46,
            "contact": 86,
            "channel": "outbound",
            "amount": "2400.00",
            "currency": "EUR",
            "probability": 20,
            "expected_close_on": "2027-03-31",
            "stage": "prospection",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Deal created",
        value={
            **_DEAL_156,
            "id": 157,
            "title": "Analytical Engines support plan",
            "lead": None,
            "channel": "outbound",
            "amount": "2400.00",
            "probability": 20,
            "expected_close_on": "2027-03-31",
            "stage": "prospection",
            "stage_entered_at": "2026-12-02T09:12:44.671205Z",
            "created_at": "2026-12-02T09:12:44.671205Z",
            "updated_at": "2026-12-02T09:12:44.671205Z",
        },
        response_only=True,
        status_codes=[201],
    ),
]
MOVE_EXAMPLES = _deal_examples({"stage": "closing"}, "Move to closing", 1, _IN_CLOSING)
WIN_EXAMPLES = _deal_examples(
    None,
    "Won",
    2,
    {
        **_IN_CLOSING,
        "status": "won",
        "closed_at": _CLOSED_AT,
        "version": 3,
        "updated_at": _CLOSED_AT,
    },
)
LOSE_EXAMPLES = _deal_examples(
    {"reason": "competitor", "notes": "Chose a competitor's bundle with hardware"},
    "Lost to a competitor",
    2,
    _LOST,
)
REOPEN_EXAMPLES = _deal_examples(
    {"stage": "closing"},
    "Back in closing",
    3,
    {
        **_LOST,
        "status": "open",
        "lost_reason": "",
        "closed_at": None,
        "stage_entered_at": "2026-12-04T08:47:19.530662Z",
        "version": 4,
        "updated_at": "2026-12-04T08:47:19.530662Z",
    },
)
HISTORY_EXAMPLES = [
    OpenApiExample(
        "The win",
        value={
            "from_stage": "closing",
            "to_stage": "closing",
            "from_status": "open",
            "to_status": "won",
            "by": 7,
            "at": _CLOSED_AT,
        },
        response_only=True,
    )
]
ACTIVITY_EXAMPLES = [
    OpenApiExample(
        "Call that books the presentation",
        value={
            "kind": "call",
            "direction": "outbound",
            "outcome": "meeting_booked",
            "occurred_at": "2026-10-08T13:30:00Z",
            "duration_seconds": 540,
            "contact": 86,
            "deal": 156,
            "notes": "Presentation to Ada and two engineers on 20 October",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Call logged",
        value={
            "id": 5120,
            "kind": "call",
            "direction": "outbound",
            "outcome": "meeting_booked",
            "is_cold_call": False,
            "occurred_at": "2026-10-08T13:30:00Z",
            "duration_seconds": 540,
            "lead": None,
            "contact": 86,
            "deal": 156,
            "owner": 7,
            "notes": "Presentation to Ada and two engineers on 20 October",
            "version": 1,
        },
        response_only=True,
        status_codes=[201],
    ),
]
CONVERT_EXAMPLES = [
    OpenApiExample(
        "Convert Ada's qualified lead",
        description="The title defaults to the company's; the stage to presentation.",
        value={
            "amount": "12000.00",
            "currency": "EUR",
            "expected_close_on": "2027-01-31",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Deal created",
        description='Answered with the header ETag: "1".',
        value=_DEAL_156,
        response_only=True,
        status_codes=[201],
    ),
]
