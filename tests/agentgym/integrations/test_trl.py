"""The TRL adapter (``agentgym.integrations.trl``): the environment side by hand, then TRL 1.16's own
``GRPOTrainer`` for two steps through each way in (``rollout_func`` and ``environment_factory``), every
episode it played checked by replaying its actions on a fresh environment."""

import os

import pytest

import agentgym
from agentgym.integrations.trl import TRLEnvironment, TRLRollout, environment_dataset, environment_factory

ENV = "agentgym/FrozenLake-v0"


def replay(task_id, actions, **env_kwargs):
    """(return, terminated, truncated) of ``actions`` played on a fresh environment."""
    env = agentgym.make(ENV, **env_kwargs)
    env.reset(options={"task_id": task_id})
    total, terminated, truncated = 0.0, False, False
    for action in actions:
        _, reward, terminated, truncated, _ = env.step(action)
        total += reward
        if terminated or truncated:
            break
    return total, terminated, truncated


def test_the_environment_plays_the_rows_task_and_keeps_its_return_and_end():
    pytest.importorskip("datasets", reason="environment_dataset builds a datasets.Dataset (the trl extra)")
    rows = environment_dataset(ENV, 2, seed=5)
    plain = agentgym.make(ENV)
    env = environment_factory(ENV)()
    for seed, row in zip((5, 6), rows):
        assert row["prompt"][0]["content"].endswith("\n\n")  # TRL appends the observation as it is
        assert env.reset(**row) == plain.reset(seed=seed)[0]  # the row's task, not the environment's next seed
    env.reset(**rows[0])
    while not env.terminated:  # the expert's path: FrozenLake pays 1 at the goal
        env.act(env.info["expert_action"])
    assert (env.get_reward(), env.truncated) == (1.0, False)
    assert env.steps == len(env.actions) and replay(rows[0]["task_id"], env.actions) == (1.0, True, False)
    assert env.act("south") == "The episode has already ended; no more actions are taken."
    assert env.steps == len(env.actions)  # nothing was played after the end


def test_the_step_limit_is_truncated_not_terminated():
    env = TRLEnvironment(ENV, max_steps=2)
    env.reset(seed=0)
    env.act("fly")
    last = env.act("fly")
    assert (env.terminated, env.truncated, env.steps) == (False, True, 2)
    assert last.endswith("The episode was cut off at its step limit.")
    with pytest.raises(Exception, match="No environment registered"):
        environment_factory("agentgym/NoSuch-v0")  # at once, not inside TRL's workers


def _trainer_args(tmp_path, **overrides):
    from trl import GRPOConfig

    settings = dict(output_dir=str(tmp_path / "trl"), num_generations=2, max_steps=2, logging_steps=1, report_to=[],
                    use_cpu=True, save_strategy="no", learning_rate=1e-4, bf16=False, dataloader_num_workers=0)
    return GRPOConfig(**{**settings, **overrides})


def test_grpo_trainer_runs_on_the_rollout_func_and_prompts_arrive_repeated(micro_model, tmp_path):
    pytest.importorskip("trl", reason="TRL is an optional extra: pip install -e '.[trl]'")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    calls = []

    class Recorded(TRLRollout):
        def __call__(self, prompts, trainer):
            out = super().__call__(prompts, trainer)
            calls.append(([p[-1]["content"] for p in prompts], out))
            return out

    rollout = Recorded(ENV, max_new_tokens=6)
    dataset = rollout.dataset(4)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(micro_model),
                          processing_class=AutoTokenizer.from_pretrained(micro_model),
                          reward_funcs=TRLRollout.reward_func, rollout_func=rollout, train_dataset=dataset,
                          args=_trainer_args(tmp_path, per_device_train_batch_size=4, max_completion_length=96))
    trainer.train()
    assert len(calls) == 2 and \
        all("rewards/reward_func/mean" in h for h in trainer.state.log_history[:2])
    task_of = {row["prompt"][0]["content"]: row["task_id"] for row in dataset}
    for prompts, out in calls:
        # TRL 1.16 repeats each prompt num_generations times before calling rollout_func (its docstring says not)
        assert len(prompts) == 4 and prompts[0] == prompts[1] and prompts[2] == prompts[3]
        for i, prompt in enumerate(prompts):
            mask, ids = out["env_mask"][i], out["completion_ids"][i]
            assert len(mask) == len(ids) == len(out["logprobs"][i]) <= 96 and mask[0] == 1
            total, terminated, truncated = replay(task_of[prompt], out["actions"][i])
            assert (out["env_reward"][i], out["terminated"][i]) == (total, terminated)
            assert out["truncated"][i] == (truncated or (not terminated and len(ids) == 96))


def test_grpo_trainer_calls_the_environments_tool_and_scores_with_its_return(micro_model, tmp_path):
    """A tiny model taught one tool call (``act("south")``), so TRL's own tool loop steps the environment."""
    pytest.importorskip("trl", reason="TRL is an optional extra: pip install -e '.[trl]'")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer
    from trl.chat_template_utils import add_response_schema, qwen3_chat_template

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    tokenizer = AutoTokenizer.from_pretrained(micro_model)
    tokenizer.chat_template = qwen3_chat_template  # a template that writes and parses tool calls
    tokenizer = add_response_schema(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(micro_model)
    dataset = environment_dataset(ENV, 1)
    env = TRLEnvironment(ENV)
    messages = [{"role": "user", "content": dataset[0]["prompt"][0]["content"] + env.reset(**dataset[0])}]
    prompt = tokenizer(tokenizer.apply_chat_template(messages, tools=[env.act], add_generation_prompt=True,
                                                     tokenize=False), add_special_tokens=False)["input_ids"]
    call = tokenizer('<tool_call>\n{"name": "act", "arguments": {"action": "south"}}\n</tool_call><|im_end|>',
                     add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + call])
    labels = ids.clone()
    labels[0, :len(prompt)] = -100
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    for _ in range(150):
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, train_dataset=dataset,
                          environment_factory=environment_factory(ENV),
                          args=_trainer_args(tmp_path, per_device_train_batch_size=2, max_completion_length=96,
                                             temperature=0.5))
    trainer.train()
    logged = trainer.state.log_history[:2]
    assert all(h["tools/call_frequency"] > 0 and "rewards/TRLEnvironment/mean" in h for h in logged)
    played = [e for e in trainer.environments if e.steps]
    assert played and all(e.actions[0] == "south" for e in played)
    for e in trainer.environments:  # TRL's environment objects hold the last step's episodes
        assert (e.get_reward(), e.terminated, e.truncated) == replay(dataset[0]["task_id"], e.actions)
    assert logged[-1]["rewards/TRLEnvironment/mean"] == pytest.approx(
        sum(e.get_reward() for e in trainer.environments) / len(trainer.environments))
