"""A disk cache of LLM answers, keyed by model, messages and parameters, so a re-run costs nothing.

One SQLite file (``llm_cache.sqlite``); the key is the SHA-256 of the canonical JSON of
``{"model", "messages", "params"}``. Each answer is committed as soon as it arrives, so a run killed
half-way keeps everything it paid for. The recorded latency is the original call's, so a cached re-run
reports the same LLM latency as the run that paid for it (``cached`` says which rows came from the cache).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CachedAnswer", "LLMCache", "cache_key"]


def cache_key(model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> str:
    """The hex SHA-256 of the canonical JSON of model, messages and parameters."""
    canonical = json.dumps(
        {"model": model, "messages": [dict(m) for m in messages], "params": dict(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """An answer and what it cost when it was first produced."""

    text: str
    latency_ms: float
    usage: dict[str, int]
    cached: bool


class LLMCache:
    """``complete(model, messages, **params)`` through ``persona.backends.llm.complete``, memoised on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, text TEXT NOT NULL,"
            " latency_ms REAL NOT NULL, usage TEXT NOT NULL, created REAL NOT NULL)"
        )
        self._db.commit()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, latency_ms, usage FROM answers WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return CachedAnswer(str(row[0]), float(row[1]), dict(json.loads(row[2])), cached=True)

    def put(self, key: str, model: str, answer: CachedAnswer) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, answer.text, answer.latency_ms, json.dumps(answer.usage), time.time()),
            )
            self._db.commit()

    def complete(self, model: str, messages: Sequence[Mapping[str, Any]], **params: Any) -> CachedAnswer:
        """The cached answer when there is one, else a fresh call (recorded before it is returned)."""
        key = cache_key(model, messages, params)
        found = self.get(key)
        if found is not None:
            self.hits += 1
            return found
        from persona.backends.llm import complete

        started = time.perf_counter()
        result = complete(model, messages, **params)
        answer = CachedAnswer(
            text=result.text,
            latency_ms=1000 * (time.perf_counter() - started),
            usage=dict(result.usage),
            cached=False,
        )
        self.put(key, model, answer)
        self.misses += 1
        return answer

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
