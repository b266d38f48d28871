"""A generated encyclopedia of fictional people, organisations, cities and countries.

Every fact is drawn from a seed and the names are invented, so multi-hop questions over it cannot be
answered from a language model's memory: the agent has to search and read. One document per entity,
written as a short encyclopedia article that mentions the related entities by name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

from agentgym.util.paths import cache_dir
from environments.tools.names import NameMaker

OCCUPATIONS = ["engineer", "painter", "chemist", "lawyer", "architect", "composer", "surgeon", "historian",
               "pilot", "economist", "sculptor", "botanist"]
INDUSTRIES = ["shipbuilding", "software", "publishing", "textile", "pharmaceutical", "mining", "brewing",
              "aerospace", "banking", "robotics"]
WORLD_SIZES = {"people": 520, "organisations": 140, "cities": 60, "countries": 10}


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    kind: str
    text: str


@dataclass
class World:
    """Entities as dicts of facts keyed by name, plus the documents describing them."""

    people: dict[str, dict]
    organisations: dict[str, dict]
    cities: dict[str, dict]
    countries: dict[str, dict]
    documents: list[Document]

    def __post_init__(self) -> None:
        self.by_title = {d.title: d for d in self.documents}
        self.by_id = {d.doc_id: d for d in self.documents}

    def doc_of(self, name: str) -> Document:
        return self.by_title[name]


def _draw_entities(seed: int) -> tuple[dict, dict, dict, dict]:
    rng = np.random.default_rng([seed, 4242])
    names = NameMaker(rng)
    countries = {names.place(): {"language": names.thing() + "ic", "founded": int(rng.integers(800, 1900))}
                 for _ in range(WORLD_SIZES["countries"])}
    country_names = list(countries)
    cities = {}
    for i in range(WORLD_SIZES["cities"]):
        country = country_names[i % len(country_names)]
        cities[names.place()] = {"country": country, "founded": int(rng.integers(900, 1950)),
                                 "population": int(rng.integers(20, 3000)) * 1000, "river": names.thing()}
    city_names = list(cities)
    for i, country in enumerate(country_names):
        countries[country]["capital"] = city_names[i]
    people = {names.person(): {"born": int(rng.integers(1900, 2000)), "city": str(rng.choice(city_names)),
                               "occupation": str(rng.choice(OCCUPATIONS))}
              for _ in range(WORLD_SIZES["people"])}
    person_names = list(people)
    organisations = {}
    for _ in range(WORLD_SIZES["organisations"]):
        organisations[names.organisation()] = {
            "founded": int(rng.integers(1850, 2020)), "city": str(rng.choice(city_names)),
            "founder": str(rng.choice(person_names)), "industry": str(rng.choice(INDUSTRIES))}
    org_names = list(organisations)
    for person in person_names:
        people[person]["employer"] = str(rng.choice(org_names))
    for city in city_names:
        cities[city]["mayor"] = str(rng.choice(person_names))
    return people, organisations, cities, countries


def _documents(people: dict, organisations: dict, cities: dict, countries: dict) -> list[Document]:
    founded_by: dict[str, list[str]] = {}
    for org, facts in organisations.items():
        founded_by.setdefault(facts["founder"], []).append(org)
    texts: list[tuple[str, str, str]] = []
    for name, p in people.items():
        text = (f"{name} is a {p['occupation']} born in {p['born']} in the city of {p['city']}. "
                f"{name} works for {p['employer']}.")
        for org in founded_by.get(name, []):
            text += f" {name} is the founder of {org}."
        texts.append((name, "person", text))
    for name, o in organisations.items():
        texts.append((name, "organisation",
                      f"{name} is a {o['industry']} organisation founded in {o['founded']} by {o['founder']}. "
                      f"Its headquarters are in {o['city']}."))
    for name, c in cities.items():
        texts.append((name, "city",
                      f"{name} is a city in {c['country']} on the {c['river']} river. It was founded in {c['founded']} "
                      f"and has a population of {c['population']}. The mayor of {name} is {c['mayor']}."))
    for name, c in countries.items():
        texts.append((name, "country",
                      f"{name} is a country founded in {c['founded']}. Its capital is {c['capital']} and its "
                      f"official language is {c['language']}."))
    order = np.random.default_rng(len(texts)).permutation(len(texts))
    return [Document(f"d{i:04d}", *texts[j]) for i, j in enumerate(order)]


@cache
def load_world(seed: int) -> World:
    """The world of ``seed``; its documents are cached as JSON lines under the tools cache."""
    people, organisations, cities, countries = _draw_entities(seed)
    path = Path(cache_dir("tools", "searchqa")) / f"corpus-{seed}.jsonl"
    if path.exists():
        documents = [Document(**json.loads(line)) for line in path.read_text().splitlines() if line]
    else:
        documents = _documents(people, organisations, cities, countries)
        tmp = path.with_suffix(f".{np.random.default_rng().integers(1 << 30)}.tmp")
        tmp.write_text("".join(json.dumps(asdict(d)) + "\n" for d in documents))
        tmp.replace(path)
    return World(people, organisations, cities, countries, documents)
