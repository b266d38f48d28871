"""Copies of one (prompt, response) pair in a batch, scored once.

Rollouts of a group often pass through the same state and answer it alike (with a history-free prompt the prompt
is the state; GiGPO's anchor states are exactly these repeats), and a pair scored once gives every copy the same
log-probs and entropies. Scoring each distinct pair once and indexing the result back is exact (autograd sums the
copies' gradients) and costs a forward (and backward) pass per distinct pair instead of per row. The rescoring
pass and the update both use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def distinct_rows(samples: Sequence) -> tuple[list[int], list[int]]:
    """The first index of every distinct (prompt_ids, response_ids) pair, and for each sample the position of its
    pair among them (samples are anything with those two fields: update samples, rollout steps)."""
    first: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
    keep: list[int] = []
    inverse: list[int] = []
    for index, sample in enumerate(samples):
        key = (tuple(sample.prompt_ids), tuple(sample.response_ids))
        if key not in first:
            first[key] = len(keep)
            keep.append(index)
        inverse.append(first[key])
    return keep, inverse


def score_distinct(policy, samples: Sequence, with_entropy: bool = False):
    """``policy.score`` of the samples, each distinct (prompt, response) pair run once (``distinct_rows``): the same
    (logprobs, entropies | None, mask), each (B, T) in the samples' order."""
    keep, inverse = distinct_rows(samples)
    logprobs, entropies, mask = policy.score([samples[i].prompt_ids for i in keep],
                                             [samples[i].response_ids for i in keep], with_entropy=with_entropy)
    if len(keep) == len(samples):
        return logprobs, entropies, mask
    index = torch.tensor(inverse, device=logprobs.device)
    return logprobs[index], None if entropies is None else entropies[index], mask[index]
