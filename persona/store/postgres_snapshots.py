"""The PostgreSQL store's index snapshots, with their vectors (`persona.store.base.IndexSource.load_snapshot` /
`save_snapshot`; what a snapshot holds is `persona.retrieval.snapshot`'s business).

PostgreSQL has no index files, so a snapshot carries the user's vectors too (issue #11): the dense vectors,
then the sentence keys, as raw float32 cut into parts of `PART` bytes in ``snapshot_vectors``. A part fits
in its heap page (``STORAGE MAIN``, no TOAST), so the parts stream out of one index range scan; one 52 MB
``bytea`` (TOASTed, then grown piecewise in libpq's buffer) took about twice as long here. Every part
records the CRC-32 of the snapshot data it was saved with (``stamp``: the read asks for those only) and the
CRC-32 of all the vectors: parts missing, of another save (one between our two queries) or garbled make the
snapshot come without vectors, and the index cache reads them from the rows instead (and saves it again).

The parts reference the snapshot row (``ON DELETE CASCADE``): every transaction that erases a user's
snapshot (a write that changes or removes a row, ``forget_user``, re-embedding, a retention sweep) erases
its vectors with it.
"""

from __future__ import annotations

import functools
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import StoreError
from .base import Snapshot, SnapshotScores

__all__ = ["PART", "PostgresSnapshots"]

PART = 7680
"""Bytes of vectors per row of ``snapshot_vectors``: with its key it stays under the 8 kB page, inline."""


class PostgresSnapshots:
    """Load and save a user's index snapshot and its vectors."""

    def read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def write(self, user_id: str | None = None) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def load_snapshot(self, user_id: str) -> Snapshot | None:
        """The user's snapshot, with its vectors when all their parts are there, of this snapshot and intact
        (else without). The snapshot row says how many parts there are and their CRC-32; the parts come
        through ``COPY ... TO STDOUT`` (binary), each row copied once, straight from libpq's buffer into one
        array. (Fetching them as rows cost a second copy, 50 ms more here; two halves on two connections
        were slower too: 2 cores, busy.)"""
        with self.read() as conn, conn.cursor(binary=True) as cur:
            row = cur.execute(
                "SELECT mutations, count, max_seq, data, (SELECT count(*) FROM snapshot_vectors v WHERE "
                "v.user_id = s.user_id), (SELECT crc FROM snapshot_vectors v WHERE v.user_id = s.user_id AND "
                "part = 0) FROM snapshots s WHERE user_id = %s",
                (user_id,),
            ).fetchone()
            if row is None:
                return None
            data, total, crc = bytes(row[3]), int(row[4]), row[5]
            vectors: tuple[memoryview, ...] = ()
            if total and crc is not None:
                vectors = _copied(cur, user_id, zlib.crc32(data), total, int(crc))
        return Snapshot(int(row[0]), int(row[1]), int(row[2]), data, vectors)

    def snapshot_mutations(self, user_id: str) -> int | None:
        """The ``mutations`` counter the user's snapshot was taken at (`persona.store.base.SnapshotScoring`)."""
        with self.read() as conn:
            row = conn.execute("SELECT mutations FROM snapshots WHERE user_id = %s", (user_id,)).fetchone()
        return None if row is None else int(row[0])

    def load_snapshot_data(self, user_id: str) -> Snapshot | None:
        """The user's snapshot without its vectors (`persona.store.base.SnapshotScoring`)."""
        with self.read() as conn, conn.cursor(binary=True) as cur:
            row = cur.execute(
                "SELECT mutations, count, max_seq, data FROM snapshots WHERE user_id = %s", (user_id,)
            ).fetchone()
        return None if row is None else Snapshot(int(row[0]), int(row[1]), int(row[2]), bytes(row[3]))

    def snapshot_scores(self, user_id: str, query: npt.NDArray[np.float32]) -> SnapshotScores | None:
        """The query's inner products with the rows' vectors (``memories.embedding``) and the snapshot's
        sentence keys (``snapshot_keys``), by pgvector in the server: two statements on two connections at
        once, each saying which snapshot row it saw (the caller checks they agree with the data it loaded)."""
        vector = np.ascontiguousarray(query, dtype=np.float32)
        with ThreadPoolExecutor(max_workers=1) as worker:
            later = worker.submit(self._key_scores, user_id, vector)
            own = self._own_scores(user_id, vector)
            keys = later.result()
        if own is None or keys is None or own[:3] != keys[:3]:
            return None
        mutations, count, max_seq, scores = own
        return SnapshotScores(mutations, count, max_seq, keys[3], scores, keys[4])

    def _own_scores(
        self, user_id: str, vector: npt.NDArray[np.float32]
    ) -> tuple[int, int, int, npt.NDArray[np.float64]] | None:
        with self.read() as conn, conn.cursor(binary=True) as cur:
            cur.adapters.register_loader(_FLOAT8_ARRAY, _float8_array())
            row = cur.execute(
                "SELECT mutations, count, max_seq, (SELECT array_agg(-(embedding <#> %s) ORDER BY seq) "
                "FROM memories m WHERE m.user_id = s.user_id AND seq <= s.max_seq AND NOT transcript) "
                "FROM snapshots s WHERE user_id = %s",
                (vector, user_id),
            ).fetchone()
        if row is None or row[3] is None:
            return None
        return int(row[0]), int(row[1]), int(row[2]), row[3]

    def _key_scores(
        self, user_id: str, vector: npt.NDArray[np.float32]
    ) -> tuple[int, int, int, int | None, npt.NDArray[np.float64]] | None:
        with self.read() as conn, conn.cursor(binary=True) as cur:
            cur.adapters.register_loader(_FLOAT8_ARRAY, _float8_array())
            row = cur.execute(
                "SELECT mutations, count, max_seq, k.lo, k.hi, k.scores FROM snapshots s, LATERAL (SELECT "
                "min(stamp) AS lo, max(stamp) AS hi, array_agg(-(key <#> %s) ORDER BY part) AS scores FROM "
                "snapshot_keys k WHERE k.user_id = s.user_id) k WHERE s.user_id = %s",
                (vector, user_id),
            ).fetchone()
        if row is None or row[3] != row[4]:
            return None
        keys = row[5] if row[5] is not None else np.zeros(0)
        return int(row[0]), int(row[1]), int(row[2]), None if row[3] is None else int(row[3]), keys

    def save_snapshot(self, user_id: str, snapshot: Snapshot) -> bool:
        """Save it, with its vectors, if the user's mutations counter still matches (`IndexSource`)."""
        s = snapshot
        try:
            with self.write(user_id) as conn:
                done = conn.execute(
                    "INSERT INTO snapshots(user_id, mutations, count, max_seq, data) SELECT %s, %s, %s, %s, %s "
                    "WHERE (SELECT mutations FROM users WHERE user_id = %s) = %s ON CONFLICT (user_id) DO UPDATE "
                    "SET mutations = excluded.mutations, count = excluded.count, max_seq = excluded.max_seq, "
                    "data = excluded.data",
                    (user_id, s.mutations, s.count, s.max_seq, s.data, user_id, s.mutations),
                ).rowcount
                if done:
                    conn.execute("DELETE FROM snapshot_vectors WHERE user_id = %s", (user_id,))
                    conn.execute("DELETE FROM snapshot_keys WHERE user_id = %s", (user_id,))
                    if s.vectors:
                        blob = b"".join(s.vectors)
                        _copy_parts(conn, user_id, zlib.crc32(s.data), blob)
                        if s.dim:
                            _copy_keys(conn, user_id, zlib.crc32(s.data), blob[s.count * s.dim * 4 :], s.dim)
            return bool(done)
        except StoreError:
            return False  # a cache: go without it


def _copied(cur: Any, user_id: str, stamp: int, total: int, crc: int) -> tuple[memoryview, ...]:
    """The bytes of the ``total`` parts of this snapshot (``stamp``: the query reads no others) in one buffer,
    when they are all there and their CRC-32 is ``crc``; else ()."""
    buffer = np.empty(total * PART, dtype=np.uint8).data.cast("B")  # numpy's: huge pages where it can
    at = rows = 0
    header, shaped = True, True
    with cur.copy(
        "COPY (SELECT data FROM snapshot_vectors WHERE user_id = %s AND stamp = %s ORDER BY part) "
        "TO STDOUT (FORMAT BINARY)",
        (user_id, stamp),
    ) as copy:
        while chunk := copy.read():  # read to the end even when a message is not ours: the connection is reused
            message = memoryview(chunk)
            if header:  # the 19-byte file header: signature, flags, no extension
                shaped = bytes(message[:11]) == b"PGCOPY\n\xff\r\n\x00"
                message, header = message[19:], False
            if not shaped or len(message) in (0, 2):  # the header alone, or the trailer (-1)
                continue
            size = int.from_bytes(message[2:6], "big")
            # one CopyData message per row: 1 field, its length, its bytes; any other shape: not ours
            if int.from_bytes(message[:2], "big") != 1 or len(message) != 6 + size or at + size > len(buffer):
                shaped = False
                continue
            buffer[at : at + size] = message[6:]
            at, rows = at + size, rows + 1
    if not shaped or rows != total or zlib.crc32(buffer[:at]) != crc:
        return ()  # a part missing, a save of another snapshot in between, garbled, or not in this shape
    return (buffer[:at],)


def _copy_parts(conn: Any, user_id: str, stamp: int, blob: bytes) -> None:
    """The vectors in parts of `PART` bytes, each marked with the snapshot's stamp and the vectors' CRC-32."""
    view, crc = memoryview(blob), zlib.crc32(blob)
    with conn.cursor() as cur, cur.copy(
        "COPY snapshot_vectors (user_id, part, stamp, crc, data) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "int4", "int8", "int8", "bytea"])
        for part, start in enumerate(range(0, len(blob), PART)):
            copy.write_row((user_id, part, stamp, crc, view[start : start + PART]))


def _copy_keys(conn: Any, user_id: str, stamp: int, blob: bytes, dim: int) -> None:
    """The sentence keys (raw float32 rows) as pgvector vectors, numbered in owner order: one binary ``COPY``
    stream laid out by numpy (a row at a time through psycopg cost a second per 24,000 keys)."""
    keys = np.frombuffer(blob, dtype="<f4").reshape(-1, dim)
    uid = user_id.encode("utf-8")
    layout = np.dtype(
        [
            ("fields", ">i2"), ("uid_size", ">i4"), ("uid", "u1", (len(uid),)), ("part_size", ">i4"), ("part", ">i4"),
            ("stamp_size", ">i4"), ("stamp", ">i8"), ("key_size", ">i4"), ("dim", ">u2"), ("unused", ">u2"),
            ("key", ">f4", (dim,)),
        ]
    )  # fmt: skip
    rows = np.empty(len(keys), dtype=layout)
    rows["fields"], rows["uid_size"], rows["uid"] = 4, len(uid), np.frombuffer(uid, dtype=np.uint8)
    rows["part_size"], rows["part"] = 4, np.arange(len(keys))
    rows["stamp_size"], rows["stamp"] = 8, stamp
    rows["key_size"], rows["dim"], rows["unused"], rows["key"] = 4 + 4 * dim, dim, 0, keys
    with conn.cursor() as cur, cur.copy(
        "COPY snapshot_keys (user_id, part, stamp, key) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))  # the signature, no flags, no header extension
        copy.write(rows.data)
        copy.write(b"\xff\xff")  # the trailer


_FLOAT8_ARRAY = 1022
"""The oid of ``float8[]``."""


@functools.cache
def _float8_array() -> type:
    """A loader of a binary one-dimensional ``float8[]`` without NULLs as a numpy array (not a list of
    Python floats). Made on first use: psycopg is an optional extra."""
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    class Float8Array(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> npt.NDArray[np.float64]:
            view = memoryview(data)
            if int.from_bytes(view[:4], "big") == 0:  # no dimensions: empty
                return np.zeros(0)
            if int.from_bytes(view[:4], "big") != 1 or int.from_bytes(view[4:8], "big") != 0:
                raise ValueError("expected a one-dimensional float8[] without NULLs")
            n = int.from_bytes(view[12:16], "big")
            items = np.frombuffer(view, dtype=[("size", ">i4"), ("value", ">f8")], count=n, offset=20)
            return items["value"].astype(np.float64)

    return Float8Array
