"""Grading final answers: SQuAD-style exact match and token F1 for text, tolerant matching for
numbers and for lists of values (SQL results), so formatting alone never fails a right answer."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalise_text(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (the SQuAD normalisation)."""
    text = _ARTICLES.sub(" ", str(text).lower().translate(_PUNCT))
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> bool:
    return normalise_text(prediction) == normalise_text(truth)


def token_f1(prediction: str, truth: str) -> float:
    pred, gold = normalise_text(prediction).split(), normalise_text(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def values_match(prediction: Any, truth: Any, tolerance: float = 0.01) -> bool:
    """One value against another: numbers within ``tolerance`` (absolute; so integers must be exact),
    text by normalised equality."""
    a, b = _as_number(prediction), _as_number(truth)
    if a is not None and b is not None:
        return abs(a - b) <= tolerance + 1e-12 * abs(b)
    return normalise_text(str(prediction)) == normalise_text(str(truth))


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().rstrip(".").replace("$", "").replace("%", "")
    if _NUMBER.fullmatch(text):
        return float(text.replace(",", ""))
    return None


def split_list(answer: str) -> list[str]:
    """An answer given as a JSON list, or as items separated by commas, semicolons or new lines."""
    text = answer.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
            if isinstance(items, list):
                return [str(_unwrap(item)) for item in items]
        except json.JSONDecodeError:
            pass
    parts = re.split(r"[;\n]|,(?!\d{3}\b)", text.strip("[]"))
    return [p.strip().strip("'\"") for p in parts if p.strip().strip("'\"")]


def _unwrap(item: Any) -> Any:
    while isinstance(item, list) and len(item) == 1:
        item = item[0]
    return item


def grade_value(answer: str, truth: Any) -> bool:
    """A single expected value; a lone number inside a sentence ("The total is 42.") also counts."""
    text = answer.strip().strip("'\"")
    if text.startswith("["):
        items = split_list(text)
        text = items[0] if len(items) == 1 else text
    if values_match(text, truth):
        return True
    if _as_number(truth) is not None:
        numbers = _NUMBER.findall(text)
        return len(numbers) == 1 and values_match(numbers[0], truth)
    return False


def grade_list(answer: str, truth: list[Any]) -> float:
    """Fraction-style F1 between the answered items and the expected items (order ignored)."""
    items = split_list(answer)
    if not items or not truth:
        return float(not items and not truth)
    unmatched = list(truth)
    hits = 0
    for item in items:
        for i, expected in enumerate(unmatched):
            if values_match(item, expected):
                hits += 1
                del unmatched[i]
                break
    if hits == 0:
        return 0.0
    precision, recall = hits / len(items), hits / len(truth)
    return 2 * precision * recall / (precision + recall)
