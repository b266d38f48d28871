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


def score_distinct_no_grad(policy, samples: Sequence, micro_batch_size: int,
                           with_entropy: bool = False) -> tuple[list[list[float]], list[list[float]] | None]:
    """Teacher-forced log-probs (and entropies) of each sample's response, without gradients: each distinct pair
    once, in micro-batches of similar lengths (less padding). Every sample gets its own copy of the lists."""
    keep, inverse = distinct_rows(samples)
    distinct = [samples[i] for i in keep]
    order = sorted(range(len(distinct)), key=lambda j: len(distinct[j].prompt_ids) + len(distinct[j].response_ids))
    logprobs: list[list[float]] = [[] for _ in distinct]
    entropies: list[list[float]] = [[] for _ in distinct]
    with torch.no_grad():
        for start in range(0, len(order), micro_batch_size):
            chunk = order[start:start + micro_batch_size]
            lp, ent, mask = policy.score([distinct[j].prompt_ids for j in chunk],
                                         [distinct[j].response_ids for j in chunk], with_entropy=with_entropy)
            for row, (j, n) in enumerate(zip(chunk, mask.sum(dim=1).long().tolist())):
                logprobs[j] = lp[row, :n].tolist()
                if with_entropy:
                    entropies[j] = ent[row, :n].tolist()
    return ([list(logprobs[j]) for j in inverse],
            [list(entropies[j]) for j in inverse] if with_entropy else None)
