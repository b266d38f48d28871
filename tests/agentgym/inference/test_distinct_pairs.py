"""Distinct (prompt, response) pairs of a batch, by hand."""

from types import SimpleNamespace

from agentgym.inference.distinct_pairs import distinct_rows


def test_distinct_rows_by_hand():
    a, b, c = ([1, 2], [3]), ([1, 2], [4]), ([1], [3])  # b differs from a in the response only, c in the prompt
    samples = [SimpleNamespace(prompt_ids=p, response_ids=r) for p, r in (a, b, a, c, b)]
    assert distinct_rows(samples) == ([0, 1, 3], [0, 1, 0, 2, 1])

