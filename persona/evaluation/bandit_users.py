"""Simulated users for the bandit evaluation: four types that differ in what context serves them.

Every user is scripted from a seed (``simulate(users_per_type, seed)``): their memories (``add_many`` items,
each with a ``sim`` key in its metadata), the questions they ask (each naming the memory keys it needs) and
their type's *reward model*, which reads only what reached the rendered prompt (the keys of the memories in
``RenderedPrompt.memory_ids`` and the prompt's memory tokens), never the arm's name:

* ``profile``: questions ("what should I cook tonight?") that need one stable profile fact ("I am
  vegetarian") and share no words with it; the fact was stated long ago, under weeks of small talk.
* ``episode``: questions that need one old episode ("the restaurant I went to in Lisbon"), found by meaning.
* ``recent``: follow-ups ("so what do you think of that?") that need the user's newest turn.
* ``private``: users who want no personalization: the more memory tokens in the prompt, the worse.

A rating is +1 with probability ``p`` and -1 otherwise: for the evidence types ``p = P_HIT`` when every
needed memory is in the prompt and ``P_MISS`` when not, less a small cost per 1,000 memory tokens (long prompts
are slower and dearer for everyone); for ``private`` users ``p`` falls from ``P_HIT`` with the memory tokens.
The expected rating is ``2p - 1``.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "P_HIT",
    "P_MISS",
    "SIM_KEY",
    "TYPES",
    "Question",
    "SimUser",
    "expected_reward",
    "memory_tokens",
    "sample_rating",
    "simulate",
]

TYPES = ("profile", "episode", "recent", "private")
SIM_KEY = "sim"
P_HIT = 0.9
P_MISS = 0.2
TOKEN_COST = 0.04
"""Probability of a good rating lost per 1,000 memory tokens (evidence types)."""
PRIVATE_FALLOFF = 600
"""Memory tokens at which a ``private`` user's probability of a good rating has fallen to ``P_MISS``."""
START = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
MEMORY_SECTIONS = ("profile", "retrieved", "recent", "history")


@dataclass(frozen=True)
class Question:
    """One question a user may ask; ``needs`` are the ``sim`` keys of the memories that answer it."""

    id: str
    text: str
    needs: tuple[str, ...]


@dataclass(frozen=True)
class SimUser:
    """A scripted user: their type, memories (``add_many`` items) and question pool."""

    id: str
    type: str
    memories: tuple[dict[str, Any], ...]
    questions: tuple[Question, ...]
    now: datetime = field(default=START + timedelta(days=60))


_PROFILE = (
    ("I am vegetarian and have been for ten years.", "What should I cook for dinner tonight?"),
    ("I am allergic to peanuts.", "Can you suggest a snack to take on a long hike?"),
    ("I live in Edinburgh, Scotland.", "What is the weather likely to be like where I am this weekend?"),
    ("I work as a primary school teacher.", "How can I make my Monday mornings less stressful at work?"),
    ("I have two young daughters, aged four and seven.", "What should we do as a family on Saturday?"),
    ("I am learning Japanese.", "Which podcast would help me with my studies?"),
    ("I drive an old electric Nissan Leaf.", "How far can I get on a single charge in winter?"),
    ("I prefer short answers without bullet points.", "Explain how compound interest works."),
    ("I am training for my first marathon in May.", "How much should I run next week?"),
    ("My budget for eating out is tight this year.", "Where should I take my friend for her birthday?"),
)
_EPISODE = (
    ("We had dinner at a tiny place called Casa Azul in Lisbon; the grilled sardines were superb.",
     "What was the name of that restaurant in Lisbon with the sardines?"),
    ("My landlord finally agreed to fix the leaking bathroom ceiling by the end of the month.",
     "When did my landlord say the ceiling leak would be fixed?"),
    ("I lent my copy of The Left Hand of Darkness to my colleague Priya.",
     "Who did I lend my Ursula Le Guin novel to?"),
    ("The vet said our cat Miso needs her kidney check again in six months.",
     "When does the vet want to see my cat again?"),
    ("I ran the Tay bridge loop in 52 minutes, my best time so far.",
     "What is my best time on the bridge running loop?"),
    ("My brother Tomas is moving to Montreal for a job at a video game studio.",
     "Which city is my brother moving to?"),
    ("I planted three rows of garlic and a bed of broad beans in the allotment.",
     "What did I plant at my allotment?"),
    ("The dentist quoted 480 pounds for the crown on my back tooth.",
     "How much did the dentist quote me for the crown?"),
)
_RECENT_TURNS = (
    "I just got the offer letter for the design job in Glasgow.",
    "I think I am going to turn down the Glasgow offer because of the commute.",
    "Actually my partner says I should take the Glasgow job and move there.",
    "We have decided to visit Glasgow next weekend to look at flats.",
)
_RECENT_QUESTIONS = (
    "So what do you think of that?",
    "Is that a good idea, in your view?",
    "What should I do next about it?",
    "Can you help me think this through?",
    "Any advice on that?",
    "Does that sound sensible?",
)
_PRIVATE_QUESTIONS = (
    "What is the capital of Australia?",
    "How do I convert Celsius to Fahrenheit?",
    "Write a haiku about autumn rain.",
    "What is the difference between a list and a tuple in Python?",
    "Why is the sky blue?",
    "How many minutes should I boil an egg for?",
    "Summarise the plot of Hamlet in two sentences.",
    "What does HTTP status 418 mean?",
)
_SMALL_TALK_DOING = (
    "went to the gym", "watched a film", "cooked a big pot of soup", "cleaned the kitchen",
    "called my mother", "read a few chapters of a novel", "walked by the river", "fixed my bike",
    "played board games", "went shopping for shoes", "tidied the garden", "baked bread",
    "listened to a jazz record", "took the bus into town", "painted the spare room", "wrote some emails",
)
_SMALL_TALK_WHEN = ("Today", "Yesterday", "This morning", "Last night", "On Sunday", "After work")
_SMALL_TALK_WITH = ("with a friend", "on my own", "with my neighbour", "with my cousin", "", "for an hour")
_SMALL_TALK_MOOD = ("It was nice.", "Pretty tiring.", "Good fun.", "Not much else to report.", "", "")


def _small_talk(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        parts = [rng.choice(_SMALL_TALK_WHEN), "I", rng.choice(_SMALL_TALK_DOING), rng.choice(_SMALL_TALK_WITH)]
        out.append((" ".join(p for p in parts if p) + ". " + rng.choice(_SMALL_TALK_MOOD)).strip())
    return out


def _user(kind: str, index: int, rng: random.Random, filler: int) -> SimUser:
    uid = f"sim-{kind}-{index}"
    clock = [START]

    def item(text: str, key: str, memory_kind: str = "episode") -> dict[str, Any]:
        clock[0] += timedelta(minutes=rng.randint(20, 400))
        return {"text": text, "kind": memory_kind, "created_at": clock[0], "metadata": {SIM_KEY: key}}

    memories: list[dict[str, Any]] = []
    questions: list[Question] = []
    if kind == "profile":
        for j, (fact, question) in enumerate(rng.sample(_PROFILE, 6)):
            memories.append(item(fact, f"fact{j}", "fact"))
            questions.append(Question(f"{uid}/q{j}", question, (f"fact{j}",)))
    elif kind == "episode":
        chosen = rng.sample(_EPISODE, 6)
        for j, (text, _) in enumerate(chosen):
            memories.append(item(text, f"ep{j}"))
        questions = [Question(f"{uid}/q{j}", q, (f"ep{j}",)) for j, (_, q) in enumerate(chosen)]
    else:
        memories.append(item("I like tea more than coffee.", "fact0", "fact"))
    memories += [item(t, f"talk{j}") for j, t in enumerate(_small_talk(rng, filler))]
    if kind == "recent":
        turn = _RECENT_TURNS[rng.randrange(len(_RECENT_TURNS))]
        memories.append(item(turn, "latest"))
        questions = [Question(f"{uid}/q{j}", q, ("latest",)) for j, q in enumerate(_RECENT_QUESTIONS)]
    elif kind == "private":
        picked = rng.sample(_PRIVATE_QUESTIONS, 6)
        questions = [Question(f"{uid}/q{j}", q, ()) for j, q in enumerate(picked)]
    return SimUser(uid, kind, tuple(memories), tuple(questions), clock[0] + timedelta(minutes=5))


def simulate(users_per_type: int = 2, seed: int = 0, *, filler: int = 120) -> list[SimUser]:
    """``users_per_type`` users of each of `TYPES`, the same for the same ``seed``."""
    rng = random.Random(seed)
    return [_user(kind, i, rng, filler) for i in range(users_per_type) for kind in TYPES]


def memory_tokens(section_tokens: Mapping[str, int]) -> int:
    """The prompt's tokens spent on the user's memories (its memory sections)."""
    return sum(int(section_tokens.get(s, 0)) for s in MEMORY_SECTIONS)


def expected_reward(kind: str, needs: Collection[str], shown: Collection[str], tokens: int) -> float:
    """The expected rating in [-1, 1] of a prompt that shows the memory keys ``shown`` in ``tokens`` memory
    tokens, for a user of type ``kind`` asking a question that ``needs`` those keys."""
    if kind == "private":
        p = P_HIT - (P_HIT - P_MISS) * min(1.0, tokens / PRIVATE_FALLOFF)
    else:
        hit = all(n in shown for n in needs)
        p = (P_HIT if hit else P_MISS) - TOKEN_COST * tokens / 1000
    return 2 * min(1.0, max(0.0, p)) - 1


def sample_rating(expected: float, rng: random.Random) -> float:
    """A noisy rating: +1 with probability ``(1 + expected) / 2``, else -1."""
    return 1.0 if rng.random() < (1 + expected) / 2 else -1.0
