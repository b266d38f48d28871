"""PythonTool-v0: task solvers checked by hand, the expert through the sandbox, env behaviour."""

import pytest

import agentgym
from environments.tools import python_tasks as pt
from environments.tools.protocol import format_call
from environments.tools.sandbox_choice import choose_backend

needs_sandbox = pytest.mark.skipif(choose_backend() is None, reason="neither Docker nor bubblewrap is usable here")


def test_solvers_on_hand_worked_inputs():
    assert pt.sum_primes_below(10) == 2 + 3 + 5 + 7
    assert pt.fibonacci_mod(10, 1000) == 55 and pt.fibonacci_mod(10, 50) == 5
    # 1..10 divisible by 2 or 3: 2,3,4,6,8,9,10; drop those divisible by 5 (10) -> 6
    assert pt.count_divisible(1, 10, 2, 3, 5) == 6
    assert pt.compound_balance(1000, 12, 1) == 1126.83  # 1000 * 1.01 ** 12
    csv_text = "region,product,units,unit_price\nN,a,2,1.5\nS,b,1,10\nN,b,3,2\nN,a,1,4\n"
    assert pt.region_revenue(csv_text, "N") == 2 * 1.5 + 3 * 2 + 4
    assert pt.top_product_by_units(csv_text) == "b"  # a: 3 units, b: 4 units
    assert pt.median_price(csv_text, "a") == 2.75
    assert pt.longest_collatz_start(10) == 9  # 9 takes 20 terms
    assert pt.digit_sum_of_power(2, 10) == 7  # 1024
    assert pt.best_average_member('[{"name": "x", "team": "t", "scores": [1, 3]}, '
                                  '{"name": "w", "team": "t", "scores": [2]}, '
                                  '{"name": "z", "team": "u", "scores": [9]}]', "t") == "w"
    assert pt.distinct_words("A a b. B c-d") == 4


def test_reference_code_is_the_solver_called_on_the_files():
    task = pt.make_revenue(3)
    code = task.reference_code()
    assert code.startswith("def region_revenue(csv_text, region):")
    call = f"region_revenue(open('sales.csv', encoding='utf-8').read(), {task.args[1]!r})"
    assert code.rstrip().endswith(f"print({call})")


def test_task_ids_cheap_disjoint_and_unseen_kinds_shifted():
    ids = {s: agentgym.make("agentgym/PythonTool-v0", split=s).unwrapped.task_ids() for s in agentgym.SPLITS}
    assert len(ids["train"]) == 2000 and not set(ids["train"]) & set(ids["valid_seen"])
    assert {t.rsplit("-", 1)[0] for t in ids["valid_unseen"]}.isdisjoint({t.rsplit("-", 1)[0] for t in ids["train"]})


def _run_expert(env, task_id):
    _, info = env.reset(options={"task_id": task_id})
    obs, _, _, _, info = env.step(info["expert_action"])
    printed = obs.split("stdout:\n", 1)[1].strip()
    _, reward, terminated, _, info = env.step(info["expert_action"])
    return printed, reward, terminated, info


@needs_sandbox
@pytest.mark.parametrize("split, n", [("train", 7), ("valid_unseen", 4)])
def test_expert_program_prints_the_answer_in_the_sandbox(split, n):
    env = agentgym.make("agentgym/PythonTool-v0", split=split)
    for task_id in env.unwrapped.task_ids()[:n]:
        printed, reward, terminated, info = _run_expert(env, task_id)
        assert printed == env.unwrapped.answer and terminated and info["success"] and reward == 1.0, task_id


@needs_sandbox
@pytest.mark.slow
@pytest.mark.parametrize("split", agentgym.SPLITS)
def test_expert_solves_200_tasks(split):
    env = agentgym.make("agentgym/PythonTool-v0", split=split)
    for task_id in env.unwrapped.task_ids()[:200]:
        printed, _, _, info = _run_expert(env, task_id)
        assert printed == env.unwrapped.answer and info["success"], task_id


@needs_sandbox
def test_check_env_valid_seen():
    agentgym.check_env(agentgym.make("agentgym/PythonTool-v0", split="valid_seen"), seeds=(0,), n_random_actions=200)


def test_bad_calls_and_wrong_answer_without_running_code():
    env = agentgym.make("agentgym/PythonTool-v0", split="train")
    _, info = env.reset(options={"task_id": "primes-0"})
    assert [t["function"]["name"] for t in info["tools"]] == ["run_python", "submit_answer"]
    obs, _, terminated, _, info = env.step(format_call("run_python", source="print(1)"))
    assert "no argument" in obs and not info["action_valid"] and not terminated
    obs, _, _, _, info = env.step(format_call("run_python", code="x" * 20_001))
    assert "limit" in obs and info["action_valid"]
    obs, reward, terminated, _, info = env.step("<answer>-1</answer>")
    assert terminated and reward == 0.0 and env.unwrapped.answer in obs


def test_no_sandbox_refuses_to_reset_instead_of_playing_refusals(monkeypatch):
    """With no sandbox the environment once reset fine and answered every run_python with a refusal marked
    action_valid=True, so a training run went ahead on an environment that cannot run code."""
    from environments.tools import python_env, sandbox_choice

    monkeypatch.setattr(python_env, "choose_backend", lambda preference=None: None)
    monkeypatch.setattr(sandbox_choice, "choose_backend", lambda preference=None: None)
    monkeypatch.setitem(sandbox_choice._WHY_NONE, "bwrap", "docker: not asked for; bubblewrap: not installed")
    env = agentgym.make("agentgym/PythonTool-v0", split="train", num_tasks=2, sandbox="bwrap")
    with pytest.raises(RuntimeError, match="cannot run code on this machine.*bubblewrap: not installed"):
        env.reset(seed=0)
