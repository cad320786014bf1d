"""A synthetic persona generator for quick, data-free runs: a few users, each with facts, a preference,
chit-chat filler, and questions whose answers and evidence are known.

Deterministic for a given ``seed``. Each user states six things about themselves (stored as ``fact`` or
``preference`` memories, so the profile strategy has something to show) among ``filler`` unrelated
``episode`` turns, then is asked about five of them plus one thing never said (``adversarial``: the right
answer is that the information is not available). It measures plumbing and relative cost, not realism.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

__all__ = ["SyntheticMemory", "SyntheticQuestion", "SyntheticUser", "generate"]

_NAMES = (
    "Ada",
    "Bruno",
    "Chiara",
    "Deniz",
    "Emeka",
    "Farah",
    "Goran",
    "Hana",
    "Ines",
    "Jonas",
    "Kaito",
    "Lena",
)
_CITIES = ("Lisbon", "Osaka", "Porto Alegre", "Tromso", "Nairobi", "Quebec City", "Ghent", "Hobart")
_JOBS = (
    "nurse",
    "carpenter",
    "marine biologist",
    "bus driver",
    "pastry chef",
    "tax lawyer",
    "violin teacher",
)
_PETS = (("dog", "Biscuit"), ("cat", "Miso"), ("parrot", "Captain"), ("rabbit", "Clover"), ("dog", "Pepper"))
_ALLERGIES = ("peanuts", "shellfish", "sesame", "kiwi", "penicillin")
_CUISINES = ("vegetarian", "spicy Thai", "Ethiopian", "Japanese", "Mexican")
_HOBBIES = ("bouldering", "birdwatching", "pottery", "chess", "sea kayaking", "salsa dancing")
_FILLER = (
    "The weather was grey all morning but cleared up by lunch.",
    "I spent an hour looking for my keys today.",
    "Traffic on the way back was terrible again.",
    "I finally finished the book I started last month.",
    "My neighbour is renovating and the drilling never stops.",
    "I tried a new coffee place near the station.",
    "The train was ten minutes late this morning.",
    "I watched a documentary about volcanoes last night.",
    "We had a long meeting that could have been an email.",
    "I need to remember to water the plants tomorrow.",
    "The supermarket had run out of bread by six.",
    "I cleaned the whole flat this weekend.",
    "There was a street festival downtown with live music.",
    "I have been sleeping badly because of the heat.",
    "I reorganised my bookshelf by colour, just for fun.",
)


@dataclass(frozen=True)
class SyntheticMemory:
    key: str
    text: str
    kind: str
    created_at: datetime


@dataclass(frozen=True)
class SyntheticQuestion:
    key: str
    question: str
    answer: str | None
    """None for the adversarial question."""
    category: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class SyntheticUser:
    user_id: str
    memories: tuple[SyntheticMemory, ...]
    questions: tuple[SyntheticQuestion, ...] = field(default_factory=tuple)


def generate(users: int = 4, *, seed: int = 0, filler: int = 30) -> list[SyntheticUser]:
    """``users`` synthetic users with ``filler`` chit-chat turns each (see the module docstring)."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
    out: list[SyntheticUser] = []
    for u in range(users):
        uid = f"synth-{seed}-{u}"
        name, city, job = rng.choice(_NAMES), rng.choice(_CITIES), rng.choice(_JOBS)
        species, pet = rng.choice(_PETS)
        allergy, cuisine, hobby = rng.choice(_ALLERGIES), rng.choice(_CUISINES), rng.choice(_HOBBIES)
        stated = [
            ("name", f"My name is {name}.", "profile"),
            ("city", f"I moved to {city} two years ago and I live there now.", "fact"),
            ("job", f"I work as a {job}.", "fact"),
            ("pet", f"I have a {species} called {pet}.", "fact"),
            ("allergy", f"I am allergic to {allergy}, so I have to be careful when eating out.", "fact"),
            ("cuisine", f"I prefer {cuisine} food when I go out to dinner.", "preference"),
            ("hobby", f"On weekends I usually go {hobby}.", "fact"),
        ]
        memories: list[SyntheticMemory] = []
        slots = sorted(rng.sample(range(filler + len(stated)), len(stated)))
        said = iter(stated)
        for i in range(filler + len(stated)):
            when = start + timedelta(days=i // 3, hours=i % 3)
            if i in slots:
                key, text, kind = next(said)
                memories.append(SyntheticMemory(f"{uid}:{key}", text, kind, when))
            else:
                memories.append(SyntheticMemory(f"{uid}:f{i}", rng.choice(_FILLER), "episode", when))
        questions = (
            SyntheticQuestion(f"{uid}:q-city", "Which city do I live in?", city, "fact", (f"{uid}:city",)),
            SyntheticQuestion(f"{uid}:q-job", "What is my job?", job, "fact", (f"{uid}:job",)),
            SyntheticQuestion(
                f"{uid}:q-pet", f"What is the name of my {species}?", pet, "fact", (f"{uid}:pet",)
            ),
            SyntheticQuestion(
                f"{uid}:q-allergy", "Which food am I allergic to?", allergy, "fact", (f"{uid}:allergy",)
            ),
            SyntheticQuestion(
                f"{uid}:q-cuisine",
                "What kind of food do I like when I go out for dinner?",
                cuisine,
                "preference",
                (f"{uid}:cuisine",),
            ),
            SyntheticQuestion(f"{uid}:q-sister", "What is my sister's name?", None, "adversarial", ()),
        )
        out.append(SyntheticUser(uid, tuple(memories), questions))
    return out
