"""The frozen reference model of the KL penalty: its log-probs of every sampled response."""

from __future__ import annotations

from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.train.update import score_no_grad


class ReferenceModel(TrainerFeature):
    """Built when ``kl_coef > 0``: a frozen copy of the starting model scores each sample's response (under LoRA,
    the policy's own base with its adapters switched off)."""

    name = "reference"
    data_parallel = True  # each rank scores its block of the samples

    def __init__(self, reference, micro_batch_size: int):
        self.reference = reference
        self.micro_batch_size = micro_batch_size

    @classmethod
    def from_config(cls, config, settings, context: SetupContext) -> ReferenceModel | None:
        if config.kl_coef <= 0:
            return None
        if getattr(context.policy, "is_lora", False):  # the base under the adapters is the starting model: no copy
            reference = context.policy.frozen_copy()
        else:  # the starting weights, also on resume (the policy has moved on from them by then)
            reference = context.load_policy(context.model_path).frozen_copy()
        if context.shard is not None:  # the policy is sharded (fsdp): so is its reference, scored in lockstep
            context.shard(reference.model)
        return cls(reference, config.micro_batch_size)

    def prepare(self, samples) -> None:
        for sample, logprobs in zip(samples, score_no_grad(self.reference, samples, self.micro_batch_size)):
            sample.ref_logprobs = logprobs
