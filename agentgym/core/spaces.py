"""Free-text spaces for language environments.

gymnasium's ``spaces.Text`` only admits a fixed character set, so it rejects the spaces and
punctuation every natural-language observation and action contains. ``FreeText`` checks type and
length only. It also registers FreeText with gymnasium's shared-memory functions, so
``gymnasium.make_vec(..., vectorization_mode="async")`` works at its default ``shared_memory=True``:
each environment gets a slot of ``4 * max_length`` bytes (UTF-8 needs at most 4 per character)
behind a 4-byte length. gymnasium reads the shared memory once, when the vector env is built, and
expects a live view (as for arrays); ``SharedTexts`` is that view, and a copy of it (``copy=True``,
the default) is a plain tuple, as in a sync vector env.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

_SAMPLE_ALPHABET = string.ascii_letters + string.digits + " .,;:!?'-[]()<>/"


class FreeText(spaces.Space[str]):
    """Any Python ``str`` of at most ``max_length`` characters."""

    def __init__(self, max_length: int = 100_000, seed: int | np.random.Generator | None = None):
        if max_length <= 0:
            raise ValueError(f"max_length must be positive, got {max_length}")
        self.max_length = int(max_length)
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A short random string (for smoke tests); real actions come from a policy."""
        length = int(self.np_random.integers(0, min(self.max_length, 64) + 1))
        chars = self.np_random.choice(list(_SAMPLE_ALPHABET), size=length)
        return "".join(chars)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"FreeText(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FreeText) and other.max_length == self.max_length


_LENGTH_BYTES = 4


def _slot_bytes(space: FreeText) -> int:
    return _LENGTH_BYTES + 4 * space.max_length


def _slots(space: FreeText, shared_memory: Any, n: int) -> np.ndarray:
    return np.frombuffer(shared_memory.get_obj(), dtype=np.uint8).reshape(n, _slot_bytes(space))


@create_shared_memory.register(FreeText)
def _create_free_text_memory(space: FreeText, n: int = 1, ctx: Any = None) -> Any:
    import multiprocessing

    return (ctx or multiprocessing).Array("B", n * _slot_bytes(space))


class SharedTexts(Sequence):
    """The texts in a FreeText shared memory, read when indexed: what the workers wrote last."""

    def __init__(self, slots: np.ndarray):
        self._slots = slots

    def __len__(self) -> int:
        return len(self._slots)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        slot = self._slots[index]
        length = int.from_bytes(slot[:_LENGTH_BYTES].tobytes(), "little")
        return slot[_LENGTH_BYTES:_LENGTH_BYTES + length].tobytes().decode("utf-8")

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __copy__(self) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"SharedTexts({tuple(self)!r})"


@read_from_shared_memory.register(FreeText)
def _read_free_text(space: FreeText, shared_memory: Any, n: int = 1) -> SharedTexts:
    return SharedTexts(_slots(space, shared_memory, n))


@write_to_shared_memory.register(FreeText)
def _write_free_text(space: FreeText, index: int, value: str, shared_memory: Any) -> None:
    if not space.contains(value):
        size = f"{len(value)} characters" if isinstance(value, str) else f"a {type(value).__name__}"
        raise ValueError(f"The observation ({size}) is not in {space}.")
    data = value.encode("utf-8")
    slot_bytes = _slot_bytes(space)
    slot = np.frombuffer(shared_memory.get_obj(), dtype=np.uint8, count=slot_bytes, offset=index * slot_bytes)
    slot[:_LENGTH_BYTES] = np.frombuffer(len(data).to_bytes(_LENGTH_BYTES, "little"), dtype=np.uint8)
    slot[_LENGTH_BYTES:_LENGTH_BYTES + len(data)] = np.frombuffer(data, dtype=np.uint8)
