"""Per-user indexes kept in memory and in sync with the store; the dense part cached in index files.

A user's index is rebuilt from the store whenever the store says it changed in a way we cannot patch
(another process updated or deleted something); plain additions are appended. This process's own writes
are applied in one place, `IndexCache.apply`, from the `Change` the store reported. When the store has a
cache directory (the SQLite store's ``<store>/index/``), the dense vectors are saved there: a missing, stale,
unreadable or garbled file (its sidecar records the CRC-32 of the vectors) is rebuilt, never an error, and a
file that cannot be written costs a rebuild later, never a failed search.

What is erased from the store leaves the files too: deleting a memory or forgetting a user removes the
user's files, and a file saved while another process erased what it was built from is removed by its writer
(it re-reads the user's state after writing). Files of users the store does not know are found by
`IndexCache.unknown_files`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np

from ..backends.faiss_index import FlatIndex
from ..errors import PersonaError, StoreError
from ..store.base import Change, IndexSource, Snapshot
from ..types import IndexState
from . import snapshot
from .index import UserIndex, decode_vectors, joined_rows
from .saving import BackgroundSaves

__all__ = ["KEYS_SUFFIX", "IndexCache"]

KEYS_SUFFIX = ".keys"
"""The file beside a user's ``.faiss`` file that holds their sentence keys (in owner order)."""


class IndexCache:
    """Keeps up to ``capacity`` users' indexes in memory and in sync with ``store``.

    Use an index only inside ``with cache.using(user_id, dim, embedder_id) as index:``: the cache holds its
    lock meanwhile, so another thread's write cannot patch the index while it is being read.
    """

    def __init__(self, store: IndexSource, directory: Path | None, *, capacity: int = 64) -> None:
        self.store = store
        self.directory = directory
        self.capacity = capacity
        self._lock = threading.RLock()
        self.saves = BackgroundSaves()
        """Snapshot saves to a store without index files (PostgreSQL), written in the background."""
        self._users: OrderedDict[str, UserIndex] = OrderedDict()

    def file_for(self, user_id: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{_digest(user_id)}.faiss"

    @contextmanager
    def using(
        self, user_id: str, dim: int, embedder_id: str, *, state: tuple[int, int] | None = None
    ) -> Iterator[UserIndex]:
        """The user's index, up to date with the store, held exclusively for the ``with`` block (``state``:
        the user's `IndexSource.user_state` when the caller has just read it; one round trip less)."""
        with self._lock:
            yield self._get(user_id, dim, embedder_id, state)

    def _get(self, user_id: str, dim: int, embedder_id: str, state: tuple[int, int] | None = None) -> UserIndex:
        """The user's index, up to date with the store (read the state before the rows: never stale)."""
        version, mutations = self.store.user_state(user_id) if state is None else state
        cached = self._users.get(user_id)
        if cached is not None and cached.dim == dim:
            if (cached.version, cached.mutations) == (version, mutations):
                self._users.move_to_end(user_id)
                return cached
            if cached.mutations == mutations:
                rows = self.store.user_rows(user_id, after_seq=cached.max_seq)
                cached.append(rows, decode_vectors(rows.embeddings, dim))
                cached.version = version
                self._users.move_to_end(user_id)
                return cached
        index = self._build(user_id, dim, embedder_id, version, mutations)
        self._users[user_id] = index
        self._users.move_to_end(user_id)
        while len(self._users) > self.capacity:
            self._users.popitem(last=False)
        return index

    def _build(self, user_id: str, dim: int, embedder_id: str, version: int, mutations: int) -> UserIndex:
        """A user's index from the store: from its snapshot where it is valid (then only the rows added since
        are read), else from the rows, the dense vectors from the index file where it is fresh."""
        restored = self._from_snapshot(user_id, dim, embedder_id, version, mutations)
        if restored is not None:
            return restored
        loaded: FlatIndex | None = None
        if self.directory is None:  # no index files (PostgreSQL): one read of every row, vectors included
            rows = self.store.user_rows(user_id)
            dense = FlatIndex(dim)
            dense.add(decode_vectors(rows.embeddings, dim))
            covered = 0
        else:
            rows = self.store.user_rows(user_id, embeddings=False)
            seqs = rows.seqs
            files = self._load_file(
                user_id,
                dim,
                embedder_id,
                mutations,
                lambda c, m: c <= len(seqs) and (not c or seqs[c - 1] == m),
            )
            loaded = None if files is None else files[0]
            dense = loaded or FlatIndex(dim)
            covered = len(dense)
            tail = self.store.user_rows(user_id, after_seq=rows.seqs[covered - 1] if covered else 0)
            dense.add(decode_vectors(tail.embeddings, dim))
            rows = joined_rows(rows.head(covered), tail)
        index = UserIndex(user_id=user_id, dim=dim, dense=dense, version=version, mutations=mutations)
        index.append(rows, np.zeros((0, dim), dtype=np.float32))
        if (
            self.directory is not None
            and len(index)
            and (loaded is None or len(index) - covered > max(64, covered // 10))
        ):
            self._save_file(index, embedder_id)
        if len(index) >= snapshot.MIN_ROWS:
            self._save_snapshot(index)
        return index

    def _from_snapshot(
        self, user_id: str, dim: int, embedder_id: str, version: int, mutations: int
    ) -> UserIndex | None:
        """The user's index restored from the store's snapshot and brought up to date with the rows added
        since, or None when there is no valid snapshot. The vectors come from the index files when they fit
        it, else from one read of the store's vector columns."""
        saved = self.store.load_snapshot(user_id)
        if saved is None or saved.mutations != mutations or saved.count < 1:
            return None
        arrays = snapshot.decode(saved.data, saved.count)
        if arrays is None or int(arrays["seqs"][-1]) != saved.max_seq:
            return None
        count = saved.count
        files = self._load_file(
            user_id, dim, embedder_id, mutations, lambda c, m: (c, m) == (count, saved.max_seq), keys=True
        )
        carried = _carried_vectors(saved.vectors, count, len(arrays["key_owner"]), dim)
        if files is not None:
            dense, keys = files
        elif carried is not None:
            dense, keys = carried
        else:
            embeddings, blobs = self.store.user_vectors(user_id, upto_seq=saved.max_seq)
            if len(embeddings) != count:
                return None
            dense = FlatIndex(dim)
            dense.add(decode_vectors(embeddings, dim))
            keys = _key_index([b for b in blobs if b], dim)
        index = snapshot.restore(
            arrays, user_id=user_id, dense=dense, keys=keys, version=version, mutations=mutations
        )
        if index is None:
            return None
        tail = self.store.user_rows(user_id, after_seq=saved.max_seq)
        index.append(tail, decode_vectors(tail.embeddings, dim))
        grown = len(tail.seqs) > max(64, count // 10)
        if self.directory is not None and (files is None or grown):
            self._save_file(index, embedder_id)
        # without files the snapshot holds the vectors, and what a store that scores them needs (geometry)
        if grown or (self.directory is None and (carried is None or not snapshot.has_geometry(arrays))):
            self._save_snapshot(index)
        return index

    def _save_snapshot(self, index: UserIndex) -> None:
        if bool(index.alive.all()):
            # without index files (PostgreSQL) the snapshot carries the vectors: one read for a cold index
            vectors = () if self.directory is not None else _vector_bytes(index)
            data = snapshot.encode(index, geometry=self.directory is None)
            saved = Snapshot(index.mutations, len(index), index.max_seq, data, vectors, index.dim)
            if self.directory is None:  # tens of MB to a server: not under the lock every search takes
                self.saves.submit(partial(self.store.save_snapshot, index.user_id, saved))
            else:
                self.store.save_snapshot(index.user_id, saved)

    def build(self, user_id: str, dim: int, embedder_id: str, state: tuple[int, int]) -> UserIndex:
        """The user's index at ``state`` built from the store, outside the cache (see `install`)."""
        return self._build(user_id, dim, embedder_id, *state)

    def cached(self, user_id: str, dim: int) -> bool:
        with self._lock:
            cached = self._users.get(user_id)
            return cached is not None and cached.dim == dim

    def install(self, index: UserIndex) -> bool:
        """Keep an index `build` made, unless the user has one already or the store's rows changed in a way
        it cannot follow since (a delete, an update, a forget: ``mutations`` differs)."""
        with self._lock:
            if index.user_id in self._users or self.store.user_state(index.user_id)[1] != index.mutations:
                return False
            self._users[index.user_id] = index
            while len(self._users) > self.capacity:
                self._users.popitem(last=False)
            return True

    def _load_file(
        self,
        user_id: str,
        dim: int,
        embedder_id: str,
        mutations: int,
        fits: Callable[[int, int], bool],
        *,
        keys: bool = False,
    ) -> tuple[FlatIndex, FlatIndex | None] | None:
        """The user's dense vectors (and with ``keys`` their sentence keys) from the index files, when they
        are of this embedder and ``mutations`` and ``fits(count, max_seq)`` of the rows they cover."""
        path = self.file_for(user_id)
        if path is None:
            return None
        sidecar = path.with_suffix(".json")
        try:
            info = json.loads(sidecar.read_text("utf-8"))
            if info.get("embedder_id") != embedder_id or info.get("mutations") != mutations:
                return None
            count = int(info["count"])
            if not fits(count, int(info["max_seq"]) if count else 0):
                return None
            dense = FlatIndex.load(path, dim)
            if len(dense) != count or info.get("crc32") != _checksum(dense):
                return None
            if not keys:
                return dense, None
            if int(info["keys"]) == 0:
                return dense, None
            extra = FlatIndex.load(path.with_suffix(KEYS_SUFFIX), dim)
            if len(extra) != int(info["keys"]) or info.get("keys_crc32") != _checksum(extra):
                return None
            return dense, extra
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def file_is_fresh(self, user_id: str) -> bool:
        """Whether the user's index file exists, reads, and matches the store (users under 2 rows need none;
        a store without a cache directory has no files, so they are always fresh)."""
        if self.directory is None:
            return True
        rows = self.store.user_rows(user_id, embeddings=False)
        recorded = self.store.recorded_embedder()
        if recorded is None or len(rows.seqs) == 0:
            return True
        _version, mutations = self.store.user_state(user_id)
        seqs = rows.seqs
        files = self._load_file(
            user_id, recorded[1], recorded[0], mutations, lambda c, m: c == len(seqs) and seqs[c - 1] == m
        )
        return files is not None

    def rebuild(self, user_id: str, dim: int, embedder_id: str) -> None:
        """Drop the user's index and its files, and build them again from the store."""
        with self._lock:
            self._drop(user_id, files=True)
            self._get(user_id, dim, embedder_id)

    def _save_file(self, index: UserIndex, embedder_id: str) -> None:
        path = self.file_for(index.user_id)
        if path is None or not bool(index.alive.all()):
            return  # positions no longer match the store's rows; the next full build writes a clean file
        sidecar = path.with_suffix(".json")
        tmp = sidecar.with_suffix(".json.tmp")
        try:
            index.dense.save(path)
            if index.keys is not None:
                index.keys.save(path.with_suffix(KEYS_SUFFIX))
            info = {
                "embedder_id": embedder_id,
                "mutations": index.mutations,
                "count": len(index.dense),
                "max_seq": index.seqs[len(index.dense) - 1],
                "crc32": _checksum(index.dense),
                "keys": len(index.keys) if index.keys is not None else 0,
                "keys_crc32": _checksum(index.keys) if index.keys is not None else 0,
            }
            tmp.write_text(json.dumps(info), "utf-8")
            os.replace(tmp, sidecar)
        except OSError:  # a cache: failing to write it costs a rebuild later, nothing else
            _unlink(tmp)
            return
        # The file must not outlive what it was built from: another process may have forgotten the user, or
        # deleted one of these rows, and removed the user's files while this index was being built. Its
        # removal came after its commit; reading the state after writing sees that commit, or the removal
        # comes after this write.
        try:
            current: tuple[int, int] | None = self.store.user_state(index.user_id)
        except PersonaError:
            current = None
        if current != (index.version, index.mutations):
            _unlink(path, sidecar, path.with_suffix(KEYS_SUFFIX))

    # -- this process's own writes ------------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        """Bring the cache up to date with one of this process's committed writes.

        A row whose liveness or currency flipped is patched in place when the cached index was at the write's
        ``before`` state or, without index files (PostgreSQL), behind it only by added rows (read first: chat
        learning adds a fact, then supersedes the old one; the patched index's snapshot is then saved for
        other processes); anything else the index derives from (text, kind, metadata) or any other change in
        between (``mutations`` differs) drops the user's index, to be rebuilt on next use.
        """
        with self._lock:
            if change.kind == "all":
                self._drop(None, files=True)
                return
            assert change.user_id is not None
            if change.kind == "forgotten":
                self._drop(change.user_id, files=True)
                return
            if change.kind == "added":
                return  # appended from the store on next use
            if change.kind == "deleted":  # the deleted memory's vector must not stay on disk
                self._remove_files(change.user_id)
            index = self._users.get(change.user_id)
            if index is None:
                return
            if change.kind == "reindex" or index.mutations != change.before[1]:
                self._users.pop(change.user_id, None)
                return
            if index.version != change.before[0]:  # rows added since (an add, then this write)
                if self.directory is not None:  # its index files would be stale: rebuilt (and saved) on next use
                    self._users.pop(change.user_id, None)
                    return
                rows = self.store.user_rows(change.user_id, after_seq=index.max_seq)
                index.append(rows, decode_vectors(rows.embeddings, index.dim))
            position = None if change.seq is None else index.position.get(change.seq)
            if position is None:
                if change.seq is None or change.seq > index.max_seq:
                    self._users.pop(change.user_id, None)  # a row this index has not read yet
                    return
                # a row the index never holds (transcript only): nothing to patch
            elif change.kind == "deleted":
                index.alive[position] = False
            elif change.kind in ("superseded", "restored"):
                index.current[position] = change.kind == "restored"
            index.version, index.mutations = change.after
            if self.directory is None and change.kind in ("superseded", "restored"):
                self._save_snapshot(index)  # in the background: other processes' next build starts from it

    def _drop(self, user_id: str | None, *, files: bool) -> None:
        if user_id is None:
            self._users.clear()
            if files and self.directory is not None and self.directory.exists():
                self._require_usable()
                try:
                    for p in self.directory.iterdir():
                        p.unlink(missing_ok=True)
                except OSError as exc:
                    raise self._removal_failed(exc) from exc
            return
        self._users.pop(user_id, None)
        if files:
            self._remove_files(user_id)

    def _remove_files(self, user_id: str) -> None:
        path = self.file_for(user_id)
        if path is None:
            return
        try:
            for p in (path, path.with_suffix(".json"), path.with_suffix(KEYS_SUFFIX)):
                p.unlink(missing_ok=True)
        except NotADirectoryError:
            return  # the directory is a file: it holds no index files
        except OSError as exc:
            raise self._removal_failed(exc) from exc

    def _removal_failed(self, exc: OSError) -> StoreError:
        return StoreError(
            f"the store's rows are written, but its index files in {self.directory} could not be removed "
            f"({exc}); they may still hold erased vectors. Delete that directory's files (they are rebuilt), "
            "then run persona check."
        )

    def problem(self) -> str | None:
        """Why index files cannot be written or removed here (what to do), or None when they can."""
        directory = self.directory
        if directory is None or not (directory.exists() or directory.is_symlink()):
            return None
        if not directory.is_dir():
            return (
                f"{directory} is not a directory: persona keeps its index files there. Move it away (the "
                "index files are rebuilt), then retry."
            )
        if not os.access(directory, os.W_OK | os.X_OK):
            return (
                f"{directory} is not writable: persona writes and removes its index files there. Make it "
                f"writable by this user (chmod u+w {directory}), then retry."
            )
        return None

    def _require_usable(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise StoreError(problem + " Nothing was changed.")

    def require_usable(self) -> None:
        """Raise `StoreError` (before a write that erases) when the index files could not be removed."""
        with self._lock:
            self._require_usable()

    def unknown_files(self, user_ids: list[str]) -> list[Path]:
        """Files in the directory that belong to none of ``user_ids`` (forgotten users, leftovers)."""
        if self.directory is None or not self.directory.is_dir():
            return []
        known = {_digest(u) for u in user_ids}
        return sorted(p for p in self.directory.iterdir() if p.name[:32] not in known)

    def remove_files(self, files: list[Path]) -> None:
        with self._lock:
            self._require_usable()
            try:
                for p in files:
                    p.unlink(missing_ok=True)
            except OSError as exc:
                raise self._removal_failed(exc) from exc

    def clear(self) -> None:
        """Forget every in-memory index (files stay)."""
        with self._lock:
            self._users.clear()

    def state(self) -> IndexState:
        with self._lock:
            files = (
                sorted(self.directory.glob("*.faiss"))
                if self.directory is not None and self.directory.exists()
                else []
            )
            return IndexState(cached_users=len(self._users), index_files=len(files))


def _digest(user_id: str) -> str:
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]


def _checksum(vectors: FlatIndex) -> int:
    """The CRC-32 of the vectors: finds a garbled or truncated file, at a fraction of a hash's cost."""
    return zlib.crc32(np.ascontiguousarray(vectors.vectors()).data)


def _key_index(blobs: list[bytes], dim: int) -> FlatIndex | None:
    """The sentence keys of ``blobs`` (float32 rows, owner order) as one index; None when there are none."""
    if not blobs:
        return None
    keys = FlatIndex(dim)
    keys.add(np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, dim))
    return keys


def _vector_bytes(index: UserIndex) -> tuple[bytes, ...]:
    """The index's vectors, then its sentence keys, as raw little-endian float32 (`Snapshot.vectors`)."""
    parts = [index.dense] if index.keys is None else [index.dense, index.keys]
    return tuple(np.ascontiguousarray(p.vectors(), dtype="<f4").tobytes() for p in parts)


def _carried_vectors(
    pieces: tuple[bytes | memoryview, ...], count: int, keys: int, dim: int
) -> tuple[FlatIndex, FlatIndex | None] | None:
    """The dense vectors and sentence keys a snapshot carries (searched in place where they come in one
    piece), or None when it carries none or not these."""
    if not pieces or sum(len(p) for p in pieces) != (count + keys) * dim * 4:
        return None
    blob = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    rows = np.frombuffer(blob, dtype="<f4").reshape(count + keys, dim)
    return FlatIndex.over(rows[:count]), FlatIndex.over(rows[count:]) if keys else None


def _unlink(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink(missing_ok=True)

