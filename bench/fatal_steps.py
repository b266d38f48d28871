"""Where a policy's held-out episodes end in a hole: how much probability each other policy puts on that move.

A learning curve says whether success moved; this says whether RL moved the policy at the steps that decided the
failures. It reads one greedy evaluation (``--episodes``: the reference policy, e.g. the SFT start), keeps the
failed episodes whose last step walked into a hole the observation names, replays each one in the environment up
to that step, rebuilds the exact prompt the policy saw (the compact style the SmolLM2 runs use, the rollout's
own ``build_messages``, the environment's history length, the admissible actions from the replayed ``info``), and
checks it against the record. Then, for every policy in ``--policies``, it scores each admissible action's
response ``<action>X</action>`` teacher-forced at temperature 1 and reports:

- ``P(fatal)``: the probability of the fatal action, normalised over the admissible actions;
- ``greedy fatal``: the share of those states where the fatal action is still the most likely one.

    python bench/fatal_steps.py --episodes runs/smollm2_onestep/eval/valid_seen/iter6/sft/episodes.jsonl \\
        --policies sft=runs/smollm2_sft,gigpo_s0=runs/smollm2_onestep/gigpo_s0/final_policy

With ``--teacher-episodes N`` instead of ``--episodes`` the states are the SFT warm start's own training states
(``agentgym.sft.data.collect_examples`` with the SFT command's defaults, seed 0 and explore 0.25, so the same N
episodes ``agentgym.sft --teacher-episodes N`` imitated) where exactly one direction the goal line names is a hole:
does the start read the hole on the examples it was fitted to?

Prints a table and writes it with the per-state values to ``--out`` (.md and .json).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

import agentgym
from agentgym.rollout.prompts import HistoryItem, prompt_format
from environments.toytext.grid import MOVES
from policies.spec import from_spec

HOLE = re.compile(r"went \w+ and fell through a hole")


def fatal_states(records: list[dict], env_id: str, split: str, history_len: int | None) -> list[dict]:
    """Prompt messages, admissible actions and fatal action of every episode that ended walking into a hole."""
    env = agentgym.make(env_id, split=split)
    fmt = prompt_format(env_id, "compact")
    shown = agentgym.prompt_history_len(env_id, history_len)
    states = []
    try:
        for record in records:
            if record["success"] or not HOLE.search(record["final_observation"]):
                continue
            observation, info = env.reset(seed=int(record["seed"]), options={"task_id": record["task_id"]})
            history: list[HistoryItem] = []
            for step in record["steps"][:-1]:
                observation, _, _, _, info = env.step(step["action"])
                history.append(HistoryItem(step["action"], observation))
            if observation != record["steps"][-1]["observation"]:
                raise SystemExit(f"replay of {record['task_id']} does not reach the recorded state")
            admissible = list(info.get("admissible_actions") or [])
            fatal = record["steps"][-1]["action"]
            if fatal not in admissible:
                raise SystemExit(f"{record['task_id']}: fatal action {fatal!r} not admissible in {admissible}")
            messages = fmt.build(info.get("task"), observation, history, admissible, shown)
            states.append({"task_id": record["task_id"], "messages": messages, "admissible": admissible,
                           "fatal": fatal})
    finally:
        env.close()
    return states


def teacher_states(env_id: str, episodes: int) -> list[dict]:
    """SFT examples whose observation has a hole in exactly one of the directions its goal line names.

    The examples are collected as ``agentgym.sft`` collects them with its defaults (an ``SFTConfig``'s seed,
    explore rate, teacher and prompt settings), so they are the ones that command fitted.
    """
    from agentgym.rollout.prompts import parse_action
    from agentgym.sft.data import collect_examples
    from agentgym.sft.trainer import SFTConfig

    cfg = SFTConfig(env=env_id)
    states = []
    for example in collect_examples(cfg, episodes, seed=cfg.seed, explore=cfg.explore, teacher=cfg.teacher):
        user = example.messages[-1]["content"]
        now = re.search(r"^Now: (.*)$", user, re.M)
        admissible = re.search(r"^Admissible actions: (.*)$", user, re.M)
        goal = re.search(r"The goal is ([^.]*)\.", now.group(1)) if now else None
        if not (goal and admissible):
            continue
        holes = [d for d in MOVES if d in goal.group(1) and f"{d.capitalize()}: a hole." in now.group(1)]
        moves = admissible.group(1).split(", ")
        if len(holes) == 1 and holes[0] in moves:
            states.append({"task_id": None, "messages": example.messages, "admissible": moves, "fatal": holes[0],
                           "label": parse_action(example.response)})
    return states


def action_probabilities(policy, states: list[dict]) -> list[dict[str, float]]:
    """Each admissible action's probability, normalised over the admissible actions (teacher-forced, temperature 1)."""
    prompts = [s["messages"] for s in states for _ in s["admissible"]]
    responses = [f"<action>{a}</action>" for s in states for a in s["admissible"]]
    logps = []
    for i in range(0, len(prompts), 16):
        logps += [sum(row) for row in policy.logprobs(prompts[i:i + 16], responses[i:i + 16], add_eos=False)]
    out, k = [], 0
    for s in states:
        values = np.array(logps[k:k + len(s["admissible"])])
        k += len(s["admissible"])
        probs = np.exp(values - values.max())
        out.append(dict(zip(s["admissible"], (probs / probs.sum()).tolist())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    states_from = parser.add_mutually_exclusive_group(required=True)
    states_from.add_argument("--episodes", type=Path, help="episodes.jsonl of a greedy evaluation")
    states_from.add_argument("--teacher-episodes", type=int, help="instead: the SFT teacher's first N episodes on "
                             "the train split (the SFT command's defaults: seed 0, explore 0.25)")
    parser.add_argument("--policies", required=True, help="comma-separated name=policy spec (a model folder, a "
                        "final_policy folder)")
    parser.add_argument("--env", default="agentgym/FrozenLake-v1", help="the environment the episodes were played on")
    parser.add_argument("--split", default="valid_seen", help="their split")
    parser.add_argument("--history-len", type=int, default=None, help="history in each prompt; None = the "
                        "environment's own (what training and evaluation used unless told otherwise)")
    parser.add_argument("--out", type=Path, default=None, help="table and values (.md, .json); default beside "
                        "--episodes, or runs/fatal_steps_teacher")
    args = parser.parse_args()
    if args.episodes:
        records = [json.loads(line) for line in args.episodes.read_text().splitlines() if line.strip()]
        states = fatal_states(records, args.env, args.split, args.history_len)
        source = f"{args.episodes}, {args.split}"
        print(f"{len(states)} fatal states from {len(records)} episodes ({args.episodes})", flush=True)
    else:
        states = teacher_states(args.env, args.teacher_episodes)
        source = f"the SFT teacher's {args.teacher_episodes} train episodes"
        print(f"{len(states)} states with a hole toward the goal in {source}", flush=True)
    rows, values = [], {}
    for item in args.policies.split(","):
        name, _, spec = item.partition("=")
        probs = action_probabilities(from_spec(spec), states)
        fatal = np.array([p[s["fatal"]] for p, s in zip(probs, states)])
        still = np.array([max(p, key=p.get) == s["fatal"] for p, s in zip(probs, states)])
        values[name] = {"spec": spec, "p_fatal": fatal.tolist(), "greedy_fatal": still.tolist()}
        rows.append(f"| {name} | {fatal.mean():.3f} | {np.median(fatal):.3f} | {still.mean():.2f} |")
        print(rows[-1], flush=True)
    out = args.out or (args.episodes.with_name("fatal_steps") if args.episodes else Path("runs/fatal_steps_teacher"))
    text = "\n".join([f"# Fatal steps of {source} ({len(states)} states, {args.env})", "",
                      "| policy | mean P(fatal) | median P(fatal) | greedy fatal |", "|---|---|---|---|", *rows])
    out.with_suffix(".md").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps({"states": [{k: s[k] for k in ("task_id", "fatal", "admissible")}
                                                               for s in states], "policies": values}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
