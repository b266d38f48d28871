"""Credit audit: does each estimator's step advantage point at the steps that actually decide the outcome?

On the same rollouts of one policy, every estimator's advantage for each step is compared with the step's true
effect from the environment's oracle (the expert planner's remaining plan length L, ``expert_steps_left``):

    effect_t = gamma^L(s_{t+1}) - gamma^L(s_t)      (gamma 0.9; the optimal goal value gained or lost)

whose sign is that of the change in optimal distance: > 0 the step brought the goal closer (helpful), < 0 it
took a detour or ended in a hole / lost game (harmful), 0 it changed nothing. Steps cut by the step limit
(the next state unseen) are left out. Per estimator, environment and rollout batch:

- ``spearman``: rank correlation of advantage and effect over all steps;
- ``sign``: the share of steps that matter (effect != 0) whose advantage has the effect's sign (0 counts wrong);
- ``auc``: P(advantage of a helpful step > advantage of a harmful one), ties 1/2 (0.5 = no separation);

then the mean and a 95% t-interval over the batches (each batch: fresh tasks, fresh rollouts, its own seed).
``matter`` is the share of steps whose effect is not 0. ``oracle`` (``credit: oracle``) is the effect itself,
the ceiling: 1 on every measure by construction (except ``sign``/``auc`` when an advantage is 0).

Policies (``--policy``): ``expert:EPS`` (the expert planner, a random admissible action with probability EPS:
graded quality, both outcomes, detours that are undone later) or ``tiny`` (the SFT-warm-started tiny LLM at
temperature 1, FrozenLake only: a real learned policy, with unparsable responses).

    python bench/credit_audit.py --env agentgym/FrozenLake-v1 --policy expert:0.5 --batches 5
    python bench/credit_audit.py --env agentgym/TextWorld-Simple-v0 --policy expert:0.6 --batches 5
    python bench/credit_audit.py --env agentgym/FrozenLake-v1 --policy tiny --batches 5

Writes ``bench/results/credit_audit/<env>__<policy>.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import stats

from agentgym import StepBatch, credit
from agentgym.core.policy import SamplingParams
from agentgym.credit.oracle import AFTER, BEFORE, oracle_columns
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool

RESULTS = Path(__file__).resolve().parent / "results" / "credit_audit"
GAMMA = 0.9  # of the oracle value (and of the oracle estimator)


def batch_mc_critic(batch: StepBatch, gamma: float) -> np.ndarray:
    """V(s) = mean discounted return-to-go of the batch's steps from the same state in the same group: a critic
    fitted (in sample) on this very batch, the best a tabular Monte-Carlo value model could know here."""
    from agentgym.credit.groups import TrajectoryLayout, factorize

    layout = TrajectoryLayout.of(batch)
    returns = layout.backward_scan(batch.reward, gamma)
    key = layout.group_of_row * (int(factorize(batch.state_key).max(initial=0)) + 1) + factorize(batch.state_key)
    _, code = np.unique(key, return_inverse=True)
    return (np.bincount(code, weights=returns) / np.bincount(code))[code]


def gae_with_batch_critic(batch: StepBatch) -> np.ndarray:
    return credit.get("gae")(batch.with_extras(value=batch_mc_critic(batch, 0.95)), gamma=0.95, lam=0.95)


# label -> advantage function of the shaped batch; every estimator with its project defaults
ESTIMATORS = {
    "grpo": lambda b: credit.get("grpo")(b),
    "rloo": lambda b: credit.get("rloo")(b),
    "reinforce_pp": lambda b: credit.get("reinforce_pp")(b),
    "gae (batch MC critic)": gae_with_batch_critic,
    "gigpo": lambda b: credit.get("gigpo")(b),
    "gigpo (omega 0: step term only)": lambda b: credit.get("gigpo")(b) - credit.get("grpo")(b),
    "hgpo": lambda b: credit.get("hgpo")(b),
    "graphgpo": lambda b: credit.get("graphgpo")(b),
    "graphgpo (progress form)": lambda b: credit.get("graphgpo")(b, normalize_distance=True),
    "gigpo + empg": lambda b: credit.get_modifier("empg")(b, credit.get("gigpo")(b)),
    "oracle": lambda b: credit.get("oracle")(b),
}


def make_policy(spec: str, env_id: str, seed: int):
    if spec.startswith("expert:"):
        from policies.scripted import NoisyExpertPolicy

        return NoisyExpertPolicy(float(spec.split(":", 1)[1]), seed=seed)
    if spec == "tiny":
        from policies.hf import HFPolicy
        from policies.tiny import default_model

        return HFPolicy.from_pretrained(str(default_model(env_id)), device="cpu")
    raise SystemExit(f"unknown --policy {spec!r}: expert:EPS or tiny")


def rollouts(env_id: str, policy, seed: int, groups: int, group_size: int, max_steps: int):
    import torch

    torch.manual_seed(seed)
    pool = make_pool(env_id, "train", groups * group_size, max_steps=max_steps, backend="thread")
    try:
        resets = [{"seed": seed * 100_003 + g} for g in range(groups)]
        trajs, _ = collect(pool, policy, resets, group_size, SamplingParams(temperature=1.0, max_new_tokens=24),
                           EpisodeSettings(), info_keys=(BEFORE,))
    finally:
        pool.close()
    return trajs


def step_batch(trajs) -> StepBatch:
    """The batch as the trainer builds it (success flags, the default invalid-action shaper) plus the oracle."""
    batch = StepBatch.from_trajectories(trajs)
    before, after = oracle_columns(trajs)
    batch = batch.with_extras(traj_success=[t.success for t in trajs for _ in t.steps], env_reward=batch.reward.copy(),
                              **{BEFORE: before, AFTER: after})
    return credit.get_shaper("invalid_action")(batch)


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUC of ``scores`` for positive vs negative rows, ties 1/2; NaN without both kinds."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def audit_batch(batch: StepBatch) -> dict[str, dict[str, float]]:
    before = np.asarray(batch.extras[BEFORE], dtype=np.float64)
    after = np.asarray(batch.extras[AFTER], dtype=np.float64)
    effect = GAMMA ** after - GAMMA ** before
    known = ~np.isnan(effect)
    effect = effect[known]
    matter = effect != 0
    out = {"_batch": {"steps": float(known.sum()), "matter": float(matter.mean()),
                      "helpful": float(np.mean(effect > 0)), "harmful": float(np.mean(effect < 0)),
                      "success": float(np.mean(np.asarray(batch.extras["traj_success"], dtype=bool))),
                      "format_invalid": float(np.mean(~np.asarray(batch.extras["format_valid"], dtype=bool)))
                      if "format_valid" in batch.extras else 0.0}}
    has_entropy = not np.isnan(batch.entropy).all()
    for label, fn in ESTIMATORS.items():
        if "empg" in label and not has_entropy:
            continue
        adv = np.asarray(fn(batch), dtype=np.float64)[known]
        rho = stats.spearmanr(adv, effect).statistic if np.ptp(adv) > 0 else 0.0
        out[label] = {"spearman": float(rho),
                      "sign": float(np.mean(np.sign(adv[matter]) == np.sign(effect[matter]))),
                      "auc": auc(adv[matter], effect[matter] > 0)}
    return out


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% t-interval (0 for one value), NaNs dropped."""
    v = np.asarray([x for x in values if not np.isnan(x)])
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), 0.0
    return float(v.mean()), float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def summarise(per_batch: list[dict]) -> dict:
    labels = [k for k in per_batch[0] if k != "_batch"]
    rows = {label: {m: interval([b[label][m] for b in per_batch]) for m in ("spearman", "sign", "auc")}
            for label in labels}
    rows["_batch"] = {m: interval([b["_batch"][m] for b in per_batch]) for m in per_batch[0]["_batch"]}
    return rows


def markdown(env_id: str, policy: str, summary: dict, n: int) -> str:
    b = summary["_batch"]
    head = (f"**{env_id}, policy {policy}**: {n} batches, {b['steps'][0]:.0f} steps per batch, success "
            f"{b['success'][0]:.2f}; steps that matter {b['matter'][0]:.2f} +- {b['matter'][1]:.2f} "
            f"(helpful {b['helpful'][0]:.2f}, harmful {b['harmful'][0]:.2f}); unparsable responses "
            f"{b['format_invalid'][0]:.3f}\n\n")
    lines = ["| estimator | Spearman with the oracle effect | sign agreement (steps that matter) | AUC harmful vs helpful |",
             "|---|---|---|---|"]
    for label, row in summary.items():
        if label != "_batch":
            lines.append(f"| {label} | " + " | ".join(f"{row[m][0]:+.3f} +- {row[m][1]:.3f}" if m == "spearman"
                                                      else f"{row[m][0]:.3f} +- {row[m][1]:.3f}"
                                                      for m in ("spearman", "sign", "auc")) + " |")
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="agentgym/FrozenLake-v1")
    parser.add_argument("--policy", default="expert:0.5", help="expert:EPS | tiny")
    parser.add_argument("--batches", type=int, default=5, help="rollout batches (seeds 0..n-1), the interval's n")
    parser.add_argument("--groups", type=int, default=16, help="tasks per batch")
    parser.add_argument("--group-size", type=int, default=8, help="rollouts per task")
    parser.add_argument("--max-steps", type=int, default=20)
    args = parser.parse_args()
    start, per_batch = time.time(), []
    for seed in range(args.batches):
        policy = make_policy(args.policy, args.env, seed)
        trajs = rollouts(args.env, policy, seed, args.groups, args.group_size, args.max_steps)
        per_batch.append(audit_batch(step_batch(trajs)))
        print(f"batch {seed}: {len(trajs)} episodes, {time.time() - start:.0f} s", flush=True)
    summary = summarise(per_batch)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{args.env.replace('/', '--')}__{args.policy.replace(':', '-')}.json"
    (RESULTS / name).write_text(json.dumps({"args": vars(args), "per_batch": per_batch, "summary": summary,
                                            "seconds": time.time() - start}, indent=2))
    print(markdown(args.env, args.policy, summary, args.batches))


if __name__ == "__main__":
    main()
