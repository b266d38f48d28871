"""SearchQA-v0: multi-hop questions over a generated corpus of fictional entities, with BM25 search."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from environments.tools.answers import exact_match, token_f1
from environments.tools.corpus import WORLD_SIZES, World, load_world
from environments.tools.protocol import Tool, ToolCall
from environments.tools.search_index import index_for
from environments.tools.tool_env import SUBMIT, Grade, ToolEnv

# A question: (world, subject) -> (text, entities whose documents lead to the answer, answer).
QuestionMaker = Callable[[World, str], tuple[str, list[str], str]]


def birth_country(w: World, p: str):
    city = w.people[p]["city"]
    return f"In which country was {p} born?", [p, city], w.cities[city]["country"]


def employer_founded(w: World, p: str):
    org = w.people[p]["employer"]
    text = f"In what year was the organisation that {p} works for founded?"
    return text, [p, org], str(w.organisations[org]["founded"])


def employer_founder(w: World, p: str):
    org = w.people[p]["employer"]
    return f"Who founded the organisation that {p} works for?", [p, org], w.organisations[org]["founder"]


def birthplace_mayor(w: World, p: str):
    city = w.people[p]["city"]
    return f"Who is the mayor of the city where {p} was born?", [p, city], w.cities[city]["mayor"]


def hq_population(w: World, o: str):
    city = w.organisations[o]["city"]
    return (f"What is the population of the city where {o} has its headquarters?", [o, city],
            str(w.cities[city]["population"]))


def founder_birth_year(w: World, o: str):
    founder = w.organisations[o]["founder"]
    return f"In what year was the founder of {o} born?", [o, founder], str(w.people[founder]["born"])


def employer_hq_country(w: World, p: str):
    org = w.people[p]["employer"]
    city = w.organisations[org]["city"]
    return (f"In which country are the headquarters of the organisation that {p} works for?", [p, org, city],
            w.cities[city]["country"])


def birth_country_capital(w: World, p: str):
    city = w.people[p]["city"]
    country = w.cities[city]["country"]
    return (f"What is the capital of the country where {p} was born?", [p, city, country],
            w.countries[country]["capital"])


def employer_founder_birthplace(w: World, p: str):
    org = w.people[p]["employer"]
    founder = w.organisations[org]["founder"]
    return (f"In which city was the founder of the organisation that {p} works for born?", [p, org, founder],
            w.people[founder]["city"])


def founder_birthplace_mayor(w: World, o: str):
    founder = w.organisations[o]["founder"]
    city = w.people[founder]["city"]
    return (f"Who is the mayor of the city where the founder of {o} was born?", [o, founder, city],
            w.cities[city]["mayor"])


# (subject kind, maker) per question type; 2-hop types train, 3-hop types are the unseen shift.
TWO_HOP: dict[str, tuple[str, QuestionMaker]] = {
    f.__name__: (kind, f) for kind, f in [("people", birth_country), ("people", employer_founded),
                                          ("people", employer_founder), ("people", birthplace_mayor),
                                          ("organisations", hq_population), ("organisations", founder_birth_year)]}
THREE_HOP: dict[str, tuple[str, QuestionMaker]] = {
    f.__name__: (kind, f) for kind, f in [("people", employer_hq_country), ("people", birth_country_capital),
                                          ("people", employer_founder_birthplace),
                                          ("organisations", founder_birthplace_mayor)]}
WORLD_SEEDS = {"train": 1, "valid_seen": 1, "valid_unseen": 2}
DEFAULT_COUNTS = {"train": 2000, "valid_seen": 100, "valid_unseen": 100}
HELD_OUT_EVERY = 5  # in the training world, every 5th subject is kept for valid_seen


def _subjects(split: str, kind: str) -> list[int]:
    n = WORLD_SIZES[kind]
    if split == "valid_unseen":
        return list(range(n))
    held = split == "valid_seen"
    return [i for i in range(n) if (i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1) == held]


def split_task_ids(split: str, count: int) -> list[str]:
    """Question types interleaved round-robin, each over its split's subjects (no world generation)."""
    types = THREE_HOP if split == "valid_unseen" else TWO_HOP
    pools = {name: _subjects(split, kind) for name, (kind, _) in types.items()}
    ids: list[str] = []
    for round_ in range(max(len(p) for p in pools.values())):
        for name, pool in pools.items():
            if round_ < len(pool) and len(ids) < count:
                ids.append(f"{name}-{pool[round_]}")
    return ids


class SearchQAEnv(ToolEnv):
    """
    ## Description
    Multi-hop question answering with a search engine, as in Search-R1. The corpus is a generated
    encyclopedia of fictional people, organisations, cities and countries (730 articles per world),
    so answers cannot come from memory: the agent searches, opens articles and follows the chain.

    ## Observation
    The question and tool list first; then search results (``[d0042] Title: snippet...``, top 5) or
    a full article. ``info["tools"]`` holds the OpenAI function schemas.

    ## Actions
    One tool call per step: ``search(query)`` (BM25), ``open(doc_id)``, ``submit_answer(answer)``;
    ``<answer>...</answer>`` also submits. Malformed calls are explained (``action_valid`` False).

    ## Rewards
    Exact match (SQuAD normalisation) gives 1.0 by default; ``reward="f1"`` pays token F1 instead.
    ``score`` is always the F1. ``info["answer"]`` holds the gold answer (for IGPO's belief; never shown to
    the policy).

    ## Starting State
    The question; no searches made.

    ## Episode End
    Terminated on an answer; truncated after ``max_steps`` (20).

    ## Splits
    ``train`` (1888: every type x subject pair) and ``valid_seen`` (100) ask six 2-hop question
    types about one world, over disjoint subjects (every 5th person/organisation is held out).
    ``valid_unseen`` (100) asks four 3-hop question types about a different world.

    ## Arguments
    ``split``, ``max_steps``, ``num_tasks``, ``reward`` ("em" or "f1"). Search returns the top 5.

    ## Version History
    * v0: initial version.
    """

    answer_hint = "a name, place or number"

    def __init__(self, split: str = "train", max_steps: int | None = None, num_tasks: int | None = None,
                 reward: str = "em", render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        if reward not in ("em", "f1"):
            raise ValueError(f"reward must be 'em' or 'f1', got {reward!r}")
        self.reward_kind = reward
        self._ids = split_task_ids(split, int(num_tasks or DEFAULT_COUNTS[split]))
        self.question = ""
        self.answer = ""
        self.qtype = ""

    def task_ids(self) -> Sequence[str]:
        return self._ids

    def setup_task(self, task_id: str) -> tuple[list[Tool], list[ToolCall]]:
        qtype, index = task_id.rsplit("-", 1)
        kind, maker = {**TWO_HOP, **THREE_HOP}[qtype]
        world = load_world(WORLD_SEEDS[self.split])
        subject = list(getattr(world, kind))[int(index)]
        self.question, chain, self.answer = maker(world, subject)
        self.qtype = qtype
        index_ = index_for(WORLD_SEEDS[self.split])
        tools = [
            Tool("search", "Search the encyclopedia (BM25); returns the 5 best articles with snippets.",
                 {"query": {"type": "string", "description": "search words"}}, index_.search_text,
                 required=("query",)),
            Tool("open", "Read the full article with this id (from the search results).",
                 {"doc_id": {"type": "string", "description": "article id such as d0042"}}, index_.open_text,
                 required=("doc_id",)),
        ]
        plan = []
        for entity in chain:
            plan += [ToolCall("search", {"query": entity}), ToolCall("open", {"doc_id": world.doc_of(entity).doc_id})]
        return tools, [*plan, ToolCall(SUBMIT, {"answer": self.answer})]

    def task_text(self) -> str:
        return f"Answer the question using the encyclopedia tools: {self.question}"

    def task_type(self) -> str:
        return self.qtype

    def gold_answer(self) -> str:
        return self.answer

    def grade(self, answer: str) -> Grade:
        em, f1 = exact_match(answer, self.answer), token_f1(answer, self.answer)
        reward = float(em) if self.reward_kind == "em" else f1
        verdict = "Correct!" if em else f"Wrong (F1 {f1:.2f}). The expected answer was: {self.answer}."
        return Grade(em, f1, reward, f"You answered {answer[:200]!r}. {verdict}")
