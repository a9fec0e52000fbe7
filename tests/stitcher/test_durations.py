"""The gateway's words for durations agree with the UI's (frontend/src/lib/durations.test.ts)."""

from __future__ import annotations

import pytest

from stitcher._durations import duration_text, window_text


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "second"), (60, "minute"), (3600, "hour"), (86400, "day"), (900, "15 minutes"), (5400, "90 minutes"),
     (90, "90 seconds"), (172800, "2 days"), (0, "second"), (float("nan"), "second")],
)  # fmt: skip
def test_a_window_is_said_in_its_largest_whole_unit(seconds: float, words: str) -> None:
    assert window_text(seconds) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(41, "41 s"), (40.2, "41 s"), (0, "1 s"), (3598, "59 min 58 s"), (5400, "1 h 30 min"), (93600, "1 day 2 h"),
     (172801, "2 days 1 s"), (60, "1 min")],
)  # fmt: skip
def test_a_time_left_rounds_up_and_names_every_unit_that_is_not_zero(seconds: float, words: str) -> None:
    assert duration_text(seconds) == words
