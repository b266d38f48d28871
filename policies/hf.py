"""The transformers policy: sampling with log-probs/entropies, teacher-forced scoring, LoRA, save/load.

``HFPolicy`` is the ``TrainablePolicy`` the trainer updates in place. Conventions:

* ``Generation.prompt_ids`` are the ids of the chat template with the generation prompt applied,
  ``token_ids`` the sampled ids (EOS kept when generated, no padding).
* ``Generation.logprobs`` are log-probs of the sampled tokens under the **temperature-1**
  distribution, whatever the sampling temperature / top-p, so they compare directly with
  ``score(...)`` (also temperature 1). ``entropies`` are entropies of the full temperature-1
  next-token distribution.
* Stop strings end a response; the text keeps the stop string (``"</action>"`` must survive for
  ``parse_action``) and ``token_ids`` end with the token that completed it.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from agentgym.core.policy import Generation, SamplingParams
from agentgym.core.types import Messages
from agentgym.util.padding import left_pad, positions
from policies.adapter_precision import adapter_autocast
from policies.chat_template import check_prefix_stability, encode_prompt, encode_text
from policies.cpu_bf16 import warn_if_bf16_is_emulated
from policies.decoding import StopStrings, decode, token_entropy

POLICY_FILE = "agentgym_policy.json"
DTYPES = {"auto": "auto", "float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
DEFAULT_LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "target_modules": "all-linear"}


class HFPolicy:
    """A causal LM from ``from_pretrained`` behind the ``Policy`` / ``TrainablePolicy`` protocol."""

    def __init__(self, model, tokenizer, check_template: bool = True, max_batch_size: int | None = None,
                 source: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.source = source
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if check_template:
            check_prefix_stability(tokenizer)
        self.eos_ids = _eos_ids(model, tokenizer)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, dtype: str | torch.dtype = "float32", device: str | None = None,
                        lora: dict[str, Any] | bool | None = None, trainable: bool = True,
                        attn_implementation: str | None = None, **kwargs: Any) -> HFPolicy:
        """Load a model folder, hub id (from the local HF cache), or a saved LoRA policy.

        ``lora``: True or a peft ``LoraConfig`` dict wraps the model in fresh adapters. ``dtype="auto"``: the
        dtype the folder was saved in.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = str(path)
        dtype = DTYPES[dtype] if isinstance(dtype, str) else dtype
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        adapter = Path(path, "adapter_config.json")
        base_path = json.loads(adapter.read_text())["base_model_name_or_path"] if adapter.exists() else path
        extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
        model = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype, **extra).to(device)
        if str(device).startswith("cpu") and next(model.parameters()).dtype == torch.bfloat16:
            warn_if_bf16_is_emulated(int(getattr(model.config, "hidden_size", 1024) or 1024))
        tokenizer = AutoTokenizer.from_pretrained(path)
        if adapter.exists():
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, path, is_trainable=trainable)
        elif lora:
            model = _wrap_lora(model, DEFAULT_LORA if lora is True else {**DEFAULT_LORA, **lora})
        if not trainable:
            model.requires_grad_(False)
        model.eval()
        return cls(model, tokenizer, source=path, **kwargs)

    load = from_pretrained

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def is_lora(self) -> bool:
        return hasattr(self.model, "peft_config")

    # ---- encoding -----------------------------------------------------------------------------
    def encode_prompts(self, prompts: Sequence[Messages]) -> list[list[int]]:
        return [encode_prompt(self.tokenizer, p) for p in prompts]

    def count_prompt_tokens(self, prompts: Sequence[Messages]) -> list[int]:
        """Prompt lengths in tokens, as ``generate`` will see them (the rollout's context guard)."""
        return [len(ids) for ids in self.encode_prompts(prompts)]

    @property
    def context_length(self) -> int | None:
        """The most positions the model takes (prompt and response together); None when it does not say."""
        config = getattr(self.model, "config", None)
        value = getattr(config, "max_position_embeddings", None)
        return int(value) if value else None

    def encode_response(self, text: str, add_eos: bool = True) -> list[int]:
        """Ids of a target response as the model would emit it (EOS appended), for SFT and scoring."""
        ids = encode_text(self.tokenizer, text)
        return ids + [self.eos_ids[0]] if add_eos else ids

    # ---- sampling -----------------------------------------------------------------------------
    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        """One response per prompt; one left-padded batched decode per ``max_batch_size`` chunk."""
        sampling = sampling or SamplingParams()
        prompt_ids = self.encode_prompts(prompts)
        size = self.max_batch_size or max(1, len(prompt_ids))
        out: list[Generation] = []
        for start in range(0, len(prompt_ids), size):
            out.extend(self.generate_ids(prompt_ids[start:start + size], sampling))
        return out

    def generate_ids(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        """Sample from already-tokenised prompts (the serving path and benchmarks use this)."""
        if not prompt_ids:
            return []
        stops = StopStrings(self.tokenizer, sampling.stop)
        with adapter_autocast(self.model):
            decoded = decode(self.model, prompt_ids, sampling, self.eos_ids, self.tokenizer.pad_token_id, stops)
        out = []
        for ids, p_ids, lps, ents, reason in zip(decoded.token_ids, prompt_ids, decoded.logprobs,
                                                 decoded.entropies, decoded.finish_reasons):
            text = stops.cut(self.tokenizer.decode(ids, skip_special_tokens=True))
            out.append(Generation(text=text, prompt_ids=list(p_ids), token_ids=ids, logprobs=lps,
                                  entropies=ents, finish_reason=reason))
        return out

    # ---- scoring ------------------------------------------------------------------------------
    def score(self, prompt_ids: list[list[int]], response_ids: list[list[int]],
              with_entropy: bool = False) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Teacher-forced (logprobs, entropies | None, mask), each float32 (B, T_resp), right-padded.

        Runs with gradients (unless called under ``torch.no_grad``). Prompts are left-padded and
        responses right-padded so every response starts at the same column and only the response
        positions go through the LM head.
        """
        if len(prompt_ids) != len(response_ids) or not prompt_ids:
            raise ValueError("score needs as many (non-empty list of) prompts as responses")
        device = self.device
        width = max(1, max(len(r) for r in response_ids))
        p_ids, p_mask = left_pad(prompt_ids, self.tokenizer.pad_token_id, device)  # (B, P)
        r_ids = torch.full((len(response_ids), width), self.tokenizer.pad_token_id, dtype=torch.long)
        r_mask = torch.zeros((len(response_ids), width), dtype=torch.long)
        for i, row in enumerate(response_ids):
            r_ids[i, :len(row)] = torch.as_tensor(row, dtype=torch.long)
            r_mask[i, :len(row)] = 1
        r_ids, r_mask = r_ids.to(device), r_mask.to(device)
        ids, mask = torch.cat([p_ids, r_ids], 1), torch.cat([p_mask, r_mask], 1)  # (B, P + T)
        with adapter_autocast(self.model):
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions(mask), use_cache=False,
                             logits_to_keep=width + 1)
        logp = torch.log_softmax(out.logits[:, :-1].float(), dim=-1)  # (B, T, V): column j predicts token j
        token_logp = logp.gather(-1, r_ids[..., None]).squeeze(-1)  # (B, T)
        r_maskf = r_mask.float()
        entropy = token_entropy(logp) * r_maskf if with_entropy else None
        return token_logp * r_maskf, entropy, r_maskf

    def logprobs(self, prompts: list[Messages], responses: list[str], add_eos: bool = True) -> list[list[float]]:
        """Teacher-forced temperature-1 log-probs of response texts (no gradients), per token."""
        prompt_ids = self.encode_prompts(prompts)
        response_ids = [self.encode_response(r, add_eos) for r in responses]
        with torch.no_grad():
            logp, _, mask = self.score(prompt_ids, response_ids)
        return [row[:int(m.sum())] for row, m in zip(logp.tolist(), mask)]

    # ---- persistence and reference ------------------------------------------------------------
    def save(self, path: str | os.PathLike, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """An HF folder (or a peft adapter folder pointing at its base) that ``from_pretrained`` reloads.

        ``state_dict``: the weights to write instead of the model's own (the gathered full weights of
        a model sharded over data-parallel ranks).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path, **({"state_dict": state_dict} if state_dict is not None else {}))
        self.tokenizer.save_pretrained(path)
        meta = {"kind": "hf", "lora": self.is_lora, "dtype": str(next(self.model.parameters()).dtype),
                "source": self.source}
        (path / POLICY_FILE).write_text(json.dumps(meta, indent=2))

    def save_merged(self, path: str | os.PathLike) -> None:
        """A plain model folder with any LoRA adapters folded into the base weights (in the base's dtype).

        An SFT warm start is saved this way, so RL's fresh adapters sit on the fine-tuned weights and the
        KL reference (the base with the adapters off) is the SFT model, not the model before it.
        Under LoRA the adapters are merged in place: the policy is a plain model afterwards.
        """
        if self.is_lora:
            self.model = self.model.merge_and_unload()
        self.save(path)

    def frozen_copy(self) -> HFPolicy:
        """A frozen reference policy for the KL term.

        Full models are deep-copied (weights only, no optimizer state). LoRA policies share the base
        weights: the reference is the model with adapters disabled, i.e. the base model.
        """
        if self.is_lora:
            return _AdapterDisabledPolicy(self)
        model = copy.deepcopy(self.model).requires_grad_(False).eval()
        ref = HFPolicy.__new__(HFPolicy)
        ref.__dict__.update(self.__dict__)
        ref.model = model
        return ref


class _AdapterDisabledPolicy(HFPolicy):
    """The base model under a LoRA policy, scored and sampled with adapters switched off."""

    def __init__(self, policy: HFPolicy):
        self.__dict__.update(policy.__dict__)

    def score(self, prompt_ids, response_ids, with_entropy=False):
        with torch.no_grad(), self.model.disable_adapter():
            return super().score(prompt_ids, response_ids, with_entropy)

    def generate_ids(self, prompt_ids, sampling):
        with self.model.disable_adapter():
            return super().generate_ids(prompt_ids, sampling)

    def save(self, path):
        raise TypeError("a LoRA reference view shares weights with its policy; save the policy instead")


def _wrap_lora(model, config: dict[str, Any]):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **config))


def _eos_ids(model, tokenizer) -> list[int]:
    ids: list[int] = []
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (tokenizer.eos_token_id, gen_eos, getattr(model.config, "eos_token_id", None)):
        for v in (value if isinstance(value, list | tuple) else [value]):
            if v is not None and int(v) not in ids:
                ids.append(int(v))
    if not ids:
        raise ValueError("the model has no EOS token id (tokenizer.eos_token / generation_config.eos_token_id)")
    return ids

