"""What the policy server (``policies.serve``) accepts: request bodies checked before they reach a batch.

Every client mistake is found here and answered ``4xx`` in OpenAI's error shape
(``{"error": {"message", "type", "param", "code"}}``), so a bad request is refused on its own and never
joins a batch where it could fail the requests decoded with it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from agentgym.core.policy import SamplingParams

ROLES = ("system", "developer", "user", "assistant", "tool")


class ClientError(Exception):
    """A request the server refuses; ``status`` 4xx, ``param`` the field at fault (OpenAI's error shape)."""

    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 code: str | None = None, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.message, self.param, self.status, self.code, self.kind = message, param, status, code, kind

    def body(self) -> dict[str, Any]:
        return error_json(self.message, self.kind, self.param, self.code)


def error_json(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def parse_body(raw: bytes) -> dict[str, Any]:
    """The request's JSON object; anything else (bad JSON, a list, a number) is the client's error."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # ValueError: bad JSON, or an integer of over 4,300 digits
        raise ClientError(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise ClientError(f"the body must be a JSON object, not {type(body).__name__}")
    return body


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ClientError(f"'{name}' must be a number, got {value!r}", name)
    if not low <= value <= high:
        raise ClientError(f"'{name}' must be between {low} and {high}, got {value}", name)
    return float(value)


def _integer(body: dict[str, Any], name: str, low: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClientError(f"'{name}' must be an integer, got {value!r}", name)
    if low is not None and value < low:
        raise ClientError(f"'{name}' must be >= {low}, got {value}", name)
    return value


def sampling_from_request(body: dict[str, Any], default_max_tokens: int = 256,
                          max_tokens_cap: int | None = None) -> SamplingParams:
    """The sampling settings of a request, each checked (type and range)."""
    temperature = _number(body, "temperature", 1.0, 0.0, 100.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    if top_p <= 0:
        raise ClientError("'top_p' must be > 0", "top_p")
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = _integer(body, name, low=1) or default_max_tokens
    if max_tokens_cap is not None and max_tokens > max_tokens_cap:
        raise ClientError(f"'{name}' is {max_tokens}; this model takes at most {max_tokens_cap} positions", name)
    stop = body.get("stop")
    if stop is None:
        stop = ()
    elif isinstance(stop, str):
        stop = (stop,)
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stop = tuple(stop)
    else:
        raise ClientError(f"'stop' must be a string or a list of strings, got {stop!r}", "stop")
    seed = _integer(body, "seed")
    if seed is not None and not -2**63 <= seed < 2**64:
        raise ClientError("'seed' must fit in 64 bits", "seed")
    n = _integer(body, "n", low=1)
    if n not in (None, 1):
        raise ClientError("only n=1 is supported", "n")
    if not isinstance(body.get("stream", False), bool):
        raise ClientError("'stream' must be true or false", "stream")
    return SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=max_tokens, stop=stop, seed=seed,
                          greedy=temperature <= 0)


def check_messages(messages: Any) -> list[dict[str, str]]:
    """A chat's messages as the chat template takes them: roles it knows, text content (text parts joined)."""
    if not isinstance(messages, list) or not messages:
        raise ClientError("'messages' must be a non-empty list", "messages")
    out = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise ClientError(f"{where} must be an object with 'role' and 'content'", where)
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ClientError(f"{where}.role must be one of {list(ROLES)}, got {role!r}", f"{where}.role")
        if isinstance(content, list):  # content parts: only text can reach a text model
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                       for p in content):
                raise ClientError(f"{where}.content: only text parts are supported", f"{where}.content")
            content = "".join(p["text"] for p in content)
        if content is None and role == "assistant":
            content = ""
        if not isinstance(content, str):
            raise ClientError(f"{where}.content must be a string, got {type(content).__name__}",
                              f"{where}.content")
        out.append({"role": "system" if role == "developer" else role, "content": content})
    return out


def prompt_ids(prompt: Any, tokenizer, vocab_size: int | None, context_length: int | None) -> list[list[int]]:
    """``prompt`` of a completions request (a text, token ids, or a list of either) as token-id lists, each id
    inside the vocabulary and each prompt shorter than the model's context."""
    from policies.chat_template import encode_text

    def one(item: Any, where: str) -> list[int]:
        if isinstance(item, str):
            if tokenizer is None:
                raise ClientError("this policy has no tokenizer: send token ids", where)
            ids = encode_text(tokenizer, item)
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            ids = list(item)
        else:
            raise ClientError("'prompt' must be a text, a non-empty list of token ids, or a list of those", where)
        if not ids:
            raise ClientError("a prompt encodes to no tokens", where)
        if vocab_size is not None and not all(0 <= t < vocab_size for t in ids):
            bad = next(t for t in ids if not 0 <= t < vocab_size)
            raise ClientError(f"token id {bad} is outside the vocabulary (0..{vocab_size - 1})", where)
        if context_length is not None and len(ids) >= context_length:
            raise ClientError(f"a prompt of {len(ids)} tokens leaves no room in the model's context of "
                              f"{context_length}", where)
        return ids

    if isinstance(prompt, str) or (isinstance(prompt, list) and prompt and isinstance(prompt[0], int)
                                   and not isinstance(prompt[0], bool)):
        return [one(prompt, "prompt")]
    if not isinstance(prompt, list) or not prompt:
        raise ClientError("'prompt' must be a text, token ids, or a non-empty list of those", "prompt")
    return [one(item, f"prompt[{i}]") for i, item in enumerate(prompt)]
