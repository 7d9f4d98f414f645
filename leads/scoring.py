"""The lead score: one pure function, so that the rule has a single home."""

from __future__ import annotations

BANT_POINTS = 20  # per criterion met: budget, authority, need, timeline
TOUCH_POINTS = 5  # per marketing touch (content download, form)...
TOUCH_CAP = 10  # ...counted up to 2 touches
ACTIVITY_POINTS = 5  # per logged activity (call, e-mail, meeting, note)...
ACTIVITY_CAP = 10  # ...counted up to 2 activities


def lead_score(
    *,
    budget: bool,
    authority: bool,
    need: bool,
    timeline: bool,
    touch_count: int,
    activity_count: int,
) -> int:
    """Return the 0-100 score of a lead from its BANT criteria and its engagement.

    - 20 points for each BANT criterion met (budget, authority, need, timeline):
      at most 80;
    - engagement, at most 20: 5 points per touch, capped at 10 (two touches), plus
      5 points per activity, capped at 10 (two activities).

    So a lead meeting all four criteria that downloaded content twice and had two
    calls scores 100; a lead meeting none with no engagement scores 0.
    """
    criteria = sum(1 for met in (budget, authority, need, timeline) if met)
    engagement = min(max(touch_count, 0) * TOUCH_POINTS, TOUCH_CAP) + min(
        max(activity_count, 0) * ACTIVITY_POINTS, ACTIVITY_CAP
    )
    return criteria * BANT_POINTS + engagement
