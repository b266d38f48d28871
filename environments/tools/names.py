"""Fictional names built from syllables, so no answer can be recalled from pre-training data."""

from __future__ import annotations

import numpy as np

_ONSETS = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "kh", "l", "m", "n", "p", "pr", "r", "s",
           "sh", "st", "t", "th", "tr", "v", "vr", "z", "zh", "qu", "j", "w"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ou", "ia", "y", "ae", "io"]
_CODAS = ["", "", "", "n", "r", "l", "s", "th", "x", "m", "nd", "rk", "v", "sk"]
_ORG_SUFFIXES = ["Labs", "Works", "Systems", "Holdings", "Collective", "Institute", "Foundry", "Guild", "Trust"]
_PLACE_SUFFIXES = ["", "", "ford", "haven", "mouth", "stad", "grad", "ville", "port", "bury"]


class NameMaker:
    """Draws unique names of several kinds from one seeded generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used: set[str] = set()

    def _word(self, min_syllables: int = 2, max_syllables: int = 3) -> str:
        count = int(self.rng.integers(min_syllables, max_syllables + 1))
        parts = [str(self.rng.choice(_ONSETS)) + str(self.rng.choice(_VOWELS)) for _ in range(count)]
        return ("".join(parts) + str(self.rng.choice(_CODAS))).capitalize()

    def _unique(self, make) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of unique names")

    def person(self) -> str:
        return self._unique(lambda: f"{self._word(2, 2)} {self._word(2, 3)}")

    def place(self) -> str:
        return self._unique(lambda: self._word(2, 3) + str(self.rng.choice(_PLACE_SUFFIXES)))

    def organisation(self) -> str:
        return self._unique(lambda: f"{self._word(2, 3)} {self.rng.choice(_ORG_SUFFIXES)}")

    def thing(self, suffix: str = "") -> str:
        return self._unique(lambda: f"{self._word(2, 3)}{(' ' + suffix) if suffix else ''}")

    def code(self) -> str:
        return self._unique(lambda: self._word(2, 2)[:3].upper() + str(int(self.rng.integers(100, 1000))))

    def title(self) -> str:
        return self._unique(lambda: f"The {self._word(2, 3)} {self._word(2, 2)}")
