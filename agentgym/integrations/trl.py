"""Any registered environment for TRL's ``GRPOTrainer``, in one line, two ways (docs/openenv.md, "TRL").

``environment_factory("agentgym/FrozenLake-v1")`` is a TRL ``environment_factory``: each rollout gets a
``TRLEnvironment`` whose ``reset`` returns the first observation (TRL appends it to the prompt) and whose
one tool, ``act(action)``, steps the environment; ``get_reward`` returns the environment's own return. The
model must call tools through its chat template (TRL checks that the template supports tool calling).
``environment_dataset`` builds prompts that name a task each.

``TRLRollout("agentgym/FrozenLake-v1")`` is a TRL ``rollout_func`` for any causal LM with a chat template:
it plays whole episodes with the trainer's model, turn by turn, as one completion (the observations
between the actions masked out of the loss with ``env_mask``), and returns the environment's return,
``terminated``, ``truncated`` and the actions per completion; ``reward_func`` reads the return. Its ``dataset(n)``
builds the prompts, one task each, and remembers which task a prompt is.

TRL 1.16 hands ``rollout_func`` the prompts already repeated ``num_generations`` times (its docstring says
it gets them without duplication): one episode per prompt received, so a group of equal prompts is a
group of episodes on one task. Nothing here imports TRL; the trainer passes itself in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agentgym.core.registry import make

ACT_INSTRUCTION = "Solve the task by calling the act tool with one action at a time."


class TRLEnvironment:
    """One agentgym environment as a TRL environment: ``reset``, the tool ``act`` and ``get_reward``.

    ``terminated``, ``truncated``, ``total_reward``, ``steps``, ``actions`` and ``info`` keep the episode's state for
    reward functions (TRL passes the environments to them as ``environments``).
    """

    def __init__(self, env_id: str, split: str = "train", **env_kwargs: Any):
        self._env = make(env_id, split=split, **env_kwargs)
        self._next_seed = 0
        self._clear()

    def _clear(self) -> None:
        self.terminated = False
        self.truncated = False
        self.total_reward = 0.0
        self.steps = 0
        self.actions: list[str] = []
        self.info: dict[str, Any] = {}

    def reset(self, task_id: str | None = None, seed: int | None = None, **row: Any) -> str:
        """A new episode on the dataset row's ``task_id`` (or ``seed``), else on the next seed of this
        environment; the row's other columns (the prompt) are TRL's business."""
        self._clear()
        if task_id is not None:
            observation, info = self._env.reset(options={"task_id": str(task_id)})
        else:
            if seed is None:
                seed, self._next_seed = self._next_seed, self._next_seed + 1
            observation, info = self._env.reset(seed=int(seed))
        self.info = dict(info)
        return observation

    def act(self, action: str) -> str:
        """Take one action in the environment and read what happens.

        Args:
            action: The action to take, as text (for example "south" or "go to the kitchen").

        Returns:
            The environment's observation after the action, and whether the episode has ended.
        """
        if self.terminated or self.truncated:
            return "The episode has already ended; no more actions are taken."
        self.actions.append(str(action))
        observation, reward, terminated, truncated, info = self._env.step(str(action))
        self.total_reward += float(reward)
        self.terminated, self.truncated = bool(terminated), bool(truncated)
        self.steps += 1
        self.info = dict(info)
        if terminated:
            observation += "\nThe episode has ended."
        elif truncated:
            observation += "\nThe episode was cut off at its step limit."
        return observation

    def get_reward(self) -> float:
        """The environment's own return for this episode (the sum of its rewards)."""
        return self.total_reward


def environment_factory(env_id: str, split: str = "train", **env_kwargs: Any) -> Callable[[], TRLEnvironment]:
    """``GRPOTrainer(environment_factory=environment_factory("agentgym/FrozenLake-v1"))``."""
    make(env_id, split=split, **env_kwargs).close()  # a bad id or kwargs fail here, not inside TRL

    def factory() -> TRLEnvironment:
        return TRLEnvironment(env_id, split, **env_kwargs)

    factory.__name__ = f"environment_factory[{env_id}]"
    return factory


def environment_dataset(env_id: str, n: int, split: str = "train", seed: int = 0,
                        instruction: str = ACT_INSTRUCTION, **env_kwargs: Any):
    """``n`` rows for ``environment_factory``: the instruction as the prompt (``reset`` appends the task's
    first observation) and the ``task_id`` of seed ``seed + i``, which ``reset`` plays."""
    from datasets import Dataset

    env = make(env_id, split=split, **env_kwargs)
    try:
        task_ids = [str(env.reset(seed=s)[1]["task_id"]) for s in range(seed, seed + n)]
    finally:
        env.close()
    content = instruction.rstrip() + "\n\n"  # TRL appends the first observation to it as it is
    return Dataset.from_list([{"prompt": [{"role": "user", "content": content}], "task_id": t} for t in task_ids])


class TRLRollout:
    """A TRL ``rollout_func`` playing whole episodes of ``env_id`` with the trainer's model.

    Each turn the model continues the episode's tokens so far (prompt, its earlier actions and the
    observations between them, each observation a user turn of the chat template), samples at most
    ``max_new_tokens`` tokens at the trainer's temperature and top_p, and the decoded text is the action.
    The completion ends with the episode, or when the trainer's ``max_completion_length`` is spent: then
    ``truncated`` is True (a limit ended it, as the environment's own step limit would).
    """

    def __init__(self, env_id: str, split: str = "train", max_new_tokens: int = 32, **env_kwargs: Any):
        self.env_id, self.split, self.max_new_tokens = env_id, split, int(max_new_tokens)
        self._env = make(env_id, split=split, **env_kwargs)
        self._task_of: dict[str, str] = {}

    def dataset(self, n: int, seed: int = 0):
        """``n`` prompts (the first observations of seeds ``seed..seed+n-1``) as a ``datasets.Dataset``. A
        prompt is matched back to its task by its text: tasks with the same first observation play as the
        first of them."""
        from datasets import Dataset

        rows = []
        for s in range(seed, seed + n):
            observation, info = self._env.reset(seed=s)
            self._task_of.setdefault(observation, str(info["task_id"]))
            rows.append({"prompt": [{"role": "user", "content": observation}], "task_id": str(info["task_id"])})
        return Dataset.from_list(rows)

    def __call__(self, prompts: Sequence[Any], trainer: Any) -> dict[str, list]:
        """One episode per prompt (TRL repeats each prompt ``num_generations`` times before this call)."""
        out: dict[str, list] = {k: [] for k in ("prompt_ids", "completion_ids", "logprobs", "env_mask",
                                                 "env_reward", "terminated", "truncated", "actions")}
        for prompt in prompts:
            for key, value in self.play(prompt, trainer).items():
                out[key].append(value)
        return out

    def play(self, prompt: Any, trainer: Any) -> dict[str, Any]:
        import torch

        model = trainer.accelerator.unwrap_model(trainer.model)
        tokenizer, args = trainer.processing_class, trainer.args
        messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}]
        task_id = self._task_of.get(messages[-1]["content"])
        if task_id is None:
            raise ValueError("rollout_func got a prompt that TRLRollout.dataset did not make; build the "
                             "train_dataset with TRLRollout.dataset(n)")
        self._env.reset(options={"task_id": task_id})
        prompt_ids = _ids(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True))
        budget = args.max_completion_length
        completion: list[int] = []
        logprobs: list[float] = []
        mask: list[int] = []
        total, terminated, truncated, actions = 0.0, False, False, []
        while len(completion) < budget:
            context = torch.tensor([prompt_ids + completion], device=model.device)
            with torch.no_grad():
                generated = model.generate(
                    context, attention_mask=torch.ones_like(context), do_sample=True, temperature=args.temperature,
                    top_p=args.top_p, max_new_tokens=min(self.max_new_tokens, budget - len(completion)),
                    return_dict_in_generate=True, output_logits=True, pad_token_id=tokenizer.pad_token_id)
            new = generated.sequences[0, context.shape[1]:]
            scores = torch.log_softmax(torch.stack(generated.logits, 1)[0].float() / args.temperature, -1)
            completion += new.tolist()
            logprobs += scores.gather(-1, new[:, None])[:, 0].tolist()
            mask += [1] * len(new)
            actions.append(tokenizer.decode(new, skip_special_tokens=True))
            observation, reward, terminated, truncated, _ = self._env.step(actions[-1])
            total += float(reward)
            if terminated or truncated:
                break
            turn = self._observation_turn(tokenizer, observation, ended=bool(len(new)) and
                                          new[-1].item() == tokenizer.eos_token_id)
            completion += turn
            logprobs += [0.0] * len(turn)
            mask += [0] * len(turn)
        if len(completion) >= budget and not terminated:
            truncated = True
        return {"prompt_ids": prompt_ids, "completion_ids": completion[:budget], "logprobs": logprobs[:budget],
                "env_mask": mask[:budget], "env_reward": total, "terminated": bool(terminated),
                "truncated": bool(truncated), "actions": actions}

    @staticmethod
    def _observation_turn(tokenizer: Any, observation: str, ended: bool) -> list[int]:
        """The tokens of a user turn holding ``observation`` and the next assistant header, as the chat
        template writes them after a conversation (no second system prompt or BOS); the end-of-turn token
        first when the model's action did not end with it."""
        user = {"role": "user", "content": observation}
        before = tokenizer.apply_chat_template([{"role": "user", "content": "."}], tokenize=False)
        after = tokenizer.apply_chat_template([{"role": "user", "content": "."}, user], add_generation_prompt=True,
                                              tokenize=False)
        text = after[len(before):] if after.startswith(before) else \
            tokenizer.apply_chat_template([user], add_generation_prompt=True, tokenize=False)
        ids = _ids(tokenizer(text, add_special_tokens=False))
        return ids if ended or tokenizer.eos_token_id is None else [tokenizer.eos_token_id, *ids]

    @staticmethod
    def reward_func(completions: Sequence[Any], env_reward: Sequence[float], **kwargs: Any) -> list[float]:
        """The environment's return of each completion's episode (pass as ``reward_funcs``)."""
        return [float(r) for r in env_reward]


def _ids(rendered: Any) -> list[int]:
    """``apply_chat_template(tokenize=True)`` and a tokenizer call give a list of ids or a BatchEncoding."""
    return list(rendered["input_ids"] if hasattr(rendered, "keys") else rendered)
