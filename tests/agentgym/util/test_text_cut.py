"""The shortening rule: head and tail around a marker, never longer than the limit."""

import pytest

from agentgym.util.text_cut import cut_middle


def test_short_text_is_returned_unchanged():
    assert cut_middle("abc", 3) == "abc"


def test_head_and_tail_are_kept_around_a_marker_that_counts_the_cut():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    out = cut_middle(text, 100)
    # room is made for the longest marker ("1,000": 32 characters), so 68 are kept, 34 + 34;
    # the marker then counts the 932 characters actually cut (30 characters): 98 in all
    marker = "\n[... 932 characters cut ...]\n"
    assert len(marker) == 30 and out == text[:34] + marker + text[-34:]
    assert len(out) == 98


@pytest.mark.parametrize("limit", [0, 5, 31, 37, 38, 500])
def test_never_longer_than_the_limit_when_the_limit_fits_a_marker(limit):
    out = cut_middle("x" * 10_000, limit)
    assert len(out) <= max(limit, len("\n[... 10,000 characters cut ...]\n"))
    assert "characters cut" in out


def test_negative_limit_is_an_error():
    with pytest.raises(ValueError):
        cut_middle("abc", -1)
