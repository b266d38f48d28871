"""The trained weights as generation engines receive them: one snapshot, full or adapter-only.

A snapshot holds what an engine needs to reproduce the trained policy exactly: every tensor of
a full model's state dict, or only the adapter tensors of a LoRA model (its base weights never
change during training, so they are never sent again). Snapshots are CPU copies taken at one
moment (after an update), so an asynchronous engine can load them while the trainer moves on.
Over HTTP they travel as safetensors bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ADAPTER_ONLY_KEY = "agentgym_adapter_only"
# pushing a snapshot to the project's server (policies.serve, POST /agentgym/weights)
VERSION_HEADER = "X-Agentgym-Policy-Version"  # the policy version of the pushed weights
TOKEN_HEADER = "X-Agentgym-Weights-Token"  # the server's token, when it has one
TOKEN_ENV = "AGENTGYM_WEIGHTS_TOKEN"  # where the server (and a client pushing to it) read that token


@dataclass(frozen=True)
class WeightSnapshot:
    tensors: dict[str, torch.Tensor]
    adapter_only: bool  # LoRA: only the adapter tensors, names as peft's get_peft_model_state_dict gives them

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


def snapshot(model) -> WeightSnapshot:
    """CPU copies of the trainable state of ``model`` (a transformers or peft model)."""
    if hasattr(model, "peft_config"):
        from peft import get_peft_model_state_dict

        state, adapter_only = get_peft_model_state_dict(model), True
    else:
        state, adapter_only = model.state_dict(), False
    # clone: tied tensors (embeddings and LM head) become separate buffers safetensors can write
    tensors = {name: full_tensor(t).detach().to("cpu", copy=True).contiguous() for name, t in state.items()}
    return WeightSnapshot(tensors, adapter_only)


def full_tensor(tensor):
    """A sharded (FSDP2 ``DTensor``) parameter gathered whole; a collective every rank makes in the same order."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def load_snapshot(model, weights: WeightSnapshot) -> None:
    """Copy a snapshot into ``model`` in place. The whole snapshot is checked first (kind, names, shapes,
    dtypes), so a mismatch is an error that leaves the model as it was, never a partial load."""
    expected = expected_tensors(model, weights.adapter_only)
    check_snapshot(expected, weights)
    with torch.no_grad():
        if weights.adapter_only:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(model, weights.tensors)
        else:
            model.load_state_dict(weights.tensors, strict=True)


def expected_tensors(model, adapter_only: bool) -> dict[str, torch.Tensor]:
    """The tensors a snapshot for ``model`` must hold, by name (the model's own, not copies)."""
    if adapter_only:
        if not hasattr(model, "peft_config"):
            raise ValueError("an adapter-only snapshot (LoRA) cannot load into a model without adapters; "
                             "start the engine from the same LoRA policy the trainer trains")
        from peft import get_peft_model_state_dict

        return get_peft_model_state_dict(model)
    if hasattr(model, "peft_config"):
        raise ValueError("a full snapshot cannot load into a LoRA model; the engine and trainer differ")
    return model.state_dict()


def check_snapshot(expected: dict[str, torch.Tensor], weights: WeightSnapshot) -> None:
    """Every expected name present, no other, each with the model's shape and a dtype of the same kind
    (floating-point values may change precision; an integer tensor for a float parameter is refused)."""
    missing = [n for n in expected if n not in weights.tensors]
    unexpected = [n for n in weights.tensors if n not in expected]
    if missing or unexpected:
        kind = "adapter snapshot" if weights.adapter_only else "snapshot"
        raise ValueError(f"{kind} does not match the engine's model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    wrong = [n for n, t in weights.tensors.items() if t.shape != expected[n].shape]
    if wrong:
        raise ValueError(f"snapshot tensors have other shapes than the engine's model: {wrong[:5]}")
    bad = [f"{n} ({t.dtype}, model {expected[n].dtype})" for n, t in weights.tensors.items()
           if t.dtype != expected[n].dtype and not (t.is_floating_point() and expected[n].is_floating_point())]
    if bad:
        raise ValueError(f"snapshot tensors have dtypes the engine's model cannot take: {bad[:5]}")


def to_bytes(weights: WeightSnapshot) -> bytes:
    from safetensors.torch import save

    return save(weights.tensors, metadata={ADAPTER_ONLY_KEY: "1" if weights.adapter_only else "0"})


def from_bytes(data: bytes) -> WeightSnapshot:
    import json
    import struct

    from safetensors.torch import load

    header_len = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else 0
    if not header_len or len(data) < 8 + header_len:
        raise ValueError(f"not a safetensors payload ({len(data)} bytes)")
    header = json.loads(data[8:8 + header_len])
    adapter_only = (header.get("__metadata__") or {}).get(ADAPTER_ONLY_KEY) == "1"
    return WeightSnapshot(load(data), adapter_only)


def write_adapter(folder, lora_config, weights: WeightSnapshot) -> None:
    """An adapter-only snapshot as a peft adapter folder (``adapter_config.json`` and the tensors), the
    form vLLM loads LoRA adapters from."""
    from pathlib import Path

    from safetensors.torch import save_file

    if not weights.adapter_only:
        raise ValueError("write_adapter needs an adapter-only (LoRA) snapshot")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lora_config.save_pretrained(str(folder))
    save_file({n: t.contiguous() for n, t in weights.tensors.items()}, str(folder / "adapter_model.safetensors"))


def from_file(path) -> WeightSnapshot:
    """A snapshot from a safetensors file (a pushed body streamed to disk: read once, never held twice)."""
    import json
    import struct
    from pathlib import Path

    from safetensors.torch import load_file

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        header_len = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        if not header_len or size < 8 + header_len:
            raise ValueError(f"not a safetensors payload ({size} bytes)")
        header = json.loads(f.read(header_len))
    if not isinstance(header, dict):
        raise ValueError("not a safetensors payload (its header is not a JSON object)")
    adapter_only = (header.get("__metadata__") or {}).get(ADAPTER_ONLY_KEY) == "1"
    return WeightSnapshot(load_file(str(path)), adapter_only)
