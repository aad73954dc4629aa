"""The vector index of one vector store: a derived, rebuildable cache of chunk embeddings.

The database is the source of truth (chunks keep their embeddings there). This module is the
pure index logic, no Flask and no database: the caller feeds it ``upsert``/``remove`` batches
from the chunk change log, sets ``version`` to the change-log position the index reflects, saves
it under ``instance/`` and, when ``load`` returns None (missing, corrupt, other model), rebuilds
it from the stored embeddings with ``rebuild``.

Modes
-----
* ``exact``: ``IndexIDMap2(IndexFlatIP)``. Exact, ``remove_ids`` works. Used while the store
  holds at most ``hnsw_threshold`` live vectors. Default 20k (``INDEX_HNSW_THRESHOLD``), chosen
  with ``bench/query_access.py`` on the whole query (real MiniLM vectors, 200 held-out queries,
  busy 2-core machine): at 20k HNSW (efSearch 128, EF_FLOOR) already costs less CPU per query
  than the exact index (50 vs 52 ms unfiltered, 51 vs 58 at a 50 % allowed set, with the query
  embedding and SQL) at recall@10 0.992-0.997; at 100k it saves 17 ms of 64 unfiltered (recall
  0.984) and 10 of 66 at 50 % (0.978). Below 20k an exact search costs under a millisecond
  (0.5 ms at 10k) and is exact (HNSW forced at 10k: recall 0.984). (Until issue 13 the default was 100k, where an exact search costs 6.3 /
  11.5 ms p50 / p99 idle, 15 / 31 on a busy machine.)
* ``hnsw``: ``IndexIDMap(IndexHNSWFlat(inner product))``. ~1-2 ms a query at 1M (efSearch grows
  with sqrt(N) to hold recall@10 >= 0.95, see EF_REFERENCE_SIZE), but HNSW
  cannot remove: a replaced or deleted chunk becomes a *tombstone* (its entry in the id map is
  set to -1, so faiss reports it as "no result" and every selector rejects it). Searches filter
  tombstones inside faiss (a selector), so k live results still come back. When tombstones pass
  ``TOMBSTONE_REBUILD_FRACTION`` of the vectors (or the live count crosses the mode threshold),
  ``needs_rebuild`` turns true and the caller runs ``rebuild`` in a background thread.

Mode changes only happen in ``rebuild`` (building a 100k HNSW graph takes 16-90 s, 1M 5-14 min:
never inside a write). ``rebuild`` builds a fresh index off to the side from an iterable of ``(ids, vectors)``
batches (the database, or this index's own vectors), replays the writes that arrived meanwhile,
and swaps it in under the write lock. Searches keep working throughout.

Filters (``allowed_ids``) take one of three paths, chosen by the size of the allowed set (the
cut-offs are the constants below, each with the measurement behind it; ``filter_path`` tells):

1. brute force over exactly the allowed vectors (exact, no O(N) pass): in exact mode for few
   allowed ids, in HNSW mode for a selective filter (under 2 %) or wherever it is cheaper (the
   cost model predicts from measured constants and corrects itself by the index's own searches,
   ``_PathCosts``). A large HNSW index keeps a PCA-reduced copy of its vectors (``_Reduced``,
   not saved: ``reduce`` makes it again in the background after a load); brute force over many
   allowed ids then ranks them by the copy first and scores only the best few hundred exactly
   (recall by measurement);
2. exact mode, more allowed ids: ``IndexFlatIP`` search with a selector (exact);
3. HNSW mode, broad filter: the graph search with the selector and efSearch raised for the
   fraction (approximate; rows that come back short are answered by an exact scan of HNSW's
   flat storage with the selector).

Selectors are bitmaps over chunk ids (cheap to build: 1 ms for 500k ids) when ids are dense
integers, ``IDSelectorBatch`` otherwise.

Thread safety (readers-writer discipline)
-----------------------------------------
* Any number of threads may ``search``, ``get``, ``len()`` at once: they hold the
  read side of a writer-preferring RW lock. faiss releases the GIL while it searches, and every
  search builds its own ``SearchParameters`` (faiss mutates the ones it is given), so
  concurrent searches are safe and parallel.
* Writes (``upsert``, ``remove``, setting ``version``) are serialised by a writer mutex and apply
  under the write side. A large upsert is applied in slices (``WRITE_SLICE`` vectors in HNSW
  mode), releasing the write lock between slices so searches are never blocked for long; each
  slice is atomic (a replaced chunk is never missing nor doubled), the batch as a whole is not.
  A rebuild never swaps in the middle of a batch (it waits for the writer mutex).
* ``save`` holds the writer mutex (writes wait, searches do not); saves are serialised, also
  across processes sharing the directory (``flock``), and ``load`` waits for a save in progress.
* ``rebuild`` runs in the caller's (background) thread; at most one at a time.
* Lock order: writer mutex, then RW lock. Nothing re-enters the RW lock.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import faiss
import numpy as np

try:  # POSIX: serialise saves (and loads against saves) across processes sharing instance/
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

log = logging.getLogger(__name__)

EXACT = "exact"
HNSW = "hnsw"
FORMAT_VERSION = 1

# --- Cut-offs. Measured with bench/index.py and raw faiss on this machine kind (2 cores, shared
# and busy: load average 4-7 during the runs), 384-d, k=10, one query at a time on one faiss
# thread, text-like vectors calibrated to real MiniLM recall (see bench/index.py), random allowed
# subsets; p50 / p99 in ms. The 1M table (HNSW M=32, efConstruction 80; brute force here is the
# old one, ids looked up one by one: see HNSW_FILTER_MIN_FRACTION for today's):
#
#   allowed        brute force   exact scan+sel   HNSW+sel ef256   ef512         ef1024
#   1,000 (0.1%)   0.18 / 5.4    3.9 / 8.2        R 0.26           R 0.34        R 0.45
#   3,000 (0.3%)   0.57 / 7.3    4.3 / 4.4        R 0.50           R 0.59        R 0.71
#   10k (1%)       8.7 / 29      9.5 / 12.6       R 0.75           R 0.83        4.8 / 9.9, R 0.90
#   20k (2%)       15 / 31       12.8 / 19.5      R 0.88           R 0.93        4.6 / 9.2, R 0.96
#   50k (5%)       -             22 / 25          2.4 / 5.1, R .95 3.5 / 8, R .97  5.8 / 14, R .99
#   100k (10%)     -             43 / 73          2.3 / 9.7, R .95 5.1 / 16, R .98 7.5 / 22, R .98
#   200k (20%)     -             71 / 132         1.9 / 3.6, R .96 2.8 / 8.5, R .98
#   500k (50%)     -             182 / 256        2.8 / 12, R .97  7.3 / 18, R .98
#   unfiltered: ef64 0.7 / 6.5 R 0.874; ef128 1.2 / 9.6 R 0.942; ef256 1.8 / 8.5 R 0.970
#
# At 100k the same pattern, ~10x cheaper scans: brute force 1,000: 0.14 ms vs scan 0.8 ms;
# 3,000: 1.3-2.1 ms vs ~1.5 ms; unfiltered HNSW ef64 recall 0.98.
#
# With the cut-offs of then, VectorIndex.search at 1M (bench/index.py --full): unfiltered 1.1 / 2.7 ms
# recall 0.961; allowed 0.1% 0.6 / 1.0 (exact); 1% 8.3 / 16 (exact); 5% 5.3 / 25 R 0.984;
# 10% 2.6 / 5.7 R 0.975; 50% 2.8 / 6.1 R 0.967; with 10% tombstones 1.3 / 2.9 R 0.964.
# (The exact index at 1M: 64 / 137 ms unfiltered.)

# Exact mode: brute force over exactly the allowed vectors while the allowed set holds at most
# max(BRUTE_FORCE_MIN_ALLOWED, BRUTE_FORCE_FRACTION x N) ids, else the flat index with a selector.
BRUTE_FORCE_MIN_ALLOWED = 1_000
BRUTE_FORCE_FRACTION = 0.002

# HNSW mode: brute force reads the allowed vectors in place from HNSW's flat storage, their
# positions looked up in an array (``_Hnsw.locate``), one SIMD inner product each. Re-measured
# on the 1M bench instance (bench.query_access --keep; Intel Xeon, 2 cores, 2026-12-06, 50
# queries, p50 / p90 ms): 1,000 allowed 0.19 / 0.24; 5,000 0.60 / 0.70; 10k 1.10 / 1.29; 20k
# 2.13 / 2.52; 50k 10.8 / 11.5; 100k 19.4 / 20.1 -- ~110 ns an allowed vector while they fit
# in cache, ~200 past it. The exact scan of the whole flat storage with a selector it replaced
# cost 2.4 / 4.0 / 7.2 / 17.3 / 27.4 ms at 1,000 / 10k / 20k / 50k / 100k (looking the ids up one
# by one in a dict had made brute force lose to it past ~3,000). Below this fraction HNSW with a
# selector cannot reach recall 0.95 (1%: 0.90 even at efSearch 1024), so brute force answers.
HNSW_FILTER_MIN_FRACTION = 0.02

# Above it, HNSW with a selector is used when it is cheaper than brute force by this cost model
# (the same run: HNSW+selector ef 1024 at 20k allowed 9.3 ms, ef 1000 at 50k 8.7, ef 500 at 100k
# 4.6, ef 254 at 200k 2.7 -- ~9-11 us an ef): 1M at 2% brute force (2.1 ms against 9.3), from
# ~5% HNSW; 100k at 5% brute force (0.6 ms against ef 1,000), at 50% HNSW (ef 160).
BRUTE_NS_PER_ALLOWED = 200.0
HNSW_NS_PER_EF = 9000.0

# efSearch of the plain HNSW search: ef_search up to EF_REFERENCE_SIZE vectors, then scaled by
# sqrt(N / EF_REFERENCE_SIZE): recall falls with N at a fixed ef (ef64: 0.98 at 100k, 0.874 at
# 1M; at 1M ef128 0.942, ef256 0.970), so 1M gets ef 203 (measured: recall 0.961, 1.1 / 2.7 ms).
EF_REFERENCE_SIZE = 100_000
# ... and never below this. HNSW starts at INDEX_HNSW_THRESHOLD (20k, see the module docstring),
# where efSearch 64 would be the plain ef: 128 buys recall margin on real text (0.992 unfiltered
# at 20k, 0.984 at 100k derived) and for the filtered searches, whose efSearch starts from 1.25x
# this one, for a fraction of a millisecond.
EF_FLOOR = 128

# HNSW with a selector: efSearch = max(1.25 x the plain ef, FILTER_EF_NUMERATOR / fraction),
# at most FILTER_EF_MAX. At 1M that gives 1,024 up to ~9%, 900 at 10%, 600 at 15%, 300 at 30%,
# 254 at 50%. Measured with bench/filter_paths.py on the 1M bench.query_access instance (random
# allowed sets, 100 held-out real queries, recall@10 against brute force; AMD EPYC, 2026-12-07):
# with 90, recall 0.969-0.980 from 5% to 50% (HNSW 7.9 ms at 10%, 5.4 at 15%, 3.0 at 30%, 2.7 at
# 50%); with the 50 used before, 0.945 at 15% (ef 334) and 0.950-0.955 at 10% and 30%: at or under
# the 0.95 the search promises; 75 left 30% at 0.950.
FILTER_EF_NUMERATOR = 90.0
FILTER_EF_MAX = 1024
# ... except where the selector lets at least this fraction through (a member who may read
# everything, or all but a few private documents): it turns away at most 1 in 100 of the nodes
# the search visits, so the plain ef keeps the plain search's beam, and recall, within 1 %.
# Measured at 1M, every id allowed, 200 real queries: selector ef 254 2.8-3.1 ms p50, ef 203
# 2.3-2.5, the plain search without a selector 2.1-2.3.
FILTER_EF_PLAIN_FRACTION = 0.99

# HNSW mode, large indexes: brute force over many allowed vectors reads 1.5 KB of flat storage per
# vector from all over memory (~200 ns each at 1M, bound by memory, not arithmetic), and between
# ~2 % and ~10 % allowed HNSW with a selector costs as much (efSearch up to 1,024). A PCA-reduced
# copy of the vectors (REDUCED_DIM floats each, row i for label i, ``_Reduced``) gives a first
# pass that reads a quarter of the bytes; its best max(REDUCED_CANDIDATES, REDUCED_CANDIDATES_PER_
# RESULT x k) are then scored exactly from the flat storage, so the answer is exact unless a true
# top-k vector ranks below that many in the projection. Measured with bench/filter_paths.py on
# the 1M access instance (AMD EPYC, 2026-12-07; p50 ms, recall@10 against exact brute force):
# 1 % 0.6 against 2.6, 2 % 1.4 / 5.3, 4 % 3.5 / 8.7 (HNSW 9.5), 7 % 6.2 / 14.3 (HNSW 9.7), 10 %
# 8.0 (HNSW 8.0); recall@10 0.975-0.996, @40 0.979-0.998. 96 of 384 dimensions: 64 cost 2.1 ms at
# 4 % but left recall 0.949 at 10 %, 128 cost 3.2 for 0.993. Kept from REDUCED_MIN_LIVE live
# vectors (384 B a vector: 370 MiB at 1M; below 200k the band costs at most ~5 ms without it),
# used from REDUCED_MIN_ALLOWED allowed ids (below, plain brute force costs ~1-2 ms and is exact).
REDUCED_DIM = 96
REDUCED_MIN_LIVE = 200_000
REDUCED_MIN_ALLOWED = 8_000
REDUCED_CANDIDATES = 200
REDUCED_CANDIDATES_PER_RESULT = 10
REDUCED_NS_PER_ALLOWED = 85.0
# The cost model learns (``_PathCosts``): every filtered HNSW-mode search that had a choice times
# the path it took, and the index keeps per path a running average of observed / predicted (the
# *_NS_* constants above are the prediction). A corpus whose graph answers filters cheaply gets the
# graph: on bench.query's 1M corpus (each passage 50 times, a little noise) HNSW with a selector
# costs ~3 us an ef against ~9 on the access bench's realistic vectors, so there a 5 % filter took
# 3.0 ms by the graph and 4.8-5.3 by the reduced copy, which the constants alone picked. While the
# two predictions are within EXPLORE_RATIO of each other, the path predicted dearer is taken until
# it has COST_MIN_SAMPLES observations, then once every EXPLORE_EVERY such searches, so that its
# figure stays current; a search outside that band never pays for learning.
COST_MIN_SAMPLES = 8
COST_SMOOTHING = 0.1
EXPLORE_RATIO = 2.0
EXPLORE_EVERY = 256

# The projection is trained on up to this many live vectors, and trained again (in the background,
# ``VectorIndex.reduce``) once the live count has grown by REDUCE_AGAIN_GROWTH since.
REDUCED_SAMPLE = 100_000
REDUCE_AGAIN_GROWTH = 2.0

# HNSW mode asks for a rebuild when tombstones exceed this fraction of the stored vectors (they
# cost memory and a little recall), or when the live count falls below half the threshold.
TOMBSTONE_REBUILD_FRACTION = 0.2

# Writes apply in slices, releasing the write lock in between so searches are not held up:
# HNSW adds cost ~0.3 ms a vector at 1M (a slice of 64: ~20 ms); exact adds are a memcpy plus
# one O(N) remove_ids when the slice replaces vectors (~10 ms at 100k).
WRITE_SLICE = 64
EXACT_WRITE_SLICE = 16_384
# Rebuild: vectors per HNSW add call (faiss parallelises an add over its batch).
BUILD_BATCH = 16_384
# A filter over ids whose maximum is below this (or below BITMAP_SPAN_PER_VECTOR x the index
# size) uses a bitmap selector (1.2 ms to build for 500k ids under 3M; IDSelectorBatch: ~400 ms).
BITMAP_MIN_SPAN = 1 << 24
BITMAP_SPAN_PER_VECTOR = 32
# HNSW mode keeps id -> label in an array (``_Hnsw.locate``: 10,000 ids in ~0.1 ms, against ~4 ms
# one by one in the dict) while the ids span at most the larger of these: 8 bytes a span id.
LABEL_MAP_MIN_SPAN = 1 << 20
LABEL_MAP_SPAN_PER_VECTOR = 4
# Selectors kept for the allowed sets asked most recently (VectorIndex._selector_for): a bitmap is
# 1/8 byte per id of the span, and each holds its allowed set (8 bytes an id).
KEPT_SELECTORS = 4
# Rebuild drains the writes logged meanwhile in rounds outside the write lock until a round holds
# fewer than this many vectors (or after REPLAY_MAX_ROUNDS), then applies the rest under the lock.
REPLAY_TAIL = 128
REPLAY_MAX_ROUNDS = 20


class IndexUnusable(Exception):
    """A saved index that must not be used (load() logs it and returns None)."""


# ---------------------------------------------------------------------------------------------
# Locks


class RWLock:
    """Readers-writer lock, writer-preferring (a waiting writer stops new readers)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def read(self):
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self):
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


# ---------------------------------------------------------------------------------------------
# Input checks


def _search_ids(ids) -> np.ndarray:
    """The allowed ids of a search: a read-only int64 array (``ChunkAttributes.allowed``'s kept
    answer, ids the index itself holds) as it is, no 8 MB copy at 1M; anything else checked and
    copied as ``_as_ids`` does."""
    if isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.ndim == 1 and not ids.flags.writeable:
        return ids
    return _as_ids(ids)


def _as_ids(ids) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("ids must be integers")
    arr = np.array(arr, dtype=np.int64, copy=True, order="C").ravel()  # ours: the replay log keeps it
    if arr.size and arr.min() < 0:
        raise ValueError("ids must be non-negative (faiss uses -1 for 'no result')")
    return arr


def _as_vectors(vectors, dim: int) -> np.ndarray:
    """A float32 C-contiguous (n, dim) copy, L2-normalised (so inner product = cosine)."""
    arr = np.array(vectors, dtype=np.float32, copy=True, order="C")
    if arr.ndim == 1 and arr.size == dim:
        arr = arr.reshape(1, dim)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"vectors must have shape (n, {dim}), got {np.shape(vectors)}")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError("vectors contain NaN or infinity")
    if arr.size:
        faiss.normalize_L2(arr)
    return arr


def _dedupe_last(ids: np.ndarray, vectors: np.ndarray):
    """Keep the last occurrence of each id (a batch that names an id twice: last one wins)."""
    if len(ids) < 2:
        return ids, vectors
    rev_unique, rev_first = np.unique(ids[::-1], return_index=True)
    if len(rev_unique) == len(ids):
        return ids, vectors
    keep = np.sort(len(ids) - 1 - rev_first)
    return np.ascontiguousarray(ids[keep]), np.ascontiguousarray(vectors[keep])


def _empty(nq: int):
    return np.empty((nq, 0), np.float32), np.empty((nq, 0), np.int64)


def _trim(D: np.ndarray, I: np.ndarray):
    """Drop the -1 padding columns (rows of one search always have the same valid count)."""
    width = int((I >= 0).sum(axis=1).min()) if len(I) else 0
    return np.ascontiguousarray(D[:, :width]), np.ascontiguousarray(I[:, :width])


def _selector(allowed: np.ndarray, ntotal: int):
    """A faiss selector over external ids, plus the buffer it points into (keep it alive)."""
    top = int(allowed.max())
    if top < max(BITMAP_MIN_SPAN, BITMAP_SPAN_PER_VECTOR * ntotal):
        table = np.zeros(top + 8, dtype=bool)
        table[allowed] = True
        bitmap = np.packbits(table, bitorder="little")
        return faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)), bitmap
    # Sparse ids (not the database's integer keys): correct but slow to build for big sets.
    return faiss.IDSelectorBatch(allowed), allowed


class IdPositions:
    """id -> position for non-negative integer ids (a chunk's label in faiss' storage, its row in
    ``ChunkAttributes``): a dict, and beside it an array over the ids from the lowest one held
    while they are dense enough (a span of at most LABEL_MAP_MIN_SPAN or LABEL_MAP_SPAN_PER_VECTOR
    x the count), so that ``find`` of many ids is one gather instead of a dict lookup each (10,000
    ids: ~0.1 ms against ~4 ms). Ids too far apart drop the array for good and ``find`` falls
    back to the dict. Not thread-safe."""

    def __init__(self) -> None:
        self.of: dict[int, int] = {}
        self._array: np.ndarray | None = np.empty(0, np.int64)
        self._base = 0  # the id at the array's first place

    def __len__(self) -> int:
        return len(self.of)

    def __contains__(self, chunk_id: int) -> bool:
        return chunk_id in self.of

    def __getitem__(self, chunk_id: int) -> int:
        return self.of[chunk_id]

    def get(self, chunk_id: int, default=None):
        return self.of.get(chunk_id, default)

    @property
    def dense(self) -> bool:
        return self._array is not None

    def put(self, ids: np.ndarray, positions: np.ndarray) -> None:
        """Record each of ``ids`` (non-negative int64) at its position."""
        if not len(ids):
            return
        self.of.update(zip(ids.tolist(), positions.tolist()))
        if self._fits(int(ids.min()), int(ids.max())):
            self._array[ids - self._base] = positions

    def put_one(self, chunk_id: int, position: int) -> None:
        self.of[chunk_id] = position
        if self._fits(chunk_id, chunk_id):
            self._array[chunk_id - self._base] = position

    def pop(self, ids: Iterable[int]) -> list[int]:
        """Forget those of ``ids`` held; their positions."""
        gone = [i for i in ids if i in self.of]
        positions = [self.of.pop(i) for i in gone]
        if gone and self._array is not None:
            self._array[np.array(gone, dtype=np.int64) - self._base] = -1
        return positions

    def find(self, ids: np.ndarray) -> np.ndarray:
        """The position of each of ``ids`` (non-negative int64), -1 where it is not held."""
        if self._array is None:
            return np.fromiter((self.of.get(i, -1) for i in ids.tolist()), np.int64, len(ids))
        out = np.full(len(ids), -1, np.int64)
        offsets = ids - self._base
        inside = (offsets >= 0) & (offsets < len(self._array))
        out[inside] = self._array[offsets[inside]]
        return out

    def _fits(self, low: int, top: int) -> bool:
        """Whether the array covers ids ``low`` to ``top`` (grown to if it may: the dict already
        holds them); False once dropped."""
        if self._array is None:
            return False
        base, end = self._base, self._base + len(self._array)
        if not len(self._array):
            base, end = low, low
        if base <= low and top < end:
            return True
        new_base = min(base, low)
        span = max(end, top + 1) - new_base
        if span > max(LABEL_MAP_MIN_SPAN, LABEL_MAP_SPAN_PER_VECTOR * len(self.of)):
            self._array = None
            return False
        grown = np.full(max(span, 2 * len(self._array)), -1, np.int64)
        if len(self._array):
            grown[self._base - new_base:self._base - new_base + len(self._array)] = self._array
        self._array, self._base = grown, new_base
        return True


# ---------------------------------------------------------------------------------------------
# The two index states. Not thread-safe on their own: VectorIndex holds the locks.


class _Exact:
    mode = EXACT

    def __init__(self, dim: int, index=None) -> None:
        self.dim = dim
        if index is None:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            self.ids: set[int] = set()
        else:
            stored = faiss.vector_to_array(index.id_map)
            self.ids = set(stored.tolist())
            if len(self.ids) != len(stored) or (len(stored) and stored.min() < 0):
                raise IndexUnusable("duplicate or negative ids in the exact index")
        self.index = index

    @property
    def live(self) -> int:
        return len(self.ids)

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    tombstones = 0
    reduced = None  # small: brute force reads the vectors themselves

    def contains(self, chunk_id: int) -> bool:
        return chunk_id in self.ids

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        existing = [i for i in ids.tolist() if i in self.ids]
        if existing:
            self.index.remove_ids(np.array(existing, dtype=np.int64))
            self.ids.difference_update(existing)
        self.index.add_with_ids(vectors, ids)
        self.ids.update(ids.tolist())

    def remove(self, ids: np.ndarray) -> int:
        present = [i for i in set(ids.tolist()) if i in self.ids]
        if present:
            self.index.remove_ids(np.array(present, dtype=np.int64))
            self.ids.difference_update(present)
        return len(present)

    def vectors(self, present: list[int]) -> np.ndarray:
        if not present:
            return np.empty((0, self.dim), np.float32)
        return self.index.reconstruct_batch(np.array(present, dtype=np.int64))

    def live_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).copy()

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, keys for ``subset_scores``) of those of ``ids`` the index holds, in their order."""
        present = np.array([i for i in ids.tolist() if i in self.ids], dtype=np.int64)
        return present, present

    def subset_scores(self, q: np.ndarray, present: np.ndarray) -> np.ndarray:
        """Inner products with just these vectors. faiss' single-threaded SIMD kernel, not numpy's
        matmul: OpenBLAS threads cost 3x here on a busy 2-core machine (5,000 vectors: 11 vs 32 ms)."""
        vectors = self.vectors(present.tolist())
        out = np.empty((len(q), len(present)), np.float32)
        for row in range(len(q)):
            faiss.fvec_inner_products_ny(faiss.swig_ptr(out[row]), faiss.swig_ptr(q[row]),
                                         faiss.swig_ptr(vectors), self.dim, len(present))
        return out

    def search_all(self, q, k, ef=None):
        return self.index.search(q, k)

    def search_selected(self, q, k, sel):
        return self.index.search(q, k, params=faiss.SearchParameters(sel=sel))

    def iter_vectors(self, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored vectors in storage order (for converting to HNSW; not thread-safe)."""
        ids = faiss.vector_to_array(self.index.id_map)
        flat = self.index.index
        for start in range(0, len(ids), batch):
            n = min(batch, len(ids) - start)
            yield ids[start:start + n].copy(), flat.reconstruct_n(start, n)


class _Reduced:
    """A PCA projection of an HNSW state's stored vectors to fewer dimensions, row i for label i
    (tombstones included, as in the flat storage): the first pass of brute force over many
    allowed vectors (see REDUCED_DIM). Ranking by the projections orders vectors as ``q . x``
    would if the dropped components were zero; the caller re-scores the best exactly."""

    def __init__(self, sample: np.ndarray, trained_on: int) -> None:
        rdim = min(REDUCED_DIM, sample.shape[1])
        mean = sample.mean(axis=0, dtype=np.float64)
        scatter = np.zeros((sample.shape[1], sample.shape[1]))
        for start in range(0, len(sample), 8192):  # in float64 a slice at a time: no copy of the sample
            centered = sample[start:start + 8192] - mean
            scatter += centered.T @ centered
        _, vectors = np.linalg.eigh(scatter)  # ascending eigenvalues
        self.mean = mean.astype(np.float32)
        self.basis = np.ascontiguousarray(vectors[:, ::-1][:, :rdim], dtype=np.float32)
        self._rows_of_basis = np.ascontiguousarray(self.basis.T)  # for projecting a query
        self.rdim = self.basis.shape[1]
        self.trained_on = int(trained_on)
        self.rows = np.empty((0, self.rdim), np.float32)
        self.n = 0

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray((vectors - self.mean) @ self.basis, dtype=np.float32)

    def append(self, vectors: np.ndarray) -> None:
        """Add the rows of vectors just stored at labels n, n+1, ... (grown by a quarter at a time)."""
        need = self.n + len(vectors)
        if need > len(self.rows):
            grown = np.empty((max(need, len(self.rows) + len(self.rows) // 4 + 1024), self.rdim), np.float32)
            grown[:self.n] = self.rows[:self.n]
            self.rows = grown
        self.rows[self.n:need] = self.project(vectors)
        self.n = need

    def scores(self, q: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Projected inner products of each query with the rows at ``labels``: (nq, len(labels))."""
        # q . x = q . mean + q . (x - mean), and x - mean ~ B y with y = B^T (x - mean): the first
        # term is the same for every x, the second ~ (B^T q) . y.
        # faiss' single-threaded kernel, not numpy's matmul, as in _Exact.subset_scores: OpenBLAS
        # threads cost more than the product on a busy 2-core machine.
        projected = np.empty((len(q), self.rdim), np.float32)
        out = np.empty((len(q), len(labels)), np.float32)
        for row in range(len(q)):
            faiss.fvec_inner_products_ny(faiss.swig_ptr(projected[row]), faiss.swig_ptr(q[row]),
                                         faiss.swig_ptr(self._rows_of_basis), q.shape[1], self.rdim)
            faiss.fvec_inner_products_by_idx(
                faiss.swig_ptr(out[row]), faiss.swig_ptr(projected[row]), faiss.swig_ptr(self.rows),
                faiss.swig_ptr(labels), self.rdim, 1, len(labels))
        return out


class _Hnsw:
    mode = HNSW

    def __init__(self, dim: int, m: int = 32, ef_construction: int = 80, index=None) -> None:
        self.dim = dim
        if index is None:
            inner = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = ef_construction
            index = faiss.IndexIDMap(inner)
            self._inner = inner  # the IDMap does not own it: keep it alive
            self.labels = IdPositions()
        else:
            stored = faiss.vector_to_array(index.id_map)
            live = np.flatnonzero(stored >= 0)
            self.labels = IdPositions()
            self.labels.put(stored[live], live)
            if len(self.labels) != len(live):
                raise IndexUnusable("a live id appears twice in the HNSW index")
        self.index = index
        self.hnsw = faiss.downcast_index(index.index)
        self.storage = faiss.downcast_index(self.hnsw.storage)
        # Tombstones carry id -1: "not -1" lets HNSW skip them while it searches.
        self._not_tomb_range = faiss.IDSelectorRange(-1, 0)
        self._not_tomb = faiss.IDSelectorNot(self._not_tomb_range)
        # The PCA-reduced copy (``_Reduced``), attached by ``VectorIndex.reduce`` or a rebuild;
        # kept in step by ``upsert``. None: brute force reads the flat storage only.
        self.reduced: _Reduced | None = None

    @property
    def live(self) -> int:
        return len(self.labels)

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def tombstones(self) -> int:
        return self.index.ntotal - len(self.labels)

    def contains(self, chunk_id: int) -> bool:
        return chunk_id in self.labels

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, labels) of those of ``ids`` (unique) the index holds, in their order."""
        labels = self.labels.find(ids)
        held = labels >= 0
        return ids[held], labels[held]

    def _id_map(self) -> np.ndarray:
        """A writable view of faiss' label -> id map (re-take it after every add)."""
        return faiss.rev_swig_ptr(self.index.id_map.data(), self.index.id_map.size())

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        old = [self.labels[i] for i in ids.tolist() if i in self.labels]
        first = self.index.ntotal
        self.index.add_with_ids(vectors, ids)  # if this raises, nothing changed
        if old:
            self._id_map()[np.array(old, dtype=np.int64)] = -1
        self.labels.put(ids, np.arange(first, first + len(ids), dtype=np.int64))
        if self.reduced is not None:
            try:
                self.reduced.append(vectors)
            except Exception:  # out of memory: the vectors are in; brute force reads the flat
                self.reduced = None  # storage until reduce() attaches a new copy
                log.warning("the reduced copy of the vector index is dropped", exc_info=True)

    def stored(self, start: int, stop: int) -> np.ndarray:
        """A copy of the flat storage's rows ``start`` to ``stop`` (labels, tombstones included)."""
        xb = faiss.rev_swig_ptr(self.storage.get_xb(), self.index.ntotal * self.dim)
        return xb[start * self.dim:stop * self.dim].reshape(-1, self.dim).copy()

    def sample(self, count: int, rng) -> np.ndarray:
        """Up to ``count`` live vectors picked at random (for training the projection)."""
        labels = np.fromiter(self.labels.of.values(), np.int64, len(self.labels))
        if len(labels) > count:
            labels = np.sort(rng.choice(labels, count, replace=False))
        return self.storage.reconstruct_batch(labels) if len(labels) else np.empty((0, self.dim), np.float32)

    def remove(self, ids: np.ndarray) -> int:
        old = self.labels.pop(set(ids.tolist()))
        if old:
            self._id_map()[np.array(old, dtype=np.int64)] = -1
        return len(old)

    def vectors(self, present: list[int]) -> np.ndarray:
        if not present:
            return np.empty((0, self.dim), np.float32)
        labels = np.array([self.labels[i] for i in present], dtype=np.int64)
        return self.storage.reconstruct_batch(labels)

    def live_ids(self) -> np.ndarray:
        stored = faiss.vector_to_array(self.index.id_map)
        return stored[stored >= 0].copy()

    def subset_scores(self, q: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Inner products with just these vectors (``locate``'s labels), read in place from the
        flat storage."""
        out = np.empty((len(q), len(labels)), np.float32)
        xb = self.storage.get_xb()
        for row in range(len(q)):
            faiss.fvec_inner_products_by_idx(
                faiss.swig_ptr(out[row]), faiss.swig_ptr(q[row]), xb, faiss.swig_ptr(labels),
                self.dim, 1, len(labels))
        return out

    def search_all(self, q, k, ef):
        params = faiss.SearchParametersHNSW(efSearch=int(ef))
        if self.tombstones:
            params.sel = self._not_tomb
        return self.index.search(q, k, params=params)

    def search_selected(self, q, k, sel, ef):
        return self.index.search(q, k, params=faiss.SearchParametersHNSW(sel=sel, efSearch=int(ef)))

    def scan(self, q, k, sel=None):
        """Exact: a pass over the flat storage, ``sel`` (external ids) or 'not a tombstone'."""
        translated = faiss.IDSelectorTranslated(self.index.id_map, sel if sel is not None else self._not_tomb)
        D, labels = self.storage.search(q, k, params=faiss.SearchParameters(sel=translated))
        ids = np.where(labels >= 0, self._id_map()[np.maximum(labels, 0)], -1)
        return D, ids


def _to_hnsw(exact: _Exact, m: int, ef_construction: int) -> _Hnsw:
    hnsw = _Hnsw(exact.dim, m, ef_construction)
    for ids, vectors in exact.iter_vectors(BUILD_BATCH * 4):
        hnsw.upsert(ids, vectors)
    return hnsw


class _Builder:
    """Builds a fresh state off to the side; switches to HNSW once it holds > threshold."""

    def __init__(self, dim: int, threshold: int, m: int, ef_construction: int) -> None:
        self.dim, self.threshold, self.m, self.ef_construction = dim, threshold, m, ef_construction
        self.state: _Exact | _Hnsw = _Exact(dim)
        self._ids: list[np.ndarray] = []
        self._vectors: list[np.ndarray] = []
        self._pending = 0

    def add(self, ids, vectors) -> None:
        ids = _as_ids(ids)
        vectors = _as_vectors(vectors, self.dim)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if not len(ids):
            return
        self._ids.append(ids)
        self._vectors.append(vectors)
        self._pending += len(ids)
        if self._pending >= BUILD_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        ids, vectors = _dedupe_last(np.concatenate(self._ids), np.concatenate(self._vectors))
        self._ids, self._vectors, self._pending = [], [], 0
        self.state.upsert(ids, vectors)
        if self.state.mode == EXACT and self.state.live > self.threshold:
            self.state = _to_hnsw(self.state, self.m, self.ef_construction)

    def finish(self) -> _Exact | _Hnsw:
        self.flush()
        return self.state


class _PathCosts:
    """Observed / predicted cost of each filtered HNSW-mode path of one index: 'hnsw', 'reduced',
    'brute' (see COST_MIN_SAMPLES). Updated without a lock: concurrent searches may each apply
    an observation to the same old value, which loses one; nothing else can go wrong."""

    def __init__(self) -> None:
        self.factor: dict[str, float] = {}
        self.samples: dict[str, int] = {}
        self.contested = 0  # searches whose two predictions were within EXPLORE_RATIO

    def learned(self, path: str) -> bool:
        return self.samples.get(path, 0) >= COST_MIN_SAMPLES

    def cost(self, path: str, predicted: float) -> float:
        return predicted * self.factor[path] if self.learned(path) else predicted

    def observe(self, path: str, predicted: float, seconds: float) -> None:
        if not 0 < predicted < math.inf:  # a path forced by a zero or infinite constant: benches, tests
            return
        ratio = min(10.0, max(0.1, seconds * 1e9 / predicted))  # one stalled search moves it little
        seen = self.samples.get(path, 0)
        old = self.factor.get(path, ratio)
        weight = 1.0 / (seen + 1) if seen < COST_MIN_SAMPLES else COST_SMOOTHING
        self.factor[path] = old + weight * (ratio - old)
        self.samples[path] = seen + 1

    def stats(self) -> dict:
        return {path: round(self.factor[path], 3) for path in sorted(self.factor) if self.learned(path)}


def _reduced_copy(state: _Hnsw, stored: int, guard) -> _Reduced:
    """A reduced copy of ``state``'s first ``stored`` rows, trained on a sample of its live
    vectors; ``guard()`` is held while the storage is read (in slices)."""
    with guard():
        sample, trained_on = state.sample(REDUCED_SAMPLE, np.random.default_rng(0)), state.live
    reduced = _Reduced(sample, trained_on)
    for start in range(0, stored, BUILD_BATCH):
        with guard():
            rows = state.stored(start, min(stored, start + BUILD_BATCH))
        reduced.append(rows)
    return reduced


def _apply(state, entries) -> None:
    for op, ids, vectors in entries:
        if op == "upsert":
            state.upsert(ids, vectors)
        else:
            state.remove(ids)


# ---------------------------------------------------------------------------------------------


class VectorIndex:
    """The faiss index of one vector store. See the module docstring for modes and locking.

    Vectors are L2-normalised float32 (normalised again here), so scores are cosines. Ids are
    non-negative int64 chunk ids (the database's integer key: filters build a bitmap over them).
    """

    def __init__(self, dim: int, *, model: str, hnsw_threshold: int = 20_000, hnsw_m: int = 32,
                 ef_search: int = 64, ef_construction: int = 80) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        if not model:
            raise ValueError("model must name the embedding model")
        self.dim = int(dim)
        self._model = str(model)
        self.hnsw_threshold = int(hnsw_threshold)
        self.hnsw_m = int(hnsw_m)
        self.ef_search = int(ef_search)
        self.ef_construction = int(ef_construction)
        self._state: _Exact | _Hnsw = _Exact(self.dim)
        self._version = 0
        self._rw = RWLock()
        self._writer = threading.Lock()
        self._rebuilding = threading.Lock()
        self._reducing = threading.Lock()
        self._save_lock = threading.Lock()
        # While a rebuild runs: the writes applied meanwhile, in order, to replay on the new index.
        self._replay: list | None = None
        # Selectors built from kept (read-only) allowed sets, by the set: id -> (set, selector,
        # its buffer). A set is immutable and held here, so its selector stays right.
        self._selectors: OrderedDict[int, tuple] = OrderedDict()
        self._selectors_lock = threading.Lock()
        self._costs = _PathCosts()

    # -- properties ---------------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._model

    @property
    def version(self) -> int:
        """The change-log position this index reflects. The caller sets it after applying a
        batch of changes; a rebuild keeps it consistent (see ``rebuild``)."""
        return self._version

    @version.setter
    def version(self, value: int) -> None:
        with self._writer:
            self._version = int(value)

    @property
    def mode(self) -> str:
        return self._state.mode

    @property
    def tombstones(self) -> int:
        return self._state.tombstones

    def __len__(self) -> int:
        return self._state.live

    def __contains__(self, chunk_id) -> bool:
        return self._state.contains(int(chunk_id))

    @property
    def needs_rebuild(self) -> bool:
        """True when a background ``rebuild`` would help: the live count crossed the mode
        threshold (exact -> HNSW above it, HNSW -> exact below half of it), or tombstones exceed
        ``TOMBSTONE_REBUILD_FRACTION`` of the stored vectors."""
        state = self._state
        if state.mode == EXACT:
            return state.live > self.hnsw_threshold
        return (state.tombstones > TOMBSTONE_REBUILD_FRACTION * state.ntotal
                or state.live < self.hnsw_threshold // 2)

    @property
    def rebuilding(self) -> bool:
        return self._rebuilding.locked()

    @staticmethod
    def _wants_reduced(state) -> bool:
        """Whether ``state`` should have a (new) reduced copy: HNSW with at least REDUCED_MIN_LIVE
        live vectors, and none yet or one trained before the live count grew REDUCE_AGAIN_GROWTH-fold."""
        if state.mode != HNSW or state.live < REDUCED_MIN_LIVE:
            return False
        return state.reduced is None or state.live > REDUCE_AGAIN_GROWTH * state.reduced.trained_on

    @property
    def needs_reduction(self) -> bool:
        """True when a background ``reduce`` would attach a (new) reduced copy (see REDUCED_DIM)."""
        return self._wants_reduced(self._state)

    def stats(self) -> dict:
        state = self._state
        return {"dim": self.dim, "model": self._model, "version": self._version, "mode": state.mode,
                "live": state.live, "stored": state.ntotal, "tombstones": state.tombstones,
                "needs_rebuild": self.needs_rebuild, "rebuilding": self.rebuilding,
                "reduced_dim": state.reduced.rdim if state.reduced is not None else None,
                "path_costs": self._costs.stats()}

    # -- writes -------------------------------------------------------------------------------

    def upsert(self, ids, vectors) -> None:
        """Insert or replace these chunks' vectors (an id named twice: the last one wins)."""
        ids = _as_ids(ids)
        vectors = _as_vectors(vectors, self.dim)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if not len(ids):
            return
        ids, vectors = _dedupe_last(ids, vectors)
        with self._writer:
            step = WRITE_SLICE if self._state.mode == HNSW else EXACT_WRITE_SLICE
            for start in range(0, len(ids), step):
                part_ids, part_vectors = ids[start:start + step], vectors[start:start + step]
                with self._rw.write():
                    self._state.upsert(part_ids, part_vectors)
                    if self._replay is not None:
                        self._replay.append(("upsert", part_ids, part_vectors))

    def remove(self, ids) -> int:
        """Remove these chunks (absent ids are ignored); returns how many were present."""
        ids = _as_ids(ids)
        if not len(ids):
            return 0
        with self._writer, self._rw.write():
            removed = self._state.remove(ids)
            if self._replay is not None:
                self._replay.append(("remove", ids, None))
        return removed

    # -- reads --------------------------------------------------------------------------------

    def get(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """The stored (normalised) vectors of those ids that are present: (ids, vectors)."""
        ids = _as_ids(ids)
        with self._rw.read():
            state = self._state
            present = [i for i in dict.fromkeys(ids.tolist()) if state.contains(i)]
            return np.array(present, dtype=np.int64), state.vectors(present)

    def search(self, query_vectors, k: int, *, allowed_ids: np.ndarray | None = None):
        """The k best chunks for each query: ``(ids, scores)``, best first.

        ``query_vectors`` is one vector (results are 1-D) or an (nq, dim) array (results are
        (nq, w)). w is k, or fewer when fewer chunks exist or are allowed; every row is full.
        ``allowed_ids`` restricts the results to those chunk ids (ids not in the index are
        ignored); small sets are answered exactly, large ones (HNSW mode) approximately with
        recall@10 >= 0.95 by measurement.
        """
        q = np.asarray(query_vectors, dtype=np.float32)
        single = q.ndim == 1
        q = _as_vectors(q, self.dim) if (q.size or single) else np.empty((0, self.dim), np.float32)
        k = int(k)
        if k <= 0 or not len(q):
            D, I = _empty(len(q))
        else:
            allowed = None if allowed_ids is None else _search_ids(allowed_ids)
            with self._rw.read():
                state = self._state
                if allowed is None:
                    D, I = self._search_all(state, q, k)
                else:
                    D, I = self._search_allowed(state, q, k, allowed)
        if single:
            return I[0], D[0]
        return I, D

    def _search_all(self, state, q, k):
        k = min(k, state.live)
        if k == 0:
            return _empty(len(q))
        if state.mode == EXACT:
            return state.search_all(q, k)
        # Tombstones are skipped inside the search: widen the beam by the dead fraction.
        ef = max(k, math.ceil(self._ef(state.live) * state.ntotal / state.live))
        D, I = state.search_all(q, k, ef)
        short = (I < 0).any(axis=1)
        if short.any():  # the graph did not yield k live vectors: answer those rows exactly
            D[short], I[short] = state.scan(q[short], k)
        return D, I

    def _ef(self, n: int) -> int:
        """efSearch for an unfiltered HNSW search over n live vectors (see EF_REFERENCE_SIZE),
        at least EF_FLOOR."""
        return max(EF_FLOOR, self.ef_search, math.ceil(self.ef_search * math.sqrt(n / EF_REFERENCE_SIZE)))

    def _filter_ef(self, n: int, k: int, fraction: float) -> int:
        """efSearch for HNSW with a selector letting ``fraction`` of n through (see above)."""
        margin = 1.0 if fraction >= FILTER_EF_PLAIN_FRACTION else 1.25
        return max(k, min(FILTER_EF_MAX, max(math.ceil(margin * self._ef(n)),
                                             math.ceil(FILTER_EF_NUMERATOR / fraction))))

    def _plan(self, state, k: int, allowed: int, *, explore: bool = False) -> tuple[str, int | None, float | None]:
        """HNSW mode: how to search with a filter of ``allowed`` ids: (path, efSearch, predicted ns
        a query), path 'hnsw' (the graph with a selector), 'reduced' or 'brute' (brute force with
        or without the reduced copy). Predicted is None where there was no choice (too selective
        for the graph). ``explore``: a real search, which may take the dearer path to learn its
        cost (see COST_MIN_SAMPLES)."""
        allowed = min(allowed, state.live)
        if self._reduced_for(state, k, allowed) is not None:
            brute_path = "reduced"
            brute = REDUCED_NS_PER_ALLOWED * allowed + BRUTE_NS_PER_ALLOWED * self._candidates(k)
        else:
            brute_path, brute = "brute", BRUTE_NS_PER_ALLOWED * allowed
        fraction = allowed / max(1, state.live)
        if fraction < HNSW_FILTER_MIN_FRACTION:
            return brute_path, None, None
        ef = self._filter_ef(state.live, k, fraction)
        graph = HNSW_NS_PER_EF * ef
        costs = self._costs
        graph_cost, brute_cost = costs.cost("hnsw", graph), costs.cost(brute_path, brute)
        take_graph = graph_cost < brute_cost
        if explore and max(graph_cost, brute_cost) < EXPLORE_RATIO * min(graph_cost, brute_cost):
            costs.contested += 1
            dearer = brute_path if take_graph else "hnsw"
            if not costs.learned(dearer) or costs.contested % EXPLORE_EVERY == 0:
                take_graph = not take_graph
        return ("hnsw", ef, graph) if take_graph else (brute_path, None, brute)

    @staticmethod
    def _candidates(k: int) -> int:
        """How many of the reduced copy's best are scored exactly (see REDUCED_CANDIDATES)."""
        return max(REDUCED_CANDIDATES, REDUCED_CANDIDATES_PER_RESULT * k)

    def _reduced_for(self, state, k: int, allowed: int) -> _Reduced | None:
        """The reduced copy brute force over ``allowed`` ids uses as its first pass, or None."""
        reduced = state.reduced
        if reduced is None or allowed < REDUCED_MIN_ALLOWED or allowed <= self._candidates(k):
            return None
        return reduced

    def filter_path(self, allowed: int, k: int = 10) -> str:
        """Which path a search with ``allowed`` allowed ids takes now, by what the cost model has
        learned so far (a search may still explore the other): 'brute force', 'reduced brute
        force', 'flat selector' (exact mode) or 'hnsw ef=N' (for stats, benches)."""
        state = self._state
        if state.mode == EXACT:
            brute = allowed <= max(BRUTE_FORCE_MIN_ALLOWED, BRUTE_FORCE_FRACTION * state.ntotal)
            return "brute force" if brute else "flat selector"
        path, ef, _ = self._plan(state, k, allowed)
        return {"hnsw": f"hnsw ef={ef}", "reduced": "reduced brute force", "brute": "brute force"}[path]

    def _search_allowed(self, state, q, k, allowed):
        if not len(allowed) or not state.live:
            return _empty(len(q))
        if state.mode == EXACT:
            if len(allowed) <= max(BRUTE_FORCE_MIN_ALLOWED, BRUTE_FORCE_FRACTION * state.ntotal):
                return self._brute_force(state, q, k, allowed)
            sel, _keep = self._selector_for(allowed, state.ntotal)  # the buffer the selector reads
            return _trim(*state.search_selected(q, k, sel))
        path, ef, predicted = self._plan(state, k, len(allowed), explore=True)
        if path != "hnsw":
            started = time.perf_counter()
            found = self._brute_force(state, q, k, allowed, reduced=path == "reduced")
            if predicted is not None:
                self._costs.observe(path, predicted * len(q), time.perf_counter() - started)
            return found
        sel, _keep = self._selector_for(allowed, state.ntotal)
        started = time.perf_counter()
        D, I = state.search_selected(q, k, sel, ef)
        self._costs.observe(path, predicted * len(q), time.perf_counter() - started)
        short = (I < 0).any(axis=1)
        if short.any():  # fewer than k found: the allowed set is sparser than it looked
            D[short], I[short] = state.scan(q[short], k, sel)
        return _trim(D, I)

    def _selector_for(self, allowed: np.ndarray, ntotal: int):
        """``_selector(allowed, ntotal)``, kept for a read-only set (``ChunkAttributes.allowed``'s,
        asked again by the same member's next query): ~1.5 ms at 1M allowed ids."""
        if allowed.flags.writeable:
            return _selector(allowed, ntotal)
        with self._selectors_lock:
            kept = self._selectors.get(id(allowed))
            if kept is not None and kept[0] is allowed:
                self._selectors.move_to_end(id(allowed))
                return kept[1], kept[2]
        sel, buffer = _selector(allowed, ntotal)
        with self._selectors_lock:
            self._selectors[id(allowed)] = (allowed, sel, buffer)
            while len(self._selectors) > KEPT_SELECTORS:
                self._selectors.popitem(last=False)
        return sel, buffer

    def _brute_force(self, state, q, k, allowed, *, reduced: bool = True):
        """The k best of the allowed vectors; through the reduced copy where it serves and
        ``reduced`` (the plan's choice) allows."""
        if len(allowed) > 1 and not (allowed[1:] > allowed[:-1]).all():  # not sorted and unique
            allowed = np.unique(allowed)
        present, keys = state.locate(allowed)
        if not len(present):
            return _empty(len(q))
        reduced = self._reduced_for(state, k, len(present)) if reduced else None
        if reduced is not None:
            return self._reduced_brute_force(state, reduced, q, k, present, keys)
        scores = state.subset_scores(q, keys)
        k = min(k, len(present))
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < len(present) else \
            np.broadcast_to(np.arange(len(present)), (len(q), len(present)))
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        return np.take_along_axis(top_scores, order, axis=1), present[top]

    def _reduced_brute_force(self, state, reduced, q, k, present, keys):
        """Brute force in two passes: the reduced copy's best ``_candidates(k)`` of the allowed
        vectors, then those scored exactly from the flat storage."""
        first = reduced.scores(q, keys)
        wide = self._candidates(k)
        rows = np.argpartition(-first, wide - 1, axis=1)[:, :wide]
        D = np.empty((len(q), k), np.float32)
        I = np.empty((len(q), k), np.int64)
        for row in range(len(q)):
            picked = rows[row]
            exact = state.subset_scores(q[row:row + 1], keys[picked])[0]
            top = np.argpartition(-exact, k - 1)[:k]
            top = top[np.argsort(-exact[top], kind="stable")]
            D[row], I[row] = exact[top], present[picked[top]]
        return D, I

    # -- rebuild ------------------------------------------------------------------------------

    def rebuild(self, batches: Iterable | None = None, *, version: int | None = None) -> bool:
        """Build a fresh index off to the side and swap it in; False if one is already running.

        ``batches`` yields ``(ids, vectors)`` -- the stored embeddings of every live chunk, read
        *after* this call started (e.g. paged from the database inside the generator); ids may
        repeat (last wins). None rebuilds from this index's own vectors (compaction, mode change).
        The mode follows the live count: HNSW once it passes ``hnsw_threshold``.

        Searches go on against the old index meanwhile. Every write applied meanwhile is logged
        and replayed, in order, onto the new index before the swap, so none is lost.

        ``version``: the change-log position the source reflects at least. If no write arrived
        during the rebuild the index takes ``max(version, self.version)``; otherwise it keeps
        its own version (the replayed writes bring the new index to it, and any newer source
        rows are simply re-applied by the catch-up, which is idempotent).
        """
        if not self._rebuilding.acquire(blocking=False):
            return False
        try:
            with self._writer, self._rw.write():
                self._replay = []
            logged = False
            try:
                builder = _Builder(self.dim, self.hnsw_threshold, self.hnsw_m, self.ef_construction)
                for ids, vectors in (self._own_batches() if batches is None else batches):
                    builder.add(ids, vectors)
                fresh = builder.finish()
                if self._wants_reduced(fresh):  # no one else sees it yet: no lock needed
                    fresh.reduced = _reduced_copy(fresh, fresh.ntotal, nullcontext)
                for _ in range(REPLAY_MAX_ROUNDS):  # replay the bulk without blocking anyone
                    with self._rw.write():
                        entries, self._replay = self._replay, []
                    logged = logged or bool(entries)
                    _apply(fresh, entries)
                    if sum(len(ids) for _, ids, _ in entries) < REPLAY_TAIL:
                        break
                with self._writer, self._rw.write():
                    entries, self._replay = self._replay, None
                    logged = logged or bool(entries)
                    _apply(fresh, entries)
                    old, self._state = self._state, fresh
                    if version is not None and not logged:
                        self._version = max(self._version, int(version))
                log.info("vector index rebuilt: %s -> %s, %d live vectors", old.mode, fresh.mode, fresh.live)
            except BaseException:
                with self._rw.write():
                    self._replay = None
                raise
            return True
        finally:
            self._rebuilding.release()

    def reduce(self) -> bool:
        """Attach a new reduced copy (see REDUCED_DIM) to the HNSW index when it wants one
        (``needs_reduction``: none yet, e.g. after ``load``, or the live count has grown since);
        False when it does not, or while a rebuild runs (a rebuild reduces its new index itself).

        Runs in the caller's (background) thread, ~2 s at 1M: the projection is trained and the
        stored rows projected outside the locks, reading the storage in slices under the read
        lock; the rows stored meanwhile are projected under the write lock, so the copy is
        complete when it is attached. Searches go on throughout, with the old copy or none.
        """
        if not self._reducing.acquire(blocking=False):
            return False
        try:
            with self._rw.read():
                state = self._state
                if self.rebuilding or not self._wants_reduced(state):
                    return False
                stored = state.ntotal
            reduced = _reduced_copy(state, stored, self._rw.read)
            with self._rw.write():  # each write slice is atomic under it: none is half-applied
                if state.ntotal > stored:
                    reduced.append(state.stored(stored, state.ntotal))
                # If a rebuild swapped the state meanwhile, this one is gone and the new one has
                # a copy of its own: attaching here is harmless.
                state.reduced = reduced
            log.info("vector index: reduced copy attached (%d dimensions, %d rows)", reduced.rdim, reduced.n)
            return True
        finally:
            self._reducing.release()

    def _own_batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """This index's live vectors, read in batches under the read lock (writes interleave:
        ids written meanwhile are in the replay log, so a moving snapshot is fine)."""
        with self._rw.read():
            ids = self._state.live_ids()
        for start in range(0, len(ids), BUILD_BATCH):
            with self._rw.read():
                state = self._state
                present = [i for i in ids[start:start + BUILD_BATCH].tolist() if state.contains(i)]
                vectors = state.vectors(present)
            yield np.array(present, dtype=np.int64), vectors

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write ``<path>.json`` (the sidecar, the commit point) and ``<path>.<token>.faiss``.

        Both through a temp file + fsync + os.replace; the sidecar, replaced last, names the
        index file with its size and CRC-32, so a crash at any point leaves either the old
        complete pair or the new one. Older index files are deleted afterwards. Writes wait
        while the index is serialised (1M HNSW: ~1.7 GB, seconds); searches do not.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        index_name = f"{path.name}.{uuid.uuid4().hex[:16]}.faiss"
        index_path = path.parent / index_name
        tmp_index = path.parent / (index_name + ".tmp")
        with self._save_lock, _file_lock(path, exclusive=True):
            try:
                # The writer mutex, not the read lock: writes wait, searches go on. (A long read
                # hold would stall searches too, since a waiting writer blocks new readers.)
                with self._writer:
                    state = self._state
                    faiss.write_index(state.index, str(tmp_index))
                    meta = {"format": FORMAT_VERSION, "dim": self.dim, "model": self._model,
                            "version": self._version, "mode": state.mode, "stored": state.ntotal,
                            "live": state.live, "tombstones": state.tombstones,
                            "hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction}
                size, digest = _digest(tmp_index)
                _fsync(tmp_index)
                os.replace(tmp_index, index_path)
                meta.update(index_file=index_name, index_bytes=size, index_crc32=digest)
                tmp_meta = path.parent / f"{path.name}.json.tmp"
                tmp_meta.write_text(json.dumps(meta, indent=1))
                _fsync(tmp_meta)
                os.replace(tmp_meta, _sidecar(path))
                _fsync_dir(path.parent)
            except BaseException:
                tmp_index.unlink(missing_ok=True)
                raise
            ours = re.compile(re.escape(path.name) + r"\.[0-9a-f]{16}\.faiss(\.tmp)?")
            for stale in path.parent.iterdir():
                if stale.name != index_name and ours.fullmatch(stale.name):
                    stale.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | os.PathLike, *, expected_model: str, expected_dim: int | None = None,
             **params) -> VectorIndex | None:
        """The index saved at ``path``, or None when the caller must rebuild it: files missing,
        corrupt (truncated, bad JSON, size or checksum mismatch, unreadable faiss data, counts
        that disagree), or built by another model or dimension. Never raises; logs why.
        ``params`` are the constructor's tuning arguments (hnsw_threshold, ef_search, ...)."""
        path = Path(path)
        try:
            with _file_lock(path, exclusive=False):
                return cls._load(path, expected_model, expected_dim, params)
        except IndexUnusable as exc:
            log.warning("vector index %s not used, rebuild needed: %s", path, exc)
        except Exception as exc:  # corruption must never take the process down
            log.warning("vector index %s unreadable, rebuild needed: %r", path, exc)
        return None

    @classmethod
    def _load(cls, path: Path, expected_model, expected_dim, params) -> VectorIndex:
        sidecar = _sidecar(path)
        if not sidecar.exists():
            raise IndexUnusable("no saved index")
        try:
            meta = json.loads(sidecar.read_text())
        except ValueError as exc:
            raise IndexUnusable(f"sidecar is not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
            raise IndexUnusable("unknown sidecar format")
        required = {"dim": int, "model": str, "version": int, "mode": str, "stored": int, "live": int,
                    "index_file": str, "index_bytes": int, "index_crc32": str}
        for key, kind in required.items():
            if not isinstance(meta.get(key), kind):
                raise IndexUnusable(f"sidecar field {key!r} missing or invalid")
        if meta["model"] != expected_model:
            raise IndexUnusable(f"built by model {meta['model']!r}, expected {expected_model!r}")
        if expected_dim is not None and meta["dim"] != expected_dim:
            raise IndexUnusable(f"dimension {meta['dim']}, expected {expected_dim}")
        if meta["mode"] not in (EXACT, HNSW):
            raise IndexUnusable(f"unknown mode {meta['mode']!r}")
        index_path = path.parent / meta["index_file"]
        if Path(meta["index_file"]).name != meta["index_file"] or not index_path.is_file():
            raise IndexUnusable(f"index file {meta['index_file']} missing")
        size, digest = _digest(index_path)
        if size != meta["index_bytes"] or digest != meta["index_crc32"]:
            raise IndexUnusable(f"index file is {size} bytes with another checksum (truncated or corrupt)")
        index = faiss.read_index(str(index_path))  # already the concrete class (downcasting it again is wrong)
        if index.d != meta["dim"] or index.ntotal != meta["stored"]:
            raise IndexUnusable("index dimension or size disagrees with the sidecar")
        inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else None
        if meta["mode"] == EXACT:
            if not (type(index) is faiss.IndexIDMap2 and isinstance(inner, faiss.IndexFlatIP)):
                raise IndexUnusable("exact index is not IndexIDMap2(IndexFlatIP)")
            state = _Exact(meta["dim"], index)
        else:
            if not (type(index) is faiss.IndexIDMap and isinstance(inner, faiss.IndexHNSWFlat)
                    and inner.metric_type == faiss.METRIC_INNER_PRODUCT):
                raise IndexUnusable("hnsw index is not IndexIDMap(IndexHNSWFlat, inner product)")
            state = _Hnsw(meta["dim"], index=index)
        if state.live != meta["live"]:
            raise IndexUnusable(f"{state.live} live vectors, the sidecar says {meta['live']}")
        self = cls(meta["dim"], model=meta["model"], **params)
        self._state = state
        self._version = meta["version"]
        return self


def _sidecar(path: Path) -> Path:
    return path.parent / f"{path.name}.json"


def _digest(file: Path) -> tuple[int, str]:
    """Size and CRC-32 (integrity against torn writes and bit rot, not tampering: instance/ is
    trusted). CRC-32 runs ~2x faster than sha256 here (590 vs 320 MB/s on a busy 2-core box):
    it is paid on every save and every start."""
    crc, size = 0, 0
    with open(file, "rb") as fh:
        while block := fh.read(1 << 23):
            crc = zlib.crc32(block, crc)
            size += len(block)
    return size, f"{crc:08x}"


def _fsync(file: Path) -> None:
    with open(file, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _file_lock(path: Path, *, exclusive: bool):
    """Serialise saves (exclusive) against loads (shared) across processes on one machine."""
    if fcntl is None:
        yield
        return
    lock_path = path.parent / f"{path.name}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if exclusive:
            raise
        yield  # a load from a read-only or missing directory: nothing to lock against
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
