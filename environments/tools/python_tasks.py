"""Calculation and data tasks for PythonTool-v0.

Each task type is a generator (seed -> question, data files, solver arguments) and a solver: a
self-contained function (imports inside). The solver is the single source of truth: the environment
computes the answer by calling it here, and the expert's ``run_python`` program is the solver's own
source plus a call on the task's files, run inside the sandbox.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from environments.tools.names import NameMaker


@dataclass(frozen=True)
class PythonTask:
    kind: str
    text: str
    files: dict[str, str]
    solver: Callable[..., Any]
    args: tuple  # literal arguments; a ("file", name) pair stands for the text of that file

    def answer(self) -> str:
        values = [self.files[a[1]] if _is_file(a) else a for a in self.args]
        return str(self.solver(*values))

    def reference_code(self) -> str:
        call = ", ".join(f"open({a[1]!r}, encoding='utf-8').read()" if _is_file(a) else repr(a) for a in self.args)
        return f"{inspect.getsource(self.solver).strip()}\n\n\nprint({self.solver.__name__}({call}))\n"


def _is_file(arg: Any) -> bool:
    return isinstance(arg, tuple) and len(arg) == 2 and arg[0] == "file"


# ---- solvers (run on the host for the answer and, as source, inside the sandbox by the expert) ----
def sum_primes_below(n):
    sieve = bytearray([1]) * n
    sieve[0:2] = b"\x00\x00"
    for i in range(2, int(n ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytearray(len(range(i * i, n, i)))
    return sum(i for i in range(n) if sieve[i])


def fibonacci_mod(n, m):
    a, b = 1, 1
    for _ in range(n - 1):
        a, b = b, (a + b) % m
    return a % m


def count_divisible(lo, hi, x, y, z):
    return sum(1 for k in range(lo, hi + 1) if (k % x == 0 or k % y == 0) and k % z != 0)


def compound_balance(principal, annual_rate_percent, years):
    balance = principal * (1 + annual_rate_percent / 100 / 12) ** (12 * years)
    return round(balance, 2)


def region_revenue(csv_text, region):
    import csv
    import io
    rows = csv.DictReader(io.StringIO(csv_text))
    return round(sum(int(r["units"]) * float(r["unit_price"]) for r in rows if r["region"] == region), 2)


def top_product_by_units(csv_text):
    import csv
    import io
    totals = {}
    for r in csv.DictReader(io.StringIO(csv_text)):
        totals[r["product"]] = totals.get(r["product"], 0) + int(r["units"])
    return min(totals, key=lambda p: (-totals[p], p))


def median_price(csv_text, product):
    import csv
    import io
    import statistics
    prices = [float(r["unit_price"]) for r in csv.DictReader(io.StringIO(csv_text)) if r["product"] == product]
    return round(statistics.median(prices), 2)


def longest_collatz_start(n):
    best, best_len = 1, 1
    for start in range(1, n + 1):
        k, steps = start, 1
        while k != 1:
            k = k // 2 if k % 2 == 0 else 3 * k + 1
            steps += 1
        if steps > best_len:
            best, best_len = start, steps
    return best


def digit_sum_of_power(a, b):
    return sum(int(d) for d in str(a ** b))


def best_average_member(json_text, team):
    import json
    people = [p for p in json.loads(json_text) if p["team"] == team]
    return min(people, key=lambda p: (-sum(p["scores"]) / len(p["scores"]), p["name"]))["name"]


def distinct_words(text):
    import re
    return len({w.lower() for w in re.findall(r"[A-Za-z]+", text)})


# ---- generators: seed -> PythonTask ----
def _rng(seed: int, kind: str) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, kind))])


def _sales_csv(rng: np.random.Generator) -> tuple[str, list[str], list[str]]:
    names = NameMaker(rng)
    regions = [names.place() for _ in range(4)]
    products = [names.thing() for _ in range(6)]
    lines = ["region,product,units,unit_price"]
    for _ in range(int(rng.integers(80, 200))):
        lines.append(f"{rng.choice(regions)},{rng.choice(products)},{int(rng.integers(1, 50))},"
                     f"{float(rng.uniform(1, 120)):.2f}")
    return "\n".join(lines) + "\n", regions, products


def make_primes(seed):
    n = int(_rng(seed, "primes").integers(2_000, 60_000))
    return PythonTask("primes", f"What is the sum of all prime numbers below {n}?", {}, sum_primes_below, (n,))


def make_fibonacci(seed):
    rng = _rng(seed, "fibonacci")
    n, m = int(rng.integers(500, 5_000)), int(rng.integers(1_000, 100_000))
    return PythonTask("fibonacci", f"With F(1) = F(2) = 1, what is F({n}) modulo {m}?", {}, fibonacci_mod, (n, m))


def make_divisible(seed):
    rng = _rng(seed, "divisible")
    lo = int(rng.integers(1, 5_000))
    hi = lo + int(rng.integers(5_000, 50_000))
    x, y, z = (int(v) for v in rng.choice(np.arange(3, 40), size=3, replace=False))
    text = f"How many integers from {lo} to {hi} (inclusive) are divisible by {x} or by {y}, but not by {z}?"
    return PythonTask("divisible", text, {}, count_divisible, (lo, hi, x, y, z))


def make_compound(seed):
    rng = _rng(seed, "compound")
    principal, rate = int(rng.integers(5, 500)) * 100, round(float(rng.uniform(0.5, 9.5)), 2)
    years = int(rng.integers(2, 40))
    text = (f"A deposit of {principal} earns {rate}% yearly interest, compounded monthly. What is the balance "
            f"after {years} years? Round to 2 decimals.")
    return PythonTask("compound", text, {}, compound_balance, (principal, rate, years))


def make_revenue(seed):
    rng = _rng(seed, "revenue")
    data, regions, _ = _sales_csv(rng)
    region = str(rng.choice(regions))
    text = (f"The file sales.csv (columns region, product, units, unit_price) is in your working directory. "
            f"What is the total revenue (units x unit_price) of region '{region}'? Round to 2 decimals.")
    return PythonTask("revenue", text, {"sales.csv": data}, region_revenue, (("file", "sales.csv"), region))


def make_top_product(seed):
    data, _, _ = _sales_csv(_rng(seed, "top_product"))
    text = ("The file sales.csv (columns region, product, units, unit_price) is in your working directory. "
            "Which product sold the most units in total? If several tie, give the alphabetically first.")
    return PythonTask("top_product", text, {"sales.csv": data}, top_product_by_units, (("file", "sales.csv"),))


def make_median(seed):
    rng = _rng(seed, "median")
    data, _, _ = _sales_csv(rng)
    present = sorted({line.split(",")[1] for line in data.splitlines()[1:]})
    product = str(rng.choice(present))
    text = (f"The file sales.csv (columns region, product, units, unit_price) is in your working directory. "
            f"What is the median unit_price of the rows for product '{product}'? Round to 2 decimals.")
    return PythonTask("median", text, {"sales.csv": data}, median_price, (("file", "sales.csv"), product))


def make_collatz(seed):
    n = int(_rng(seed, "collatz").integers(1_000, 10_000))
    text = (f"Which starting number from 1 to {n} has the longest Collatz sequence (n -> n/2 if even, 3n+1 if "
            "odd, until 1)? If several tie, give the smallest.")
    return PythonTask("collatz", text, {}, longest_collatz_start, (n,))


def make_digit_sum(seed):
    rng = _rng(seed, "digit_sum")
    a, b = int(rng.integers(2, 100)), int(rng.integers(50, 500))
    return PythonTask("digit_sum", f"What is the sum of the decimal digits of {a}^{b}?", {}, digit_sum_of_power, (a, b))


def make_team_scores(seed):
    rng = _rng(seed, "team_scores")
    names = NameMaker(rng)
    teams = [names.thing() for _ in range(3)]
    people = [{"name": names.person(), "team": str(rng.choice(teams)),
               "scores": [int(s) for s in rng.integers(0, 101, size=int(rng.integers(2, 7)))]}
              for _ in range(int(rng.integers(15, 40)))]
    team = people[0]["team"]
    text = (f"The file people.json in your working directory lists people with their team and scores. In team "
            f"'{team}', who has the highest average score? If several tie, give the alphabetically first name.")
    return PythonTask("team_scores", text, {"people.json": json.dumps(people, indent=1)}, best_average_member,
                      (("file", "people.json"), team))


def make_distinct_words(seed):
    rng = _rng(seed, "distinct_words")
    names = NameMaker(rng)
    vocabulary = [names.thing() for _ in range(int(rng.integers(30, 120)))]
    words = [str(w).lower() if rng.random() < 0.5 else str(w) for w in rng.choice(vocabulary, size=400)]
    lines = [" ".join(words[i:i + 12]) + "." for i in range(0, len(words), 12)]
    text = ("The file notes.txt is in your working directory. How many distinct words does it contain, "
            "ignoring case (a word is a run of letters)?")
    return PythonTask("distinct_words", text, {"notes.txt": "\n".join(lines) + "\n"}, distinct_words,
                      (("file", "notes.txt"),))


TRAIN_KINDS: dict[str, Callable[[int], PythonTask]] = {
    "primes": make_primes, "fibonacci": make_fibonacci, "divisible": make_divisible, "compound": make_compound,
    "revenue": make_revenue, "top_product": make_top_product, "median": make_median}
UNSEEN_KINDS: dict[str, Callable[[int], PythonTask]] = {
    "collatz": make_collatz, "digit_sum": make_digit_sum, "team_scores": make_team_scores,
    "distinct_words": make_distinct_words}
