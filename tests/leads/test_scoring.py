import pytest

from leads.scoring import lead_score

NONE = {"budget": False, "authority": False, "need": False, "timeline": False}
ALL = dict.fromkeys(NONE, True)


def test_score_is_zero_without_criteria_or_engagement():
    assert lead_score(**NONE, touch_count=0, activity_count=0) == 0


def test_score_is_100_with_all_criteria_and_full_engagement():
    # 4 x 20 + min(2 x 5, 10) + min(2 x 5, 10) = 100
    assert lead_score(**ALL, touch_count=2, activity_count=2) == 100


@pytest.mark.parametrize("criterion", list(NONE))
def test_each_bant_criterion_is_worth_20_points(criterion):
    assert (
        lead_score(**{**NONE, criterion: True}, touch_count=0, activity_count=0) == 20
    )


@pytest.mark.parametrize(
    ("touches", "activities", "expected"),
    [
        (1, 0, 5),
        (2, 0, 10),
        (3, 0, 10),  # touches capped at 10 points
        (0, 1, 5),
        (0, 2, 10),
        (0, 50, 10),  # activities capped at 10 points
        (100, 100, 20),
    ],
)
def test_engagement_is_capped(touches, activities, expected):
    assert lead_score(**NONE, touch_count=touches, activity_count=activities) == (
        expected
    )


def test_score_never_exceeds_100():
    assert lead_score(**ALL, touch_count=10**6, activity_count=10**6) == 100
