"""An LLM judge through litellm, with pinned, versioned prompts: LoCoMo correctness and PrefEval's four checks.

The prompts are files beside this module (``prompts/<task>_judge_v<N>.txt``, ``string.Template`` syntax).
A prompt is never edited in place: a change is a new version file and a new `JUDGE_VERSION`, and every
result row records ``judge_prompt`` (``name@sha256[:8]``), so scores made with different prompts are never
mixed silently. The judge runs at temperature 0 through the same disk cache as the answers.

PrefEval's checks follow its paper: *acknowledges* (the answer takes the preference into account),
*hallucinates* (it invents a different preference), *violates* (it goes against the preference), *helpful*
(it answers at all). An answer **follows** the preference when it is helpful, does not violate it, and does
not hallucinate another one while acknowledging it (the paper's four error types, none present).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template

from .llm_cache import LLMCache

__all__ = [
    "JUDGE_VERSION",
    "PREFEVAL_CHECKS",
    "Judge",
    "LocomoVerdict",
    "PrefEvalVerdict",
    "judge_prompt",
    "parse_locomo",
    "parse_prefeval",
]

JUDGE_VERSION = "v1"
PREFEVAL_CHECKS = ("acknowledges", "hallucinates", "violates", "helpful")
_PROMPTS = Path(__file__).resolve().parent / "prompts"
_CHECK_LINE = re.compile(
    r"^\W*(acknowledges|hallucinates|violates|helpful)\W*\s*[:=-]?\s*\W*(yes|no)\b", re.I | re.M
)


@lru_cache(maxsize=8)
def judge_prompt(task: str, version: str = JUDGE_VERSION) -> tuple[Template, str]:
    """The prompt template of ``task`` (``locomo`` or ``prefeval``) and its id ``name@sha8``."""
    path = _PROMPTS / f"{task}_judge_{version}.txt"
    text = path.read_text("utf-8")
    return Template(text), f"{path.stem}@{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class LocomoVerdict:
    correct: bool | None
    """None when the judge's reply could not be read."""
    raw: str


@dataclass(frozen=True)
class PrefEvalVerdict:
    acknowledges: bool | None
    hallucinates: bool | None
    violates: bool | None
    helpful: bool | None
    raw: str

    @property
    def follows(self) -> bool | None:
        """Helpful, no violation, no hallucinated preference; None when a needed check is unread."""
        if self.helpful is None or self.violates is None:
            return None
        hallucinated = bool(self.acknowledges) and bool(self.hallucinates)
        return self.helpful and not self.violates and not hallucinated


def parse_locomo(reply: str) -> LocomoVerdict:
    """CORRECT/WRONG from the first word that is one of them."""
    match = re.search(r"\b(CORRECT|WRONG|INCORRECT)\b", reply, re.I)
    return LocomoVerdict(None if match is None else match.group(1).upper() == "CORRECT", reply)


def parse_prefeval(reply: str) -> PrefEvalVerdict:
    """The four yes/no lines; a check that is missing reads as None."""
    found: dict[str, bool] = {}
    for match in _CHECK_LINE.finditer(reply):
        found.setdefault(match.group(1).lower(), match.group(2).lower() == "yes")
    return PrefEvalVerdict(
        acknowledges=found.get("acknowledges"),
        hallucinates=found.get("hallucinates"),
        violates=found.get("violates"),
        helpful=found.get("helpful"),
        raw=reply,
    )


class Judge:
    """Grades answers with ``model`` (any litellm model) through ``cache``. ``params`` go to every call."""

    def __init__(self, model: str, cache: LLMCache, **params: object) -> None:
        self.model = model
        self.cache = cache
        self.params: dict[str, object] = {"temperature": 0.0, "max_tokens": 48, **params}

    def _ask(self, prompt: str) -> tuple[str, float]:
        answer = self.cache.complete(self.model, [{"role": "user", "content": prompt}], **self.params)
        return answer.text, answer.latency_ms

    def locomo(self, question: str, gold: str | None, answer: str) -> tuple[LocomoVerdict, str, float]:
        """The verdict, the prompt id and the judge's latency (ms)."""
        template, prompt_id = judge_prompt("locomo")
        prompt = template.substitute(
            question=question, gold=gold if gold is not None else "(not in the conversation)", answer=answer
        )
        reply, latency = self._ask(prompt)
        return parse_locomo(reply), prompt_id, latency

    def prefeval(self, preference: str, question: str, answer: str) -> tuple[PrefEvalVerdict, str, float]:
        """The four checks, the prompt id and the judge's latency (ms)."""
        template, prompt_id = judge_prompt("prefeval")
        reply, latency = self._ask(
            template.substitute(preference=preference, question=question, answer=answer)
        )
        return parse_prefeval(reply), prompt_id, latency
