"""Retrieval: per-user indexes kept fresh from the store, hybrid ranking, and the `Searcher` over them.

``index`` (one user's index), ``cache`` (indexes in memory and in files), ``ranking`` (the score and its
parts), ``searcher`` (embed, rank, fetch, rerank); the signals they use: ``bm25``, ``embedding`` and
``sentences`` (vectors and sentence keys), ``conversations``, ``dates``, ``preferences``.
"""
