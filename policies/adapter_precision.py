"""LoRA adapters held in float32 on a bfloat16 (or float16) base, computed in the base's dtype.

peft keeps adapters in float32 (a stable optimiser state) and casts every adapted layer's input
activation to float32 to meet them: a full-size copy in, float32 matmuls, and a copy back, in each of
a model's adapted layers, forward and backward. Under autocast the small adapter weights are cast
down instead and the activations stay in the base's dtype; the float32 weights remain the master copy
that gradients and the optimiser update (mixed precision as on a GPU). On the SmolLM2 update step,
2 CPU cores, this is 1.17-1.26x faster (``bench/lora_precision.py``); log-probs move by the bfloat16
rounding of the adapters' contribution (mean 0.0008, max 0.026 nats per token with random adapters).
Generation and scoring both run under it, so the log-probs a rollout samples with are the ones the
update recomputes.
"""

from __future__ import annotations

import contextlib

import torch

LOW_PRECISION = (torch.bfloat16, torch.float16)


def adapter_compute_dtype(model) -> torch.dtype | None:
    """The base's dtype when float32 LoRA weights sit on a low-precision base; otherwise None."""
    base, adapter = None, None
    for name, param in model.named_parameters():
        if "lora_" in name:
            adapter = adapter or param.dtype
        else:
            base = base or param.dtype
        if base is not None and adapter is not None:
            break
    return base if base in LOW_PRECISION and adapter == torch.float32 else None


def adapter_autocast(model) -> contextlib.AbstractContextManager:
    """Autocast to the base's dtype with peft's input casting off, for such a model; else a no-op."""
    dtype = adapter_compute_dtype(model)
    if dtype is None:
        return contextlib.nullcontext()
    from peft.helpers import disable_input_dtype_casting

    stack = contextlib.ExitStack()
    stack.enter_context(torch.autocast(next(model.parameters()).device.type, dtype=dtype))
    stack.enter_context(disable_input_dtype_casting(model))
    return stack
