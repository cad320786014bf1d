"""Building a prompt: what persona knows about a user laid out by a strategy, fitted to a token budget.

A strategy is a template file (`persona.prompting.strategies` finds them): the built-ins (``none``,
``recent``, ``retrieved``, ``profile``, ``hybrid``, the default, and ``full``) live in
``persona/prompting/templates/``. Add one by dropping ``<name>.j2`` into the store's ``templates/``
directory, a directory passed as ``template_dirs`` or listed in ``$PERSONA_TEMPLATES``, or pass the path of a
``.j2`` file as the strategy. The memories come from a `MemorySource`. A header comment declares the
sections, their shares of the budget (in the order they are filled) and options::

    {#- persona
    description: Profile + retrieved + recent turns.
    sections: conversation=0.2 profile=0.3 retrieved=0.35 recent=0.15
    k: 8
    -#}

Sections: ``profile`` (current facts/preferences/profile: profile first, then by importance, then newest;
``profile_limit``; then, when the message asks for advice, episodes that state a preference, unless
``profile_episodes: 0``), ``retrieved`` (the hits for the message by rank: at least the top ``k``, and as
many more as the budget holds unless ``fill: 0``), ``recent`` (the last ``recent_turns``
episodes), ``history`` (every current memory) and ``conversation`` (the caller's ``history`` messages). Without
a header, the sections are those the template uses, with equal shares.

Budget: the messages never exceed ``max_prompt_tokens`` (default: a share of the model's context window).
Each section fills up to its share, then the room left goes to the others in order; memories are included
whole, by rank (recent turns and history newest first, shown oldest first). ``RenderedPrompt.left_out`` says
what did not fit. Templates render in Jinja2's immutable sandbox with ``StrictUndefined``; memory text is data
(never parsed as template code), flattened to one line, with ``<user_memories>`` tags inside it defused.
"""

from __future__ import annotations

import builtins
import os
import re
import reprlib
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InvalidInputError
from ..retrieval.preferences import seeks_advice
from ..types import Hit, Memory
from ..validation import MAX_TEXT_CHARS, check_encodable, check_positive_int, check_text
from .strategies import MEMORY_SECTIONS, Strategy, load_strategy

if TYPE_CHECKING:
    import jinja2

    from ..backends.tokens import Section, TokenCounter
    from .sandbox import Deadline

__all__ = ["Item", "MemorySource", "RenderedPrompt", "build_prompt", "check_history", "resolve_model"]

_TAG = re.compile(r"<(\s*/?\s*user_memories)", re.I)
_PROFILE_ORDER = {"profile": 0, "preference": 1, "fact": 2}


def _profile_order(m: Memory) -> tuple[int, float, float]:
    """Profile, preferences, facts (by importance, newest first), then stated preferences from episodes,
    the most concise first: a condensed profile prefers "I'm vegan" over a long turn that mentions a like."""
    if m.kind == "episode":
        return (len(_PROFILE_ORDER), float(len(m.text)), -m.created_at.timestamp())
    return (_PROFILE_ORDER.get(m.kind, len(_PROFILE_ORDER)), -m.importance, -m.created_at.timestamp())


class MemorySource(Protocol):
    """What prompting reads about a user, routed for one model (`persona.memories.RoutedMemories`, from
    ``Memories.for_model(model)``, implements it): every read already leaves out what that model may not
    see, so no strategy or template can reach it. `build_prompt` refuses a source routed for another model."""

    routed_for: str
    """The model the reads are for."""

    def now(self) -> datetime: ...

    def withheld(self) -> dict[str, builtins.list[str]]:
        """Per sensitivity label, the memories left out because ``routed_for`` may not see them."""
        ...

    def reason(self, label: str) -> str:
        """Why memories labelled ``label`` were left out."""
        ...

    def search(self, user_id: str, query: str, *, k: int) -> builtins.list[Hit]: ...

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        limit: int | None = None,
        include_superseded: bool = False,
    ) -> builtins.list[Memory]: ...

    def stated_preferences(self, user_id: str, *, limit: int) -> builtins.list[Memory]: ...


# -- results -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt ready for a chat model, and what went into it."""

    messages: list[dict[str, str]]
    """OpenAI chat format: the system message, the caller's conversation, the user's message last."""
    tokens: int
    """Tokens of ``messages``, counted with ``tokenizer``; never more than ``budget``."""
    budget: int
    section_tokens: dict[str, int]
    """Tokens per part: ``instructions`` (the template's own text), each section, ``message``; sums to tokens."""
    memory_ids: list[str]
    """The memories included, in the order they appear."""
    left_out: dict[str, list[str]]
    """Per section, the memories that were candidates but did not fit (best ranked first); and per
    ``sensitivity:<label>``, the user's memories with that label, which this model may not see (why:
    `withheld`)."""
    left_out_messages: int
    """How many of the caller's ``history`` messages did not fit (the oldest ones)."""
    strategy: str
    model: str
    tokenizer: str
    withheld: dict[str, str] = field(default_factory=dict)
    """Per sensitivity label left out (``left_out["sensitivity:<label>"]``), why, e.g. ``"health: only local
    (local/...) or trusted models (Persona(trusted_models=...)), not gpt-4o-mini"``."""
    arm: str | None = None
    """With ``strategy="auto"``: the arm chosen (``"hybrid@1024"``); None for a fixed strategy."""
    exploring: bool = False
    """With ``strategy="auto"``: the chosen arm is not the one with the best estimate."""

    @property
    def system(self) -> str:
        return self.messages[0]["content"] if self.messages and self.messages[0]["role"] == "system" else ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class Item:
    """A memory as a template sees it (text already made safe to print)."""

    id: str
    text: str
    kind: str
    date: str
    time: str
    role: str
    importance: float
    score: float | None = None


# -- candidates ----------------------------------------------------------------------------------------------


def _safe(text: str) -> str:
    """Memory text as one inert line: whitespace collapsed, delimiter tags defused."""
    return _TAG.sub(r"‹\1", " ".join(text.split()))


def _item(memory: Memory, score: float | None = None) -> Item:
    created = memory.created_at.astimezone(timezone.utc)
    role = memory.metadata.get("role", "") if isinstance(memory.metadata, dict) else ""
    return Item(
        id=memory.id,
        text=_safe(memory.text),
        kind=memory.kind,
        date=created.strftime("%Y-%m-%d"),
        time=created.strftime("%Y-%m-%d %H:%M"),
        role=role if isinstance(role, str) else "",
        importance=memory.importance,
        score=score,
    )


_FILL_TOKENS = 12
"""Retrieval asks for one hit per this many tokens of budget (a short turn's cost), so hits fill it."""
_FILL_MAX = 250


def _off(strat: Strategy, key: str) -> bool:
    return str(strat.options.get(key, "1")).strip().lower() in ("0", "false", "no", "off")


def _candidates(
    source: MemorySource, user_id: str, message: str, strat: Strategy, skip: set[str], budget: int
) -> dict[str, list[Item]]:
    """Per memory section, the candidates best first (``budget``: the prompt's, for how deep to retrieve)."""
    wanted = {name for name, _ in strat.sections}
    out: dict[str, list[Item]] = {}
    if "retrieved" in wanted:
        k = strat.option("k", 10)
        depth = k if _off(strat, "fill") else max(k, min(_FILL_MAX, budget // _FILL_TOKENS))
        hits = source.search(user_id, message, k=depth)
        out["retrieved"] = [_item(h.memory, h.score) for h in hits]
    if "profile" in wanted:
        limit = strat.option("profile_limit", 100)
        found: list[Memory] = []
        for kind in ("profile", "preference", "fact"):
            found += source.list(user_id, kind=kind, limit=limit, include_superseded=False)
        if not _off(strat, "profile_episodes") and seeks_advice(message):
            # Preferences stated in turns that nothing was extracted from (MemorySource.stated_preferences): only
            # when the message asks for advice, where they matter; otherwise they would crowd out retrieval.
            found += source.stated_preferences(user_id, limit=limit)
        found.sort(key=_profile_order)
        condensed: dict[str, Memory] = {}  # near-identical texts once, the best ranked
        for m in found:
            condensed.setdefault(" ".join(re.findall(r"\w+", m.text.lower())), m)
        out["profile"] = [_item(m) for m in condensed.values()]
    if "recent" in wanted:
        episodes = source.list(
            user_id, kind="episode", limit=strat.option("recent_turns", 20), include_superseded=False
        )
        out["recent"] = [_item(m) for m in episodes if " ".join(m.text.split()) not in skip]
    if "history" in wanted:
        out["history"] = [_item(m) for m in source.list(user_id, include_superseded=False)]
    return out


# -- rendering -----------------------------------------------------------------------------------------------


def _dummy(key: str, text: str, kind: str = "preference") -> Item:
    return Item(key, text, kind, "2000-01-01", "2000-01-01 00:00", "assistant", 0.5, 1.0)


@dataclass
class _Renderer:
    template: jinja2.Template
    context: dict[str, Any]
    counter: TokenCounter
    name: str = "strategy"
    deadline: Deadline | None = None

    def system(self, sections: Mapping[str, Sequence[Item]]) -> str:
        from .sandbox import Deadline, render

        if self.deadline is None:
            self.deadline = Deadline()  # one deadline for every render of this prompt
        values = {**self.context, **{s: list(sections.get(s, ())) for s in MEMORY_SECTIONS}}
        return render(self.template, values, self.deadline, self.name).strip()

    def tokens(self, sections: Mapping[str, Sequence[Item]]) -> int:
        return self.counter.count(self.system(sections))


_LAYOUT: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], tuple[int, int]]] = weakref.WeakKeyDictionary()


def _layout_costs(r: _Renderer, section: str, base: int) -> tuple[int, int]:
    """(heading, per item) tokens a section's layout adds around its memories' text (cached per template)."""
    known = _LAYOUT.setdefault(r.template, {})
    key = (section, str(getattr(r.counter, "name", id(r.counter))))
    if key in known:
        return known[key]
    a, b = _dummy("a", "alpha beta gamma delta"), _dummy("b", "epsilon zeta eta")
    e = _dummy("e", "iota mu", "episode")
    one = r.tokens({section: [a]})
    two = r.tokens({section: [a, b]})
    mixed = r.tokens({section: [a, e]})
    per_item = max(two - one - r.counter.count(b.text), mixed - one - r.counter.count(e.text), 0)
    heading = max(one - base - r.counter.count(a.text) - per_item, 0)
    known[key] = (heading, per_item + 1)  # +1: token merges across boundaries
    return known[key]


def resolve_model(model: str | None, default: str | None = None) -> str:
    """``model``, else ``default`` (the client's setting), else ``$PERSONA_MODEL``, else ``local/smollm2``."""
    from ..backends.llm import default_model

    return model or default or default_model()


def check_history(history: Sequence[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """The caller's conversation: a list of ``{"role", "content"}`` messages (content: text, NUL-free)."""
    if history is None:
        return []
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, (Sequence, Iterable)):
        raise InvalidInputError(
            f"history must be a list of {{'role': ..., 'content': ...}} messages, got {type(history).__name__}."
        )
    out = []
    for i, msg in enumerate(history):
        role = msg.get("role") if isinstance(msg, Mapping) else None
        content = msg.get("content") if isinstance(msg, Mapping) else None
        if role not in ("user", "assistant", "system") or not isinstance(content, str):
            raise InvalidInputError(
                f"history[{i}] must be {{'role': 'user'|'assistant'|'system', 'content': str}}, "
                f"got {reprlib.repr(msg)}."
            )
        if "\x00" in content or len(content) > MAX_TEXT_CHARS:
            raise InvalidInputError(
                f"history[{i}] content must be NUL-free and at most {MAX_TEXT_CHARS:,} characters."
            )
        out.append({"role": str(role), "content": check_encodable(content, what=f"history[{i}] content")})
    return out


def build_prompt(
    source: MemorySource,
    user_id: str,
    message: str,
    *,
    strategy: str | os.PathLike[str] = "hybrid",
    model: str | None = None,
    max_prompt_tokens: int | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    template_dirs: Sequence[str | os.PathLike[str]] | None = None,
    counter: TokenCounter | None = None,
) -> RenderedPrompt:
    """Render ``strategy`` for ``user_id``'s ``message`` within the budget, from what ``source`` holds.

    ``model`` defaults as in `resolve_model`; ``template_dirs`` are searched before ``$PERSONA_TEMPLATES`` and
    the built-ins (the client passes the store's ``templates/`` directory here).
    """
    from ..backends.llm import check_model
    from ..backends.tokens import (  # tiktoken helpers: loaded on the first prompt, not at import
        MESSAGE_OVERHEAD,
        REPLY_OVERHEAD,
        Section,
        count_messages,
        counter_for,
        default_budget,
        pack,
    )

    message = check_text(message, what="message")
    if max_prompt_tokens is not None:
        check_positive_int(max_prompt_tokens, what="max_prompt_tokens")
    if not isinstance(strategy, (str, os.PathLike)):
        raise InvalidInputError(
            f"strategy must be a name (e.g. 'hybrid') or the path of a .j2 file, got {type(strategy).__name__}."
        )
    conversation = check_history(history)
    if model is not None and not isinstance(model, str):
        raise InvalidInputError(f"model must be a model name (a string), got {type(model).__name__}.")
    model_name = resolve_model(model)
    check_model(model_name)
    if getattr(source, "routed_for", None) != model_name:
        raise InvalidInputError(
            f"the memories were routed for model {getattr(source, 'routed_for', None)!r}, not {model_name!r}: "
            "pass memories.for_model(model) so the sensitivity policy applies to the model the prompt is for."
        )
    counter = counter or counter_for(model_name)
    budget = max_prompt_tokens or default_budget(model_name, counter)
    strat, template = load_strategy(strategy, template_dirs)

    now = source.now().astimezone(timezone.utc).strftime("%A %Y-%m-%d %H:%M UTC")
    renderer = _Renderer(template, {"now": now, "user_id": user_id, "message": message}, counter, strat.name)
    base = renderer.tokens({})
    message_cost = counter.count(message) + MESSAGE_OVERHEAD + REPLY_OVERHEAD
    fixed = base + MESSAGE_OVERHEAD + message_cost
    if fixed > budget:
        raise InvalidInputError(
            f"the message and the strategy's fixed text need {fixed} tokens, more than the budget of {budget}; "
            "shorten the message or raise max_prompt_tokens."
        )

    skip = {" ".join(message.split())} | {" ".join(m["content"].split()) for m in conversation}
    pools = _candidates(source, user_id, message, strat, skip, budget)
    plan: list[Section] = []
    for name, share in strat.sections:
        if name == "conversation":
            turns = [
                (f"msg:{i}", counter.count(m["content"]) + MESSAGE_OVERHEAD, m)
                for i, m in enumerate(conversation)
            ]
            plan.append(Section(name, share, turns[::-1], contiguous=True))
            continue
        heading, per_item = _layout_costs(renderer, name, base)
        items = pools.get(name, [])
        lines = [(it.id, counter.count(it.text) + per_item, it) for it in items]
        plan.append(Section(name, share, lines, heading=heading, contiguous=name == "recent"))

    # The part of every heading that all memory sections share (the rules and the delimiters) is paid once.
    memory_plan = [s for s in plan if s.name != "conversation"]
    shared = min((s.heading for s in memory_plan), default=0)
    for section in memory_plan:
        section.heading -= shared
    any_memory = any(s.candidates for s in memory_plan)
    log: list[tuple[str, int]] = []
    pack(plan, max(0, budget - fixed - (shared if any_memory else 0)), log)
    by_name = {s.name: s for s in plan}

    def assemble() -> tuple[dict[str, list[Item]], list[dict[str, str]]]:
        shown: dict[str, list[Item]] = {}
        for s in plan:
            if s.name != "conversation":
                picked = s.payloads()  # best first; recent and history are newest first, shown oldest first
                shown[s.name] = picked[::-1] if s.name in ("recent", "history") else picked
        convo = by_name["conversation"].payloads()[::-1] if "conversation" in by_name else []
        system = renderer.system(shown)
        return shown, [{"role": "system", "content": system}, *convo, {"role": "user", "content": message}]

    shown, messages = assemble()
    tokens = count_messages(counter, messages)
    for top_up in (True, False):
        while tokens > budget and log:  # estimates were short: drop the last memory added, re-check exactly
            name, index = log.pop()
            by_name[name].chosen.remove(index)
            shown, messages = assemble()
            tokens = count_messages(counter, messages)
        if not top_up or tokens >= budget:
            break
        added = len(log)  # estimates were generous: offer the exact room left, once
        pack(plan, budget - tokens, log, topping_up=True)
        if len(log) == added:
            break
        shown, messages = assemble()
        tokens = count_messages(counter, messages)

    result = _result(strat, model_name, counter, budget, tokens, plan, shown, messages)
    withheld = source.withheld()
    for label, ids in withheld.items():
        result.left_out[f"sensitivity:{label}"] = list(ids)
        result.withheld[label] = source.reason(label)
    return result


def _result(
    strat: Strategy,
    model: str,
    counter: TokenCounter,
    budget: int,
    tokens: int,
    plan: list[Section],
    shown: dict[str, list[Item]],
    messages: list[dict[str, str]],
) -> RenderedPrompt:
    per: dict[str, int] = {}
    for section in plan:  # each memory line as estimated while packing (text + layout), and its heading
        if section.chosen:
            own = sum(section.candidates[i][1] for i in section.chosen)
            per[section.name] = own + (section.heading if section.name != "conversation" else 0)
    from ..backends.tokens import MESSAGE_OVERHEAD, REPLY_OVERHEAD

    per["message"] = counter.count(messages[-1]["content"]) + MESSAGE_OVERHEAD + REPLY_OVERHEAD
    section_tokens = {"instructions": tokens - sum(per.values()), **per}

    order = {"profile": 0, "retrieved": 1, "recent": 2, "history": 3}
    memory_ids = [it.id for name in sorted(shown, key=order.__getitem__) for it in shown[name]]
    left_messages = sum(len(s.candidates) - len(s.chosen) for s in plan if s.name == "conversation")
    left_out: dict[str, list[str]] = {}
    included = set(memory_ids)
    for s in plan:
        chosen = set(s.chosen)
        missing = [
            key for i, (key, _, _) in enumerate(s.candidates) if i not in chosen and key not in included
        ]
        if missing and s.name != "conversation":
            left_out[s.name] = missing
    return RenderedPrompt(
        messages=messages,
        tokens=tokens,
        budget=budget,
        section_tokens=section_tokens,
        memory_ids=memory_ids,
        left_out=left_out,
        left_out_messages=left_messages,
        strategy=strat.name,
        model=model,
        tokenizer=str(getattr(counter, "name", type(counter).__name__)),
    )
