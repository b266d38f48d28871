"""What the policy server (``policies.serve``) answers: OpenAI's completion objects and their streams.

The text follows OpenAI's conventions (the stop string removed unless ``include_stop_str_in_output``,
``finish_reason``, ``usage``, ``logprobs``); ``return_token_ids`` adds vLLM's ``prompt_token_ids`` and
``token_ids``; every object names the policy version that produced it (``agentgym_policy_version``).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from agentgym.core.policy import Generation


def _visible_text(gen: Generation, body: dict[str, Any]) -> str:
    """The response text as OpenAI returns it: the stop string removed unless ``include_stop_str_in_output``."""
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    stop_hit = next((s for s in stops if s and gen.text.endswith(s)), None)
    return gen.text[:-len(stop_hit)] if stop_hit and not body.get("include_stop_str_in_output") else gen.text


def _usage(gens: list[Generation]) -> dict[str, int]:
    prompt, completion = sum(len(g.prompt_ids) for g in gens), sum(len(g.token_ids) for g in gens)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_response(model: str, gen: Generation, body: dict[str, Any], tokenizer=None,
                        version: int | None = None) -> dict[str, Any]:
    """A chat completion (``/v1/chat/completions``) for one generation."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": _visible_text(gen, body)},
                              "finish_reason": gen.finish_reason, "logprobs": None}
    if body.get("logprobs") and gen.logprobs:
        tokens = tokenizer.convert_ids_to_tokens(gen.token_ids) if tokenizer is not None else [""] * len(gen.logprobs)
        choice["logprobs"] = {"content": [{"token": t, "logprob": lp, "top_logprobs": []}
                                          for t, lp in zip(tokens, gen.logprobs)]}
    if body.get("return_token_ids"):
        choice["token_ids"] = gen.token_ids
    out = {"id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion", "created": int(time.time()),
           "model": model, "choices": [choice], "usage": _usage([gen]), "agentgym_policy_version": version}
    if body.get("return_token_ids"):
        out["prompt_token_ids"] = gen.prompt_ids
    return out


def text_completion_response(model: str, results: list[tuple[Generation, int]], body: dict[str, Any],
                             tokenizer=None) -> dict[str, Any]:
    """A text completion (``/v1/completions``) with one choice per prompt, in the prompts' order."""
    choices = []
    for index, (gen, version) in enumerate(results):
        choice: dict[str, Any] = {"index": index, "text": _visible_text(gen, body), "finish_reason": gen.finish_reason,
                                  "logprobs": None, "agentgym_policy_version": version}
        if body.get("logprobs") is not None and gen.logprobs:
            tokens = tokenizer.convert_ids_to_tokens(gen.token_ids) if tokenizer is not None else [""] * len(gen.token_ids)
            choice["logprobs"] = {"tokens": tokens, "token_logprobs": gen.logprobs, "top_logprobs": None,
                                  "text_offset": None}
        if body.get("return_token_ids"):
            choice["prompt_token_ids"], choice["token_ids"] = gen.prompt_ids, gen.token_ids
        choices.append(choice)
    versions = {v for _, v in results}
    return {"id": f"cmpl-{uuid.uuid4().hex[:16]}", "object": "text_completion", "created": int(time.time()),
            "model": model, "choices": choices, "usage": _usage([g for g, _ in results]),
            "agentgym_policy_version": versions.pop() if len(versions) == 1 else None}


def sse_response(chunks: list[dict[str, Any]]):
    """Server-sent events as OpenAI streams them: one ``data:`` line per chunk, then ``data: [DONE]``."""
    async def events():
        for chunk in chunks:
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    from fastapi.responses import StreamingResponse

    return StreamingResponse(events(), media_type="text/event-stream")


def chat_chunks(response: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A finished chat completion as OpenAI's stream of ``chat.completion.chunk`` objects (the whole text in
    one content chunk: this server decodes a batch at once, so the text is complete when the stream begins)."""
    choice = response["choices"][0]
    base = {k: response[k] for k in ("id", "created", "model", "agentgym_policy_version")}
    base["object"] = "chat.completion.chunk"
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
              {**base, "choices": [{"index": 0, "delta": {"content": choice["message"]["content"]},
                                    "logprobs": choice.get("logprobs"), "finish_reason": None}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}]
    if include_usage:
        chunks.append({**base, "choices": [], "usage": response["usage"]})
    return chunks


def text_chunks(response: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A finished text completion as OpenAI's stream: one chunk per choice, then the usage if asked for."""
    base = {k: response[k] for k in ("id", "object", "created", "model", "agentgym_policy_version")}
    chunks = [{**base, "choices": [choice]} for choice in response["choices"]]
    if include_usage:
        chunks.append({**base, "choices": [], "usage": response["usage"]})
    return chunks
