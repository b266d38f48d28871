"""What every command that trains a model shares: the starting model, its dtype, the seed and the
optimizer (``ModelTrainingSettings``), declared once for RL (``TrainConfig``) and SFT (``SFTConfig``).

The one default that differs on purpose, the learning rate, is ``None`` here and each command
resolves it (RL updates a warm-started policy gently, SFT fits from scratch).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentgym.util.params import check_choice

MODEL_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(kw_only=True)
class ModelTrainingSettings:
    """model: the starting model, its dtype, the seed and the optimizer"""

    model: str | None = None
    """Model folder or hub id to start from; None = the offline tiny model for `env` (train: SFT-warm-started on
    its expert, built once and cached; sft: freshly built, untrained)."""
    model_dtype: str = "float32"
    """Dtype of the trained weights (float32 | bfloat16 | float16); a reference model and the optimizer follow it."""
    seed: int = 0
    """Seeds Python, numpy and torch, the task sampler or the teacher's episodes, and the example/update order."""
    lr: float | None = None
    """Peak AdamW learning rate; None = the command's own (train 2e-4; sft 3e-3, with warm-up and cosine decay)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip of each optimizer step."""
    lora_rank: int = 0
    """Rank of LoRA adapters on every linear layer; 0 = full fine-tune. The adapters train in float32 on a frozen
    base of model_dtype (bfloat16 base, float32 adapters: fast on a CPU with bf16 support, and no update lost to
    bf16 rounding); the KL reference is the base itself, no copy. A saved adapter folder as `model` keeps training its
    adapters (its KL reference is then the base under them: SFT saves its adapters merged instead)."""
    lora_alpha: float | None = None
    """LoRA scaling numerator (the adapter's output is scaled by lora_alpha / lora_rank); None = 2 x lora_rank."""

    def lora(self) -> dict[str, float] | None:
        """The adapter config the policy loader takes (``HFPolicy.from_pretrained(lora=...)``); None = full."""
        if self.lora_rank == 0:
            return None
        return {"r": self.lora_rank, "lora_alpha": self.lora_alpha or 2 * self.lora_rank}

    def resolve_model_training(self, lr: float) -> None:
        """Fill the command's own learning rate and check the choices (call from ``__post_init__``)."""
        if self.lr is None:
            self.lr = lr
        check_choice(self.model_dtype, MODEL_DTYPES, "model_dtype")
        if self.lora_rank < 0 or (self.lora_alpha is not None and not self.lora_alpha > 0):
            raise ValueError(f"need lora_rank >= 0 (0 = full fine-tune) and lora_alpha > 0, got {self.lora_rank} "
                             f"and {self.lora_alpha}")
        if not self.lr > 0 or self.weight_decay < 0 or not self.max_grad_norm > 0:
            raise ValueError(f"need lr > 0, weight_decay >= 0 and max_grad_norm > 0, got {self.lr}, "
                             f"{self.weight_decay} and {self.max_grad_norm}")
