"""GraphGPO against the recipe's own code: verl-agent ``recipe/GraphGPO`` run on the same random batches.

The default suite checks ``credit: graphgpo`` against a transcription of the recipe's code
(tests/agentgym/credit/test_credit_graphgpo.py). This script runs the code itself where a checkout of it is at
hand (it is not a dependency: verl, ray and a GPU stack are not needed, only torch, networkx and matplotlib,
which its module imports): ``recipe/GraphGPO/core_graph.py`` and ``gigpo/core_gigpo.py`` are loaded from
``--source`` with a stand-in for ``verl.DataProto`` (used there only as a type name), and every batch goes
through the recipe trainer's calls in its order: ``ComplexGraph.from_data``, ``Calculate_all_shortest_path``,
``compute_graph_path_returns``, the invalid-action penalty (off the step return and the step's score, as
``apply_invalid_action_penalty`` does), ``compute_graphgpo_outcome_advantage``.

The recipe gets rows as its rollout loop makes them (by trajectory, then step; ``next_obs`` = the next step's
observation, ``'success'`` after a successful last step, a fresh observation after a failed one); this project
gets the same rows shuffled, with ``no_path="beyond_farthest"`` and ``episode_stats="step"``. The recipe's step
returns are float32 (its arrays); they are passed on in float64 so that a group of equal values gives 0 there
as here (in float32, float noise / (std + 1e-6) does not: a documented departure).

    git clone <a repository holding recipe/GraphGPO/core_graph.py> /tmp/recipe
    python bench/graphgpo_recipe_check.py --source /tmp/recipe --batches 200

Prints, per setting, how many batches agree to 1e-5 and the largest difference; and how many would differ
(and by how much at most) with this project's default ``no_path="zero"``. Exits 1 if any batch disagrees
under the recipe's rule.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import itertools
import sys
import types
from pathlib import Path

import numpy as np

from agentgym import StepBatch, credit

GAMMA = 0.1
PENALTY = 0.1
ROOMS = list("abcdefgh")
SIMILAR_ROOMS = ["kitchen", "kitchens", "hall", "halls", "garden", "gardens", "cellar", "attic"]


def load_recipe(source: Path):
    """The recipe's core_graph module, imported from a checkout with ``verl`` stood in for."""
    files = {"gigpo.core_gigpo": source / "gigpo" / "core_gigpo.py",
             "recipe_core_graph": source / "recipe" / "GraphGPO" / "core_graph.py"}
    for path in files.values():
        if not path.is_file():
            raise SystemExit(f"{path} not found: --source must be a checkout holding recipe/GraphGPO/core_graph.py "
                             "and gigpo/core_gigpo.py")
    import matplotlib

    matplotlib.use("Agg")
    verl = types.ModuleType("verl")
    verl.DataProto = object  # only a type annotation in these two files
    sys.modules.setdefault("verl", verl)
    sys.modules.setdefault("gigpo", types.ModuleType("gigpo"))
    modules = {}
    for name, path in files.items():
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules["recipe_core_graph"]


def random_rows(rng: np.random.Generator, similar: bool):
    """Rows in the recipe's order: dicts with uid, traj, obs, next_obs, reward (episode), success, invalid."""
    rooms = SIMILAR_ROOMS if similar else ROOMS
    rows, traj = [], 0
    for uid in range(int(rng.integers(1, 5))):
        for _ in range(int(rng.integers(1, 9))):
            length = int(rng.integers(1, 9))
            states = [str(s) for s in rng.choice(rooms, size=length, p=[0.25, 0.15, 0.15, 0.1, 0.1, 0.1, 0.1, 0.05])]
            success = bool(rng.random() < 0.4)
            episode_reward = 1.0 if success else float(rng.choice([0.0, 0.0, -0.1]))
            after = "success" if success else "".join(rng.choice(list("0123456789QWXYZ#@"), size=12))
            for t, state in enumerate(states):
                rows.append(dict(uid=uid, traj=traj, t=t, obs=state,
                                 next_obs=states[t + 1] if t + 1 < length else after,
                                 reward=episode_reward if t == length - 1 else 0.0, episode_reward=episode_reward,
                                 success=success, invalid=bool(rng.random() < 0.2)))
            traj += 1
    return rows


def recipe_advantage(core_graph, rows, mode: str, normalize_distance: bool, thresh: float | None,
                     step_w: float, episode_w: float) -> np.ndarray:
    import torch

    n = len(rows)

    def column(key):
        values = np.empty(n, dtype=object)
        values[:] = [r[key] for r in rows]
        return values

    data = types.SimpleNamespace(batch={"input_ids": torch.zeros(n, 1)}, non_tensor_batch={
        "uid": column("uid"), "traj_uid": column("traj"), "anchor_obs": column("obs"), "next_obs": column("next_obs"),
        "text_actions": column("obs"), "episode_rewards": np.array([r["episode_reward"] for r in rows]),
        "rewards": np.array([r["reward"] for r in rows]), "active_masks": np.ones(n, dtype=bool),
        "is_action_valid": np.array([not r["invalid"] for r in rows])})
    invalid = torch.tensor([float(r["invalid"]) for r in rows], dtype=torch.float64)
    with contextlib.redirect_stdout(io.StringIO()):  # build_step_group prints its group sizes
        graphs = core_graph.ComplexGraph.from_data(data, enable_similarity=thresh is not None,
                                                   similarity_thresh=thresh if thresh is not None else 0.95)
        core_graph.ComplexGraph.Calculate_all_shortest_path(graphs)
        step_rewards = core_graph.compute_graph_path_returns(data, graphs, GAMMA, normalize_distance).double()
        step_rewards -= PENALTY * invalid
        # the episode reward manager puts R(tau) on every step sample's last token; the penalty comes off it
        token_rewards = (torch.tensor([r["episode_reward"] for r in rows], dtype=torch.float64)
                         - PENALTY * invalid).unsqueeze(-1)
        scores, _ = core_graph.compute_graphgpo_outcome_advantage(
            token_level_rewards=token_rewards, step_rewards=step_rewards, response_mask=torch.ones(n, 1),
            anchor_obs=data.non_tensor_batch["anchor_obs"], index=data.non_tensor_batch["uid"],
            traj_index=data.non_tensor_batch["traj_uid"], epsilon=1e-6, step_advantage_w=step_w,
            episode_advantage_w=episode_w, mode="mean_std_norm" if mode == "mean_std" else "mean_norm")
    return scores[:, 0].numpy()


def project_advantage(rows, order, mode: str, normalize_distance: bool, thresh: float | None, step_w: float,
                      episode_w: float, no_path: str) -> np.ndarray:
    records = [dict(group_id=r["uid"], traj_id=r["traj"], t=r["t"], reward=r["reward"], state_key=r["obs"],
                    traj_success=r["success"], step_penalty=PENALTY * r["invalid"]) for r in (rows[i] for i in order)]
    adv = credit.get("graphgpo")(StepBatch.from_records(records), gamma=GAMMA, norm=mode,
                                 normalize_distance=normalize_distance, similarity_thresh=thresh, episode_stats="step",
                                 step_weight=step_w, episode_weight=episode_w, no_path=no_path)
    out = np.empty(len(rows))
    out[order] = adv
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a checkout holding recipe/GraphGPO/core_graph.py")
    parser.add_argument("--batches", type=int, default=200, help="random batches per setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=1e-5)
    args = parser.parse_args()
    core_graph = load_recipe(args.source)
    print("| norm | progress form | similarity | batches agreeing (recipe's no-path rule) | largest difference "
          "| batches where no_path='zero' differs | its largest difference |")
    print("|---|---|---|---|---|---|---|")
    failed = False
    for k, (mode, normalize_distance, thresh) in enumerate(itertools.product(("mean_std", "mean"), (False, True),
                                                                              (None, 0.8))):
        rng = np.random.default_rng([args.seed, k])
        agree, worst, zero_differs, zero_worst = 0, 0.0, 0, 0.0
        for _ in range(args.batches):
            rows = random_rows(rng, similar=thresh is not None)
            step_w, episode_w = (1.0, 1.0) if rng.random() < 0.5 else tuple(float(w) for w in rng.uniform(0, 2, 2))
            order = rng.permutation(len(rows))
            expected = recipe_advantage(core_graph, rows, mode, normalize_distance, thresh, step_w, episode_w)
            got = project_advantage(rows, order, mode, normalize_distance, thresh, step_w, episode_w,
                                    "beyond_farthest")
            diff = float(np.max(np.abs(got - expected)))
            worst = max(worst, diff)
            agree += diff <= args.tol * (1 + float(np.max(np.abs(expected))))
            default = project_advantage(rows, order, mode, normalize_distance, thresh, step_w, episode_w, "zero")
            zero_differs += not np.allclose(default, expected, rtol=args.tol, atol=args.tol)
            zero_worst = max(zero_worst, float(np.max(np.abs(default - expected))))
        failed |= agree < args.batches
        print(f"| {mode} | {normalize_distance} | {thresh} | {agree}/{args.batches} | {worst:.2e} | "
              f"{zero_differs}/{args.batches} | {zero_worst:.3f} |", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
