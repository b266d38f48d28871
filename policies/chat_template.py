"""Chat templates: render prompts to token ids, and refuse templates whose prefixes move.

The trainer scores ``prompt_ids + response_ids`` exactly as sampled, and multi-turn users append
turns to earlier renders. Both silently break when a template rewrites earlier turns (e.g. drops
past reasoning) or when the rendered prompt is not a prefix of the rendered conversation: the
re-scored tokens then differ from the sampled ones and the KL / ratio terms spike. We check this
once, when a policy is built, and fail with an explanation instead.
"""

from __future__ import annotations

from agentgym.core.types import Messages


class ChatTemplateError(ValueError):
    """The tokenizer has no usable chat template, or its renders are not prefix-stable."""


PROBE: Messages = [
    {"role": "system", "content": "You are a careful agent."},
    {"role": "user", "content": "Task: open the box.\nNow: you see a red box."},
    {"role": "assistant", "content": "It is closed.\n<action>open box</action>"},
    {"role": "user", "content": "Now: the box is open. Inside is a key."},
    {"role": "assistant", "content": "<action>take key</action>"},
]


def render(tokenizer, messages: Messages, add_generation_prompt: bool) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise ChatTemplateError(f"{type(tokenizer).__name__} has no chat_template; give the model folder a "
                                "tokenizer_config.json with one (policies.tiny.CHAT_TEMPLATE is a ChatML example).")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def encode_text(tokenizer, text: str) -> list[int]:
    """Token ids of already-rendered text (the template supplies every special token)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_prompt(tokenizer, messages: Messages) -> list[int]:
    """Ids the model conditions on: the chat template with the generation prompt applied."""
    return encode_text(tokenizer, render(tokenizer, messages, add_generation_prompt=True))


def _probe(tokenizer) -> Messages:
    try:
        render(tokenizer, PROBE[:2], add_generation_prompt=True)
        return PROBE
    except ChatTemplateError:
        raise
    except Exception:  # templates that reject a system turn (Gemma-style): probe without it
        return PROBE[1:]


def check_prefix_stability(tokenizer) -> None:
    """Raise ``ChatTemplateError`` unless every turn's render is a text and token prefix of the next."""
    probe = _probe(tokenizer)
    user_turns = [i for i, m in enumerate(probe) if m["role"] == "user"]
    for k in user_turns:
        prompt = render(tokenizer, probe[:k + 1], add_generation_prompt=True)
        answered = render(tokenizer, probe[:k + 2], add_generation_prompt=False)
        _require_prefix(tokenizer, prompt, answered,
                        f"the prompt of turn {k + 1} (with generation prompt) is not a prefix of the same "
                        "conversation with the assistant's answer appended")
    first_answer = render(tokenizer, probe[:user_turns[0] + 2], add_generation_prompt=False)
    full = render(tokenizer, probe, add_generation_prompt=False)
    _require_prefix(tokenizer, first_answer, full,
                    "rendering a later turn changes how an earlier turn is rendered (the template rewrites "
                    "history, e.g. strips past reasoning)")


def _require_prefix(tokenizer, prefix: str, full: str, why: str) -> None:
    if not full.startswith(prefix):
        raise ChatTemplateError(f"Chat template is not prefix-stable: {why}.\n  prefix: {prefix!r}\n"
                                f"  full:   {full!r}\nFix the template (or pass check_template=False if "
                                "you only ever score single-turn prompts you rendered yourself).")
    prefix_ids, full_ids = encode_text(tokenizer, prefix), encode_text(tokenizer, full)
    if full_ids[:len(prefix_ids)] != prefix_ids:
        raise ChatTemplateError(f"Chat template is not token-prefix-stable: {why} after tokenization (a token "
                                f"merges across the boundary).\n  prefix ids: {prefix_ids[-8:]} (last 8)\n"
                                f"  full ids at that point: {full_ids[len(prefix_ids) - 8:len(prefix_ids)]}")
