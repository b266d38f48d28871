"""A check that weight sync worked: the engine's greedy responses equal the trained model's.

Run after a sync in synchronous training (``verify_sync_prompts = N``) on the first-step prompts of
N held-out tasks; with equal weights both must decode the same tokens. A fraction below 1 means
the engine is not serving the weights the trainer has (a failed load, another dtype or kernel:
vLLM's may break near-ties), which is logged as ``rollout/sync_greedy_match`` every iteration.
"""

from __future__ import annotations

from agentgym.core.policy import SamplingParams
from agentgym.core.types import Messages
from agentgym.rollout.pool import EnvFailure, EnvPool
from agentgym.rollout.prompts import build_messages


def held_out_prompts(pool: EnvPool, count: int, show_admissible: bool = True) -> list[Messages]:
    """First-step prompts of ``count`` tasks of ``pool``'s split (reset seeds 0..count-1)."""
    count = min(count, len(pool))
    prompts = []
    for result in pool.reset(list(range(count)), [{"seed": i} for i in range(count)]):
        if isinstance(result, EnvFailure):
            raise RuntimeError(f"cannot build the sync check's prompts: {result.message}")
        observation, info = result
        admissible = info.get("admissible_actions") if show_admissible else None
        prompts.append(build_messages(info.get("task"), observation, (), admissible, 0))
    return prompts


def greedy_match(engine, policy, prompts: list[Messages], max_new_tokens: int) -> float:
    """Share of ``prompts`` on which the engine's greedy response tokens equal the trained model's."""
    if not prompts:
        return float("nan")
    greedy = SamplingParams(greedy=True, max_new_tokens=max_new_tokens)
    served, trained = engine.generate(prompts, greedy), policy.generate(prompts, greedy)
    return sum(a.token_ids == b.token_ids for a, b in zip(served, trained)) / len(prompts)
