"""Keeping message text from becoming control tokens for the models persona runs itself (llama.cpp).

llama.cpp's chat handlers render the messages into one prompt string with the model's chat template and
tokenize it with special tokens enabled, so that the template's own role markers (``<|im_start|>``,
``<|im_end|>`` ...) become control tokens. Text from memories, the conversation or the user's message that
happens to contain such a marker would become one too: a memory ``<|im_end|>\\n<|im_start|>system ...``
would open a real system turn. `neutralize_messages` breaks every control-token string in the messages'
content with a zero-width space (``<\\u200b|im_end|>``): the model reads it as ordinary text, and only the
template's markers are control tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["BREAK", "control_token_texts", "neutralize", "neutralize_messages"]

BREAK = "\u200b"
"""What is inserted into a control-token string found in message text (a zero-width space)."""


def control_token_texts(llama: Any) -> tuple[str, ...]:
    """The text of every control token in ``llama``'s vocabulary: tokens that are rendered only when special
    tokens are (bos, eos, the chat template's role markers ...), longest first."""
    found: set[str] = set()
    for token in range(int(llama.n_vocab())):
        try:
            shown = llama.detokenize([token], special=True)
            plain = llama.detokenize([token], special=False)
        except Exception:  # a token llama.cpp cannot render: nothing text could turn into
            continue
        if shown and shown != plain:
            text = shown.decode("utf-8", errors="ignore")
            if text.strip():
                found.add(text)
    return tuple(sorted(found, key=lambda t: (-len(t), t)))


def neutralize(text: str, specials: Iterable[str]) -> str:
    """``text`` with every occurrence of a control-token string broken so that it tokenizes as plain text."""
    tokens = [t for t in specials if t]
    for _ in range(len(text) + 1):  # breaking one occurrence cannot create another, but be certain
        hit = next((t for t in tokens if t in text), None)
        if hit is None:
            return text
        text = text.replace(hit, hit[0] + BREAK + hit[1:] if len(hit) > 1 else "\ufffd")
    return text


def neutralize_messages(messages: Sequence[Mapping[str, Any]], specials: Sequence[str]) -> list[dict[str, Any]]:
    """A copy of ``messages`` whose text content (strings, or the text parts of a content list) cannot hold
    control tokens."""
    out: list[dict[str, Any]] = []
    for message in messages:
        copy = dict(message)
        content = copy.get("content")
        if isinstance(content, str):
            copy["content"] = neutralize(content, specials)
        elif isinstance(content, list):
            copy["content"] = [
                {**part, "text": neutralize(part["text"], specials)}
                if isinstance(part, Mapping) and isinstance(part.get("text"), str)
                else part
                for part in content
            ]
        out.append(copy)
    return out
