"""String matching used by WebShop's reward, without its heavy dependencies.

``token_set_ratio`` is fuzzywuzzy's algorithm with its pure-Python ``difflib`` backend (the one
fuzzywuzzy used when python-Levenshtein was absent). ``normalize_color`` follows WebShop's
``engine/normalize.py``. ``type_nouns`` stands in for the spaCy noun tagging of WebShop's type
reward: content words minus stop words and descriptive words (colours, sizes, common adjectives).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

COLOR_SET = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal",
    "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite",
    "grass", "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon",
    "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha",
    "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink",
    "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver",
    "skull", "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise",
    "violet", "walnut", "wheat", "white", "wine", "yellow",
)
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to with without your you "
    "i me my we our he she they them their which who what very can will just not no more most so than too "
    "pack set count piece pieces inch inches oz ounce ounces pound pounds feet foot ft lb lbs gb ml".split()
)
DESCRIPTIVE = frozenset(
    "men's women's kids' mens womens new premium classic modern soft small medium large x-large xx-large "
    "lightweight heavy duty durable portable compact extra thick thin slim regular long short high low fast "
    "easy quick deep best great natural organic comfortable adjustable waterproof breathable stretch".split()
) | frozenset(COLOR_SET)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")


def _process(text: str) -> str:
    return _NON_ALNUM.sub(" ", str(text).lower()).strip()


def ratio(a: str, b: str) -> int:
    """fuzzywuzzy's ``fuzz.ratio`` on already processed strings (0 when either is empty)."""
    if not a or not b:
        return 0
    return int(round(100 * SequenceMatcher(None, a, b).ratio()))


@lru_cache(maxsize=65_536)
def token_set_ratio(s1: str, s2: str) -> int:
    """fuzzywuzzy's ``fuzz.token_set_ratio``: 100 when one token set contains the other."""
    p1, p2 = _process(s1), _process(s2)
    if not p1 or not p2:
        return 0
    t1, t2 = set(p1.split()), set(p2.split())
    sect = " ".join(sorted(t1 & t2))
    combined_1to2 = (sect + " " + " ".join(sorted(t1 - t2))).strip()
    combined_2to1 = (sect + " " + " ".join(sorted(t2 - t1))).strip()
    return max(ratio(sect, combined_1to2), ratio(sect, combined_2to1), ratio(combined_1to2, combined_2to1))


def normalize_color(text: str) -> str:
    """WebShop maps an option containing a known colour word to that word ("navy blue" -> "blue")."""
    for color in COLOR_SET:
        if color in text:
            return color
    return text


@lru_cache(maxsize=65_536)
def type_nouns(title: str) -> frozenset[str]:
    """Head words of a product name: what WebShop's spaCy NOUN/PROPN filter keeps, approximately."""
    words = _WORD.findall(str(title).lower())
    return frozenset(w for w in words if w not in STOPWORDS and w not in DESCRIPTIVE and len(w) > 1)
