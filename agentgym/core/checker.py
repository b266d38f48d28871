"""``check_env``: gymnasium's own checker plus the text-env contract (docs/architecture.md, "Contracts")."""

from __future__ import annotations

import random
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import gymnasium
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

from agentgym.core.env import INFO_KEYS


@dataclass
class CheckReport:
    """What ``check_env`` checked and found, for the line it prints when everything passed."""

    env: str
    gymnasium_checked: bool
    seeds: tuple[int, ...]
    expert_steps: dict[int, int] = field(default_factory=dict)  # seed -> steps the expert took to solve it
    adversarial_actions: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        expert = (f"the expert solves seeds {sorted(self.expert_steps)} in {list(self.expert_steps.values())} steps"
                  if self.expert_steps else "no expert checked (has_expert = False or check_expert=False)")
        return (f"check_env: {self.env} passed in {self.seconds:.1f} s: "
                f"{'gymnasium check_env, ' if self.gymnasium_checked else ''}every info key, same seed -> same "
                f"task, observation and state keys (seeds {list(self.seeds)}); {expert}; "
                f"{self.adversarial_actions} adversarial actions answered with observations, none raised")


def check_env(env: gymnasium.Env, seeds: tuple[int, ...] = (0, 1, 2), n_random_actions: int = 1000,
              check_expert: bool = True, skip_gymnasium: bool = False, verbose: bool = True) -> CheckReport:
    """Raise ``AssertionError`` with a precise message if ``env`` breaks the contract; else return
    (and with ``verbose``, print) what was checked.

    Checks: gymnasium's ``check_env``; every info key present; same seed -> same task and first
    observation and state key; the expert (when the env offers one) solves the task; replaying the
    same actions gives the same state keys; ``n_random_actions`` adversarial strings never raise.
    """
    start, base = time.perf_counter(), env.unwrapped
    if not skip_gymnasium:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gymnasium_check_env(base, skip_render_check=True)
    spec = getattr(env, "spec", None) or getattr(base, "spec", None)
    report = CheckReport(env=spec.id if spec is not None else type(base).__name__,
                         gymnasium_checked=not skip_gymnasium, seeds=tuple(seeds))
    for seed in seeds:
        _check_determinism(env, seed)
        steps = _check_expert(env, seed) if check_expert else None
        if steps is not None:
            report.expert_steps[seed] = steps
    _check_adversarial(env, n_random_actions, seed=seeds[0])
    report.adversarial_actions, report.seconds = n_random_actions, time.perf_counter() - start
    if verbose:
        print(report, flush=True)
    return report


def _check_info(info: dict[str, Any], where: str) -> None:
    missing = [k for k in INFO_KEYS if k not in info]
    assert not missing, f"{where}: info lacks keys {missing}"
    assert isinstance(info["task_id"], str), f"{where}: task_id must be a str"
    assert isinstance(info["state_key"], str) and info["state_key"], f"{where}: state_key must be a non-empty str"


def _check_determinism(env: gymnasium.Env, seed: int) -> None:
    obs_a, info_a = env.reset(seed=seed)
    _check_info(info_a, "reset")
    actions = _probe_actions(info_a)
    keys_a = _play(env, actions)
    obs_b, info_b = env.reset(seed=seed)
    assert obs_a == obs_b, f"seed {seed}: reset gave different first observations"
    assert info_a["task_id"] == info_b["task_id"], f"seed {seed}: reset picked different tasks"
    assert info_a["state_key"] == info_b["state_key"], f"seed {seed}: state_key differs across resets"
    keys_b = _play(env, actions)
    assert keys_a == keys_b, f"seed {seed}: replaying the same actions gave different state keys"


def _probe_actions(info: dict[str, Any]) -> list[str]:
    admissible = info.get("admissible_actions") or []
    actions = list(admissible[:3])
    if info.get("expert_action"):
        actions.insert(0, info["expert_action"])
    return actions or ["look"]


def _play(env: gymnasium.Env, actions: list[str]) -> list[str]:
    keys = []
    for action in actions:
        _, _, terminated, truncated, info = env.step(action)
        _check_info(info, f"step({action!r})")
        keys.append(info["state_key"])
        if terminated or truncated:
            break
    return keys


def _check_expert(env: gymnasium.Env, seed: int) -> int | None:
    """Steps the expert took to solve seed ``seed``; None when the environment offers no expert."""
    _, info = env.reset(seed=seed)
    if info.get("expert_action") is None:
        return None
    steps_left = info.get("expert_steps_left")
    steps = 0
    while steps < 10_000:
        action = info["expert_action"]
        assert action is not None, f"seed {seed}: expert stopped before solving task {info['task_id']}"
        _, _, terminated, truncated, info = env.step(action)
        steps += 1
        if terminated or truncated:
            break
    assert info["success"], f"seed {seed}: the expert did not solve task {info['task_id']}"
    if steps_left is not None:
        assert steps_left >= 1, f"seed {seed}: expert_steps_left on reset must be >= 1, got {steps_left}"
    return steps


def hostile_actions() -> list[Any]:
    """One of each kind of input a careless or hostile caller sends: empty, huge, control and NUL bytes,
    lone surrogates, other scripts, JSON/XML/tool-call fragments, numbers of thousands of digits, path
    traversal, SQL, deep nesting and non-string values."""
    digits = "9" * 5000
    return ["", " ", "\n\n", "\x00\x01\x02", "\x00" * 1000, "\x1b[31m\x07\x08\r", "a" * 100_000, "x" * 2**20,
            "ü" * 200_001, "🙂" * 50, "移动到北边", "اذهب شمالا", "Ωμέγα ∀x∈ℝ", "\ud800", "\udfff\ud800abc",
            "<action></action>", "<action>" * 1000, "<action><tool_call></action>", "<![CDATA[<action>go</action>",
            "click[" * 100, "search[]", '{"name": 1}', '{"name": "run_sql", "arguments": {"sql": "SELECT 1"',
            '<tool_call>{"name": "submit_answer", "arguments": {"answer": ' + digits + "}}</tool_call>",
            '{"name": "x", "arguments": "' + "[" * 10_000 + '"}', "[" * 100_000, '{"a":' * 50_000,
            digits, "-1e999999", "NaN", "Infinity", "0x" + "f" * 4000,
            "../../../../etc/passwd", "<action>open ../../../etc/shadow</action>", "file:///etc/passwd",
            "DROP TABLE x;", "'; DROP TABLE employees; --", "<action>SELECT * FROM sqlite_master</action>",
            None, 42, 3.5, float("nan"), True, [], {}, ["go", "north"], {"action": "north"}, b"\xff\xfe"]


def adversarial_actions(n: int, seed: int = 0) -> list[Any]:
    """``hostile_actions()`` first, then random strings and splices of them (a few non-strings among them)."""
    rng = random.Random(seed)
    fixed = hostile_actions()
    fragments = [a for a in fixed if isinstance(a, str) and len(a) < 10_000]
    alphabet = [chr(c) for c in range(0, 0x300)] + list("北东南西🙂") + ["\u200b", "\ufeff"]
    out = fixed[:n]
    while len(out) < n:
        if rng.random() < 0.3:  # a splice of fragments: tags around junk, a tool call around a traversal
            out.append("".join(rng.choice(fragments) for _ in range(rng.randint(2, 4))))
            continue
        length = rng.choice([0, 1, 5, 20, 200, 3000])
        out.append("".join(rng.choice(alphabet) for _ in range(length)))
    return out


def _check_adversarial(env: gymnasium.Env, n: int, seed: int) -> None:
    _, info = env.reset(seed=seed)
    for i, action in enumerate(adversarial_actions(n, seed)):
        try:
            obs, _, terminated, truncated, info = env.step(action)
        except Exception as exc:  # noqa: BLE001 - the contract is that nothing raises
            raise AssertionError(f"step raised on adversarial action #{i} {str(action)[:40]!r}: {exc!r}") from exc
        assert isinstance(obs, str), f"adversarial action #{i}: observation is {type(obs).__name__}"
        _check_info(info, f"adversarial action #{i}")
        if terminated or truncated:  # same task again: robustness needs no new games (cheap for generated envs)
            env.reset(seed=seed)
