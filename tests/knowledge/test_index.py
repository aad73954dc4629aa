"""knowledge.index.VectorIndex: exact and HNSW modes, filters, persistence, rebuild under load.

Vectors: where recall matters (HNSW), the tests use clustered low-rank vectors rather than
uniform random ones. Text embeddings are like that -- topic clusters in a subspace of far lower
intrinsic dimension than the embedding, plus a shared mean direction -- and HNSW's recall depends
on exactly that structure: on uniform random vectors it is meaningless (MEASUREMENTS.md: 0.02-0.6).
bench/index.py calibrates the same generator at 384-d so that its HNSW recall curve reproduces
the one measured on real MiniLM vectors. Unit tests assert only loose recall floors; the
latency/recall claims are the benchmark's.
"""
import json
import logging
import os
import threading
import time
import zlib
from types import SimpleNamespace

import faiss
import numpy as np
import pytest

from knowledge import index as index_module
from knowledge.index import RWLock, VectorIndex

DIM = 32
MODEL = "test-model"


def structured(n, rng, *, dim=DIM, clusters=30, rank=8, seed_struct=0):
    """Clustered, low-rank, L2-normalised float32 vectors (a stand-in for text embeddings)."""
    srng = np.random.default_rng(seed_struct)
    basis = np.linalg.qr(srng.standard_normal((dim, rank)))[0].T
    centers = srng.standard_normal((clusters, rank))
    mean = srng.standard_normal(dim)
    mean /= np.linalg.norm(mean)
    c = rng.integers(0, clusters, n)
    z = centers[c] + 0.8 * rng.standard_normal((n, rank))
    x = z @ basis / np.sqrt(rank) + 0.6 * rng.standard_normal((n, dim)) / np.sqrt(dim) + 0.5 * mean
    x = x.astype(np.float32)
    faiss.normalize_L2(x)
    return x


def brute(ids, vectors, q, k, allowed=None):
    """Reference answer: (ids, scores) of the k best by inner product, best first."""
    ids = np.asarray(ids)
    if allowed is not None:
        mask = np.isin(ids, np.asarray(allowed))
        ids, vectors = ids[mask], vectors[mask]
    scores = q @ vectors.T
    order = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    return ids[order], np.take_along_axis(scores, order, axis=-1)


def recall(got, expected):
    return np.mean([len(set(g.tolist()) & set(e.tolist())) / max(1, len(e)) for g, e in zip(got, expected)])


def make_index(mode, ids, vectors, **kwargs):
    """An index in the given mode holding these vectors (HNSW above a small threshold)."""
    kwargs.setdefault("hnsw_threshold", 500 if mode == "hnsw" else 10**9)
    idx = VectorIndex(DIM, model=MODEL, **kwargs)
    if mode == "hnsw":
        assert len(ids) > 500
        assert idx.rebuild([(ids[:700], vectors[:700]), (ids[700:], vectors[700:])])
    else:
        idx.upsert(ids, vectors)
    assert idx.mode == mode
    return idx


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread():
    """faiss' OpenMP pool spins; on a shared 2-core machine one thread runs these tests ~2.5x
    faster (62 s vs 25 s measured). Threads the tests start use the process default."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    n = 3000
    ids = np.arange(n, dtype=np.int64) * 3 + 11  # not 0..n-1: ids are chunk ids, not positions
    return ids, structured(n, rng), structured(40, rng)


@pytest.fixture
def small_cutoffs(monkeypatch):
    """Shrink the filter cut-offs so every path runs at test sizes (3,000 vectors)."""
    monkeypatch.setattr(index_module, "BRUTE_FORCE_MIN_ALLOWED", 50)
    monkeypatch.setattr(index_module, "BRUTE_FORCE_FRACTION", 0.0)
    monkeypatch.setattr(index_module, "HNSW_FILTER_MIN_FRACTION", 0.05)
    monkeypatch.setattr(index_module, "HNSW_NS_PER_EF", 0.0)  # at 3,000 vectors a scan is cheaper


# --- exact mode ----------------------------------------------------------------------------


def test_exact_results_equal_brute_force(data):
    ids, x, q = data
    idx = make_index("exact", ids, x)
    got_ids, got_scores = idx.search(q, 10)
    want_ids, want_scores = brute(ids, x, q, 10)
    assert got_ids.shape == (len(q), 10)
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_allclose(got_scores, want_scores, atol=1e-5)
    one_ids, one_scores = idx.search(q[0], 10)  # a single query gives 1-D results
    np.testing.assert_array_equal(one_ids, want_ids[0])
    assert one_scores.shape == (10,)


def test_fewer_results_than_k_and_empty_index(data):
    ids, x, q = data
    idx = VectorIndex(DIM, model=MODEL)
    got_ids, got_scores = idx.search(q, 5)
    assert got_ids.shape == (len(q), 0) and got_scores.shape == (len(q), 0)
    idx.upsert(ids[:3], x[:3])
    got_ids, _ = idx.search(q, 5)
    assert got_ids.shape == (len(q), 3)
    assert all(set(row) == set(ids[:3].tolist()) for row in got_ids.tolist())
    assert idx.search(q, 0)[0].shape == (len(q), 0)


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
def test_upsert_replaces(mode, data):
    ids, x, q = data
    idx = make_index(mode, ids, x)
    target = int(ids[123])
    new = -x[123]  # far from where it was
    idx.upsert([target], new[None, :])
    assert len(idx) == len(ids)
    _, stored = idx.get([target])
    np.testing.assert_allclose(stored[0], new, atol=1e-6)
    top_ids, top_scores = idx.search(new, 3)
    assert top_ids[0] == target and top_scores[0] == pytest.approx(1.0, abs=1e-5)
    # The old vector is gone: searching for it does not find the chunk at score ~1.
    old_ids, old_scores = idx.search(x[123], 5)
    assert target not in old_ids.tolist()
    if mode == "hnsw":
        assert idx.tombstones == 1
    # Within one batch the last vector for an id wins.
    idx.upsert([target, target], np.stack([x[5], x[6]]))
    _, stored = idx.get([target])
    np.testing.assert_allclose(stored[0], x[6], atol=1e-6)
    assert len(idx) == len(ids)


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
def test_remove_removes(mode, data, small_cutoffs):
    ids, x, q = data
    idx = make_index(mode, ids, x)
    gone = ids[::4]
    assert idx.remove(np.concatenate([gone, [10**6]])) == len(gone)  # absent ids are ignored
    assert idx.remove(gone) == 0
    assert len(idx) == len(ids) - len(gone)
    assert int(gone[0]) not in idx and int(ids[1]) in idx
    gone_set = set(gone.tolist())
    for allowed in (None, ids[:40], ids[:300], ids[:2000]):
        got, _ = idx.search(q, 10, allowed_ids=allowed)
        assert got.shape == (len(q), 10)
        assert not gone_set & set(got.ravel().tolist())
    keep = ~np.isin(ids, gone)
    want, _ = brute(ids[keep], x[keep], q, 10)
    got, _ = idx.search(q, 10)
    if mode == "exact":
        np.testing.assert_array_equal(got, want)
    else:
        assert recall(got, want) >= 0.9


# --- HNSW mode -----------------------------------------------------------------------------


def test_hnsw_tombstones_still_return_k_and_rebuild_compacts(data):
    ids, x, q = data
    idx = make_index("hnsw", ids, x)
    assert not idx.needs_rebuild
    want, _ = brute(ids, x, q, 10)
    assert recall(idx.search(q, 10)[0], want) >= 0.95

    gone = ids[: len(ids) * 2 // 5]  # 40% tombstones, including most queries' neighbours' ids
    idx.remove(gone)
    assert idx.tombstones == len(gone) and idx.needs_rebuild
    live_ids, live_x = ids[len(gone):], x[len(gone):]
    want, _ = brute(live_ids, live_x, q, 10)
    for k in (1, 10, 50):
        got, scores = idx.search(q, k)
        assert got.shape == (len(q), k)
        assert (got >= 0).all() and not set(got.ravel().tolist()) & set(gone.tolist())
        assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    assert recall(idx.search(q, 10)[0], want) >= 0.9

    assert idx.rebuild()  # from its own vectors: compacts, stays HNSW (1,800 > 500)
    assert idx.mode == "hnsw" and idx.tombstones == 0 and len(idx) == len(live_ids)
    assert not idx.needs_rebuild
    assert recall(idx.search(q, 10)[0], want) >= 0.95

    idx.remove(live_ids[:1600])  # 200 live < threshold/2: back to exact on the next rebuild
    assert idx.needs_rebuild
    assert idx.rebuild()
    assert idx.mode == "exact" and len(idx) == 200
    got, _ = idx.search(q, 10)
    np.testing.assert_array_equal(got, brute(live_ids[1600:], live_x[1600:], q, 10)[0])


def test_hnsw_fewer_live_than_k(data):
    ids, x, q = data
    idx = make_index("hnsw", ids, x)
    idx.remove(ids[5:])
    got, _ = idx.search(q, 10)
    assert got.shape == (len(q), 5)
    assert all(set(row) == set(ids[:5].tolist()) for row in got.tolist())


def test_exact_mode_signals_when_it_outgrows_the_threshold(data):
    ids, x, _ = data
    idx = VectorIndex(DIM, model=MODEL, hnsw_threshold=1000)
    idx.upsert(ids[:1000], x[:1000])
    assert idx.mode == "exact" and not idx.needs_rebuild
    idx.upsert(ids[1000:], x[1000:])  # writes never switch modes themselves
    assert idx.mode == "exact" and idx.needs_rebuild
    assert idx.rebuild()
    assert idx.mode == "hnsw" and len(idx) == len(ids) and not idx.needs_rebuild


# --- filters -------------------------------------------------------------------------------


def _calls(monkeypatch, cls, name, counter):
    original = getattr(cls, name)

    def spy(*args, **kwargs):
        counter[name] = counter.get(name, 0) + 1
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, spy)


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
@pytest.mark.parametrize("size", ["tiny", "medium", "large"])
def test_allowed_ids_filtering(mode, size, data, small_cutoffs, monkeypatch):
    ids, x, q = data
    idx = make_index(mode, ids, x)
    rng = np.random.default_rng(7)
    n_allowed = {"tiny": 20, "medium": 120, "large": 1500}[size]  # 0.7%, 4%, 50% of 3,000
    allowed = rng.choice(ids, n_allowed, replace=False)
    # Unknown ids and repeats are harmless.
    query_allowed = np.concatenate([allowed, allowed[:5], [10**7, 10**7 + 1]])
    counter = {}
    _calls(monkeypatch, VectorIndex, "_brute_force", counter)
    _calls(monkeypatch, index_module._Hnsw, "scan", counter)
    _calls(monkeypatch, index_module._Hnsw, "search_selected", counter)
    _calls(monkeypatch, index_module._Exact, "search_selected", counter)

    got, scores = idx.search(q, 10, allowed_ids=query_allowed)
    want, want_scores = brute(ids, x, q, 10, allowed=allowed)
    assert got.shape == (len(q), 10)
    assert set(got.ravel().tolist()) <= set(allowed.tolist())
    assert all(len(set(row)) == 10 for row in got.tolist())
    if mode == "hnsw" and size == "large":
        # Approximate path (HNSW + selector, efSearch raised for the fraction).
        assert counter == {"search_selected": 1}
        assert recall(got, want) >= 0.95
    else:
        expected_path = {"tiny": "_brute_force", "medium": "_brute_force" if mode == "hnsw" else "search_selected",
                         "large": "search_selected"}[size]
        assert counter == {expected_path: 1}
        np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_hnsw_with_nearly_every_id_allowed_searches_with_the_plain_ef_and_still_turns_the_rest_away(
        data, small_cutoffs, monkeypatch):
    """Past FILTER_EF_PLAIN_FRACTION the selector search takes the plain search's efSearch (not
    1.25x): the ids left out are each some query's best match, and none of them comes back."""
    ids, x, q = data
    idx = make_index("hnsw", ids, x)
    best, _ = brute(ids, x, q, 1)
    hidden = np.unique(best[:, 0])[:int(len(ids) * (1 - index_module.FILTER_EF_PLAIN_FRACTION))]
    allowed = np.setdiff1d(ids, hidden)
    assert len(hidden) and len(allowed) / len(ids) >= index_module.FILTER_EF_PLAIN_FRACTION
    assert idx.filter_path(len(allowed)) == f"hnsw ef={idx._ef(len(ids))}"
    efs = []
    original = index_module._Hnsw.search_selected
    monkeypatch.setattr(index_module._Hnsw, "search_selected",
                        lambda self, q_, k, sel, ef: efs.append(ef) or original(self, q_, k, sel, ef))
    got, _ = idx.search(q, 10, allowed_ids=allowed)
    assert efs == [idx._ef(len(ids))]
    assert not set(got.ravel().tolist()) & set(hidden.tolist())
    assert recall(got, brute(ids, x, q, 10, allowed=allowed)[0]) >= 0.95


@pytest.mark.parametrize("n, allowed, path, exact_path", [
    (1_000_000, 1_000, "brute force", "brute force"),
    (1_000_000, 2_000, "brute force", "brute force"),
    (1_000_000, 5_000, "brute force", "flat selector"),
    (1_000_000, 10_000, "brute force", "flat selector"),   # 1%: HNSW+selector cannot reach recall 0.95
    (1_000_000, 20_000, "brute force", "flat selector"),   # 2%: ~2 ms against ~9 ms for ef 1,024
    (1_000_000, 50_000, "hnsw ef=1024", "flat selector"),  # 5%: ~8.5 ms against ~10.7 of brute force
    (1_000_000, 100_000, "hnsw ef=900", "flat selector"),  # ~8 ms against ~21 ms of brute force
    (1_000_000, 150_000, "hnsw ef=600", "flat selector"),  # 15%: ef 334 before, recall 0.945
    (1_000_000, 500_000, "hnsw ef=254", "flat selector"),  # >= 1.25 x the plain ef (203 at 1M)
    (1_000_000, 980_000, "hnsw ef=254", "flat selector"),
    (1_000_000, 990_000, "hnsw ef=203", "flat selector"),  # turns away <= 1 %: the plain ef
    (1_000_000, 1_000_000, "hnsw ef=203", "flat selector"),
    (100_000, 1_000, "brute force", "brute force"),
    (100_000, 5_000, "brute force", "flat selector"),      # 5% of 100k: ~0.6 ms against ef 1,000
    (100_000, 50_000, "hnsw ef=180", "flat selector"),     # 90 / 0.5, above 1.25 x EF_FLOOR (128)
])
def test_filter_plan_encodes_the_measured_cut_offs(n, allowed, path, exact_path):
    """Without the reduced copy (an index under REDUCED_MIN_LIVE, or just loaded)."""
    idx = VectorIndex(384, model=MODEL)
    idx._state = SimpleNamespace(mode="hnsw", live=n, ntotal=n, tombstones=0, reduced=None)  # plan only
    assert idx.filter_path(allowed) == path
    exact = VectorIndex(384, model=MODEL)
    exact._state = SimpleNamespace(mode="exact", live=n, ntotal=n, tombstones=0, reduced=None)
    assert exact.filter_path(allowed) == exact_path


@pytest.mark.parametrize("allowed, k, path", [
    (5_000, 10, "brute force"),              # under REDUCED_MIN_ALLOWED: ~1 ms, exact
    (10_000, 10, "reduced brute force"),     # 1%: 0.6 ms against 2.6 (bench.filter_paths)
    (20_000, 10, "reduced brute force"),     # 2%: 1.4 ms against 5.3 brute force, 9.3 HNSW
    (40_000, 10, "reduced brute force"),     # 4%: 3.5 against 8.7 and 9.5
    (70_000, 10, "reduced brute force"),     # 7%: 6.2 against 9.7 of HNSW ef 1,024
    (100_000, 10, "hnsw ef=900"),            # 10%: ~8 ms either way
    (150_000, 10, "hnsw ef=600"),            # 15%: 11.8 against 5.9
    (9_000, 1_000, "brute force"),           # fewer allowed than the 10,000 candidates of k=1,000
    (40_000, 400, "reduced brute force"),    # 4,000 candidates re-scored: ~0.8 ms more
])
def test_filter_plan_with_the_reduced_copy_at_1m(allowed, k, path):
    idx = VectorIndex(384, model=MODEL)
    idx._state = SimpleNamespace(mode="hnsw", live=1_000_000, ntotal=1_000_000, tombstones=0,
                                 reduced=SimpleNamespace())  # plan only
    assert idx.filter_path(allowed, k) == path


def test_hnsw_brute_force_reads_the_current_vectors_of_replaced_removed_and_reloaded_ids(data, tmp_path,
                                                                                           small_cutoffs):
    """HNSW mode's brute force finds each allowed id's vector through an id -> position array:
    a replaced chunk's new vector, never a removed one, and the same after a save and a load."""
    ids, x, q = data
    idx = make_index("hnsw", ids, x)
    current = x.copy()
    idx.upsert(ids[:30], -x[:30])  # replaced: new positions in the flat storage
    current[:30] = -x[:30]
    idx.remove(ids[30:40])
    live = np.ones(len(ids), bool)
    live[30:40] = False
    allowed = ids[:60]  # 2% of 3,000: brute force with the test's cut-offs
    assert idx.filter_path(len(allowed)) == "brute force"
    want = brute(ids[live], current[live], q, 10, allowed=allowed)
    for index in (idx, None):
        if index is None:
            idx.save(tmp_path / "index")
            index = VectorIndex.load(tmp_path / "index", expected_model=MODEL)
        assert index._state.labels.dense
        got, scores = index.search(q, 10, allowed_ids=allowed[::-1])  # any order, as sets come
        np.testing.assert_array_equal(got, want[0])
        np.testing.assert_allclose(scores, want[1], atol=1e-5)


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
def test_allowed_ids_edge_cases(mode, data, small_cutoffs):
    ids, x, q = data
    idx = make_index(mode, ids, x)
    assert idx.search(q, 10, allowed_ids=np.array([], dtype=np.int64))[0].shape == (len(q), 0)
    assert idx.search(q, 10, allowed_ids=[10**9])[0].shape == (len(q), 0)
    got, _ = idx.search(q, 10, allowed_ids=ids[:3])  # fewer allowed than k
    assert got.shape == (len(q), 3)
    # More allowed ids than the brute-force cut-off, but only 4 of them present.
    sparse_allowed = np.concatenate([ids[:4], np.arange(10**6, 10**6 + 500)])
    got, _ = idx.search(q, 10, allowed_ids=sparse_allowed)
    assert got.shape == (len(q), 4)
    assert all(set(row) == set(ids[:4].tolist()) for row in got.tolist())
    # A deleted id inside the allowed set never comes back.
    idx.remove(ids[:2])
    got, _ = idx.search(q, 10, allowed_ids=ids[:200])
    assert got.shape == (len(q), 10) and not {int(ids[0]), int(ids[1])} & set(got.ravel().tolist())


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
def test_huge_sparse_ids_use_the_batch_selector(mode, data, small_cutoffs):
    """Ids far beyond the bitmap range still filter exactly (IDSelectorBatch path)."""
    ids, x, q = data
    big = ids + 2**40
    idx = make_index(mode, big, x)
    if mode == "hnsw":
        assert idx._state.labels.dense  # 9,000 apart from 2**40: the array starts at the lowest
    for allowed in (big[::30], big[:40]):  # 100 ids (3.3%, past the shrunk cut-offs) and 40
        got, _ = idx.search(q, 10, allowed_ids=allowed)
        np.testing.assert_array_equal(got, brute(big, x, q, 10, allowed=allowed)[0])


# --- persistence ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
def test_save_load_round_trip(mode, data, tmp_path, small_cutoffs):
    ids, x, q = data
    idx = make_index(mode, ids, x)
    idx.remove(ids[:100])
    idx.upsert(ids[100:110], x[:10])
    idx.version = 41
    base = tmp_path / "vectors" / "store_1"
    idx.save(base)
    loaded = VectorIndex.load(base, expected_model=MODEL, expected_dim=DIM,
                              hnsw_threshold=idx.hnsw_threshold)
    assert loaded is not None
    assert (loaded.mode, len(loaded), loaded.version, loaded.tombstones, loaded.model) == \
        (idx.mode, len(idx), 41, idx.tombstones, MODEL)
    for allowed in (None, ids[::100], ids[:500], ids[::2]):
        a_ids, a_scores = idx.search(q, 10, allowed_ids=allowed)
        b_ids, b_scores = loaded.search(q, 10, allowed_ids=allowed)
        np.testing.assert_array_equal(a_ids, b_ids)
        np.testing.assert_array_equal(a_scores, b_scores)
    # The loaded index keeps working: writes, tombstones, rebuild.
    loaded.upsert(ids[:1], x[50:51])  # ids[50] was removed: x[50] is nowhere else
    loaded.remove(ids[200:210])
    assert len(loaded) == len(idx) + 1 - 10
    assert loaded.search(x[50], 1)[0][0] == ids[0]
    assert loaded.rebuild() and loaded.tombstones == 0


def test_save_replaces_previous_files_and_survives_a_crash(data, tmp_path, monkeypatch):
    ids, x, q = data
    idx = make_index("exact", ids, x)
    other = make_index("exact", ids[:10], x[:10])
    base = tmp_path / "store"
    other.save(tmp_path / "store.b")  # a store whose name starts like ours: left alone
    idx.save(base)
    idx.remove(ids[:10])
    idx.version = 2
    idx.save(base)
    names = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".faiss")
    assert len(names) == 2 and sum(n.startswith("store.b.") for n in names) == 1

    # A crash before the sidecar is replaced leaves the previous save intact.
    real_replace = os.replace

    def crash(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    idx.remove(ids[10:20])
    idx.version = 3
    with pytest.raises(OSError):
        idx.save(base)
    monkeypatch.setattr(os, "replace", real_replace)
    loaded = VectorIndex.load(base, expected_model=MODEL)
    assert loaded is not None and loaded.version == 2 and len(loaded) == len(ids) - 10


def test_save_lets_searches_run_and_holds_writes(data, tmp_path, monkeypatch):
    ids, x, q = data
    idx = make_index("exact", ids[:500], x[:500])
    writing, finish = threading.Event(), threading.Event()
    real_write = faiss.write_index

    def slow_write(index, path):
        writing.set()
        finish.wait(10)
        real_write(index, path)

    monkeypatch.setattr(faiss, "write_index", slow_write)
    saver = threading.Thread(target=idx.save, args=(tmp_path / "store",))
    saver.start()
    writing.wait(10)
    assert len(idx.search(q, 5)[0]) == len(q)  # a search completes while the save runs
    writer = threading.Thread(target=idx.upsert, args=(ids[500:501], x[500:501]))
    writer.start()
    writer.join(0.2)
    assert writer.is_alive() and len(idx) == 500  # the write waits for the snapshot
    finish.set()
    saver.join(10)
    writer.join(10)
    assert len(idx) == 501
    assert len(VectorIndex.load(tmp_path / "store", expected_model=MODEL)) == 500


def _saved(mode, data, tmp_path):
    ids, x, _ = data
    idx = make_index(mode, ids, x)
    base = tmp_path / "store"
    idx.save(base)
    meta = json.loads((tmp_path / "store.json").read_text())
    return base, tmp_path / meta["index_file"], meta


@pytest.mark.parametrize("mode", ["exact", "hnsw"])
@pytest.mark.parametrize("damage", ["truncated", "flipped_byte", "empty", "index_missing",
                                    "sidecar_missing", "bad_json", "truncated_json", "not_an_object",
                                    "wrong_field_type", "count_mismatch", "foreign_index"])
def test_load_returns_none_on_damage(mode, damage, data, tmp_path, caplog):
    base, index_file, meta = _saved(mode, data, tmp_path)
    sidecar = tmp_path / "store.json"
    if damage == "truncated":
        blob = index_file.read_bytes()
        index_file.write_bytes(blob[: len(blob) // 2])
    elif damage == "flipped_byte":
        blob = bytearray(index_file.read_bytes())
        blob[len(blob) // 3] ^= 0xFF
        index_file.write_bytes(bytes(blob))
    elif damage == "empty":
        index_file.write_bytes(b"")
    elif damage == "index_missing":
        index_file.unlink()
    elif damage == "sidecar_missing":
        sidecar.unlink()
    elif damage == "bad_json":
        sidecar.write_text("{not json")
    elif damage == "truncated_json":
        sidecar.write_text(sidecar.read_text()[:40])
    elif damage == "not_an_object":
        sidecar.write_text("[1, 2]")
    elif damage == "wrong_field_type":
        sidecar.write_text(json.dumps({**meta, "version": "seven"}))
    elif damage == "count_mismatch":  # a consistent file whose counts disagree with the sidecar
        sidecar.write_text(json.dumps({**meta, "live": meta["live"] - 1}))
    elif damage == "foreign_index":  # valid faiss data of another kind, checksum updated to match
        faiss.write_index(faiss.IndexFlatL2(DIM), str(index_file))
        blob = index_file.read_bytes()
        sidecar.write_text(json.dumps({**meta, "index_bytes": len(blob),
                                       "index_crc32": f"{zlib.crc32(blob):08x}"}))
    with caplog.at_level(logging.WARNING, logger="knowledge.index"):
        assert VectorIndex.load(base, expected_model=MODEL) is None
    assert "rebuild needed" in caplog.text


def test_load_missing_directory_and_model_or_dim_mismatch(data, tmp_path, caplog):
    assert VectorIndex.load(tmp_path / "nowhere" / "store", expected_model=MODEL) is None
    base, _, _ = _saved("exact", data, tmp_path)
    with caplog.at_level(logging.WARNING, logger="knowledge.index"):
        assert VectorIndex.load(base, expected_model="another-model") is None
        assert "another-model" in caplog.text
        assert VectorIndex.load(base, expected_model=MODEL, expected_dim=DIM * 2) is None
    assert VectorIndex.load(base, expected_model=MODEL, expected_dim=DIM) is not None


# --- rebuild under concurrency -------------------------------------------------------------


class FakeChunkTable:
    """The database stand-in: id -> vector, plus a change-log version."""

    def __init__(self, ids, vectors):
        self.lock = threading.Lock()
        self.rows = {int(i): v.copy() for i, v in zip(ids, vectors)}
        self.version = 0

    def pages(self, size=100, pause=0.0):
        """Page through the table by id, each page read when it is asked for (a moving
        snapshot, like paging a live table)."""
        last = -1
        while True:
            with self.lock:
                page = sorted(i for i in self.rows if i > last)[:size]
                vectors = np.stack([self.rows[i] for i in page]) if page else None
            if not page:
                return
            last = page[-1]
            time.sleep(pause)
            yield np.array(page, dtype=np.int64), vectors


def _assert_index_matches(idx, table, candidate_ids):
    present, vectors = idx.get(sorted(candidate_ids))
    assert set(present.tolist()) == set(table.rows)
    want = np.stack([table.rows[i] for i in present.tolist()])
    faiss.normalize_L2(want)
    np.testing.assert_allclose(vectors, want, atol=1e-6)
    assert len(idx) == len(table.rows)


@pytest.mark.parametrize("source", ["database", "own"])
def test_rebuild_with_concurrent_searches_and_writes_loses_no_write(source, data, reduced_cutoffs):
    """... and the new index's reduced copy (attached before the replay) follows every write."""
    ids, x, q = data
    rng = np.random.default_rng(3)
    table = FakeChunkTable(ids[:1500], x[:1500])
    idx = VectorIndex(DIM, model=MODEL, hnsw_threshold=500)
    idx.upsert(ids[:1500], x[:1500])  # exact mode, over the threshold: wants a rebuild
    assert idx.needs_rebuild
    spare = iter(range(10**5, 10**6))
    candidate_ids = set(ids[:1500].tolist())
    stop = threading.Event()
    rebuild_started, rebuild_done = threading.Event(), threading.Event()
    errors, writes_during_rebuild = [], []

    def writer():
        # Each change goes to the "database" first, then to the index (the catch-up), then the
        # version advances: what the database integration will do.
        try:
            rebuild_started.wait(5)
            while not stop.is_set():
                with table.lock:
                    live = list(table.rows)
                    op = rng.integers(0, 3)
                    if op == 0:  # new chunks
                        new_ids = [next(spare) for _ in range(int(rng.integers(1, 80)))]
                        vectors = structured(len(new_ids), rng)
                        table.rows.update(zip(new_ids, vectors))
                        candidate_ids.update(new_ids)
                    elif op == 1:  # re-embedded chunks
                        new_ids = rng.choice(live, int(rng.integers(1, 80)), replace=False).tolist()
                        vectors = structured(len(new_ids), rng)
                        table.rows.update(zip(new_ids, vectors))
                    else:  # deleted chunks
                        gone = rng.choice(live, int(rng.integers(1, 40)), replace=False).tolist()
                        for i in gone:
                            del table.rows[i]
                    table.version += 1
                    version = table.version
                if op == 2:
                    idx.remove(gone)
                else:
                    idx.upsert(new_ids, vectors)
                idx.version = version
                if not rebuild_done.is_set():
                    writes_during_rebuild.append(version)
                time.sleep(0.005)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def searcher(seed):
        srng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                query = q[srng.integers(0, len(q))]
                allowed = None
                if srng.random() < 0.5:  # 300 chunks live now; a write may delete <= 40 meanwhile
                    with table.lock:
                        allowed = srng.choice(list(table.rows), 300, replace=False)
                got, scores = idx.search(query, 10, allowed_ids=allowed)
                assert len(got) == 10 and (got >= 0).all() and len(set(got.tolist())) == 10
                assert (np.diff(scores) <= 1e-6).all()
        except Exception as exc:
            errors.append(exc)

    def rebuilder():
        try:
            rebuild_started.set()
            batches = table.pages(size=200, pause=0.005) if source == "database" else None
            if source == "own":
                time.sleep(0.05)  # let writes start first
            assert idx.rebuild(batches)
        except Exception as exc:
            errors.append(exc)
        finally:
            rebuild_done.set()

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=searcher, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    rb = threading.Thread(target=rebuilder)
    rb.start()
    rb.join(60)
    time.sleep(0.1)  # writes continue after the swap too
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert rebuild_done.is_set() and idx.mode == "hnsw"
    assert writes_during_rebuild, "the test must overlap writes with the rebuild"
    assert idx.version == table.version
    _assert_index_matches(idx, table, candidate_ids)
    _assert_reduced_in_step(idx)


def test_rebuild_version_rule(data):
    ids, x, _ = data
    idx = VectorIndex(DIM, model=MODEL)
    idx.version = 5
    assert idx.rebuild([(ids[:100], x[:100])], version=9)  # nothing written meanwhile
    assert idx.version == 9 and len(idx) == 100

    def source_with_a_write_meanwhile():
        yield ids[:100], x[:100]
        # The catch-up applies change 10 while the rebuild still reads (a thread in real life).
        catch_up = threading.Thread(target=lambda: (idx.upsert(ids[100:101], x[100:101]),
                                                    setattr(idx, "version", 10)))
        catch_up.start()
        catch_up.join(10)
        yield ids[101:102], x[101:102]

    assert idx.rebuild(source_with_a_write_meanwhile(), version=20)
    # A write was replayed: the index keeps its own position; catching up from 10 re-applies
    # whatever the source had beyond it (idempotent).
    assert idx.version == 10
    assert {int(ids[100]), int(ids[101])} <= set(idx.get(ids[:102])[0].tolist())


def test_second_rebuild_is_refused_and_a_failed_rebuild_changes_nothing(data):
    ids, x, q = data
    idx = VectorIndex(DIM, model=MODEL)
    idx.upsert(ids[:200], x[:200])
    gate, inside = threading.Event(), threading.Event()

    def slow_source():
        inside.set()
        gate.wait(10)
        yield ids[:200], x[:200]
        raise RuntimeError("database went away")

    outcome = []
    t = threading.Thread(target=lambda: outcome.append(_run(idx.rebuild, slow_source())))
    t.start()
    inside.wait(10)
    assert idx.rebuilding
    assert idx.rebuild([(ids[:1], x[:1])]) is False
    idx.upsert(ids[200:210], x[200:210])  # a write during the failing rebuild
    gate.set()
    t.join(10)
    assert isinstance(outcome[0], RuntimeError)
    assert not idx.rebuilding and len(idx) == 210 and idx.mode == "exact"
    np.testing.assert_array_equal(idx.search(q, 10)[0], brute(ids[:210], x[:210], q, 10)[0])
    assert idx.rebuild()  # the next one works (the replay log was reset)
    assert len(idx) == 210


def _run(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:
        return exc


# --- input checks and the lock -------------------------------------------------------------


def test_input_validation(data):
    ids, x, _ = data
    idx = VectorIndex(DIM, model=MODEL)
    with pytest.raises(ValueError):
        idx.upsert([-1], x[:1])
    with pytest.raises(ValueError):
        idx.upsert(ids[:2], x[:1])
    with pytest.raises(ValueError):
        idx.upsert(ids[:1], np.zeros((1, DIM + 1), np.float32))
    with pytest.raises(ValueError):
        idx.upsert(ids[:1], np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError):
        idx.search(np.zeros(DIM + 1, np.float32), 3)
    with pytest.raises(ValueError):
        VectorIndex(DIM, model="")
    # Not normalised on input: stored normalised, scores are cosines.
    idx.upsert([1], 3 * x[:1])
    assert idx.search(x[0], 1)[1][0] == pytest.approx(1.0, abs=1e-5)
    assert len(idx) == 1 and idx.stats()["mode"] == "exact"


def test_rwlock_allows_concurrent_readers_and_excludes_writers():
    lock = RWLock()
    both_reading = threading.Barrier(2, timeout=5)
    order = []

    def reader():
        with lock.read():
            both_reading.wait()  # deadlocks (BrokenBarrierError) unless two readers hold it at once
            order.append("read")

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(10)
    assert order == ["read", "read"]

    held = threading.Event()
    release = threading.Event()

    def writer():
        with lock.write():
            held.set()
            release.wait(5)
            order.append("write")

    w = threading.Thread(target=writer)
    w.start()
    held.wait(5)
    r = threading.Thread(target=reader)
    r2 = threading.Thread(target=reader)
    r.start(), r2.start()
    time.sleep(0.05)
    assert order == ["read", "read"]  # readers wait for the writer
    release.set()
    for t in (w, r, r2):
        t.join(10)
    assert order[2] == "write" and order[3:] == ["read", "read"]


def test_id_positions_find_ids_by_array_from_the_lowest_held_and_by_dict_when_too_sparse():
    """A store's chunk ids start wherever the database's sequence is (50M here): the array covers
    them from the lowest held, re-based when a lower id arrives; ids too far apart fall back to
    the dict, with the same answers."""
    positions = index_module.IdPositions()
    base = 50_000_000
    positions.put(np.arange(base, base + 1000, dtype=np.int64), np.arange(1000, dtype=np.int64))
    assert positions.dense and len(positions._array) < 10_000
    positions.put_one(base - 5, 1000)                      # lower than any before: re-based
    assert positions.pop([base + 3, 7]) == [3]              # an id never held is ignored
    asked = np.array([base - 5, base, base + 3, base + 999, base + 1000, 0, 10**12], dtype=np.int64)
    want = [1000, 0, -1, 999, -1, -1, -1]
    assert positions.dense and positions.find(asked).tolist() == want
    positions.put_one(base + 10**9, 1001)                  # a span far past 4x the count
    assert not positions.dense
    assert positions.find(asked).tolist() == want
    assert positions.find(np.array([base + 10**9], dtype=np.int64)).tolist() == [1001]
    assert len(positions) == 1001 and positions[base - 5] == 1000 and base + 3 not in positions


# --- the reduced copy (HNSW mode, large indexes) --------------------------------------------


@pytest.fixture
def reduced_cutoffs(monkeypatch):
    """The reduced copy at test sizes: kept from 1,000 live vectors, 12 of 32 dimensions (the
    test vectors have rank 8 plus noise), used from 100 allowed ids (the cost model then prefers
    it to the graph at any fraction of 3,000 vectors)."""
    monkeypatch.setattr(index_module, "REDUCED_MIN_LIVE", 1000)
    monkeypatch.setattr(index_module, "REDUCED_DIM", 12)
    monkeypatch.setattr(index_module, "REDUCED_SAMPLE", 800)
    monkeypatch.setattr(index_module, "REDUCED_MIN_ALLOWED", 100)
    monkeypatch.setattr(index_module, "REDUCED_CANDIDATES", 40)
    monkeypatch.setattr(index_module, "REDUCED_CANDIDATES_PER_RESULT", 4)


def _assert_reduced_in_step(idx):
    """The reduced copy has one row per stored vector, each the projection of that vector."""
    state = idx._state
    assert state.reduced is not None and state.reduced.n == state.ntotal
    np.testing.assert_allclose(state.reduced.rows[:state.ntotal], state.reduced.project(state.stored(0, state.ntotal)),
                               atol=1e-5)


def test_reduced_brute_force_scores_its_candidates_exactly_and_follows_every_write(data, reduced_cutoffs, monkeypatch):
    ids, x, q = data
    idx = make_index("hnsw", ids, x)  # a rebuild: it attaches the copy itself
    assert idx.stats()["reduced_dim"] == 12 and not idx.needs_reduction
    _assert_reduced_in_step(idx)
    counter = {}
    _calls(monkeypatch, VectorIndex, "_reduced_brute_force", counter)
    current = x.copy()
    idx.upsert(ids[:200], -x[:200])  # replaced: new rows in the storage and in the copy
    current[:200] = -x[:200]
    idx.remove(ids[200:260])
    live = np.ones(len(ids), bool)
    live[200:260] = False
    _assert_reduced_in_step(idx)
    rng = np.random.default_rng(5)
    allowed = np.concatenate([ids[:300], rng.choice(ids[300:], 600, replace=False)])  # 30 %
    assert idx.filter_path(len(allowed)) == "reduced brute force"
    want, want_scores = brute(ids[live], current[live], q, 10, allowed=allowed)
    got, scores = idx.search(q, 10, allowed_ids=allowed)
    assert counter == {"_reduced_brute_force": 1}
    assert got.shape == (len(q), 10) and set(got.ravel().tolist()) <= set(allowed.tolist()) - set(ids[200:260].tolist())
    assert recall(got, want) >= 0.97
    # Each result carries its exact score (the second pass), best first.
    exact = {int(i): v for i, v in zip(ids[live], current[live])}
    for row, (found, found_scores) in enumerate(zip(got, scores)):
        np.testing.assert_allclose(found_scores, [exact[int(i)] @ q[row] for i in found], atol=1e-5)
        assert (np.diff(found_scores) <= 1e-6).all()
    # Fewer allowed ids than the candidates it would take, or than REDUCED_MIN_ALLOWED: plain brute force, exact.
    for few in (allowed[:99], allowed[:150]):
        if len(few) > 100:
            monkeypatch.setattr(index_module, "REDUCED_CANDIDATES", 200)
        assert idx.filter_path(len(few)) == "brute force"
        np.testing.assert_array_equal(idx.search(q, 10, allowed_ids=few)[0],
                                      brute(ids[live], current[live], q, 10, allowed=few)[0])
    assert counter == {"_reduced_brute_force": 1}


def test_a_loaded_or_grown_index_gets_its_reduced_copy_from_reduce(data, reduced_cutoffs, tmp_path):
    ids, x, q = data
    idx = make_index("hnsw", ids[:1200], x[:1200])
    trained_on = idx._state.reduced.trained_on
    assert trained_on == 1200 and idx.reduce() is False  # nothing to do
    idx.upsert(ids[1200:2401], x[1200:2401])  # more than twice the vectors it was trained on
    _assert_reduced_in_step(idx)
    assert idx.needs_reduction
    assert idx.reduce() and idx._state.reduced.trained_on == 2401 and not idx.needs_reduction
    _assert_reduced_in_step(idx)

    idx.save(tmp_path / "index")
    loaded = VectorIndex.load(tmp_path / "index", expected_model=MODEL)
    assert loaded._state.reduced is None and loaded.needs_reduction  # not saved: made again
    allowed = ids[:1000]
    assert loaded.filter_path(len(allowed)) == "brute force"
    exact, _ = loaded.search(q, 10, allowed_ids=allowed)
    np.testing.assert_array_equal(exact, brute(ids[:2401], x[:2401], q, 10, allowed=allowed)[0])
    assert loaded.reduce() and loaded.filter_path(len(allowed)) == "reduced brute force"
    _assert_reduced_in_step(loaded)
    assert recall(loaded.search(q, 10, allowed_ids=allowed)[0], exact) >= 0.97


def test_reduce_projects_the_vectors_written_while_it_ran(data, reduced_cutoffs, monkeypatch):
    ids, x, _ = data
    idx = VectorIndex(DIM, model=MODEL, hnsw_threshold=500)
    monkeypatch.setattr(index_module, "REDUCED_MIN_LIVE", 10**9)  # the rebuild attaches none
    assert idx.rebuild([(ids[:2000], x[:2000])]) and idx._state.reduced is None
    monkeypatch.setattr(index_module, "REDUCED_MIN_LIVE", 1000)
    original = index_module._Reduced.__init__
    written = []

    def train_then_write(self, *args):
        original(self, *args)
        if not written:  # while reduce() projects the rows it saw: a catch-up writes
            writer = threading.Thread(target=lambda: (idx.upsert(ids[2000:2100], x[2000:2100]),
                                                      idx.upsert(ids[:50], -x[:50])))
            writer.start()
            writer.join(10)
            written.append(idx._state.ntotal)

    monkeypatch.setattr(index_module._Reduced, "__init__", train_then_write)
    assert idx.reduce()
    assert written == [2150]
    _assert_reduced_in_step(idx)


def test_a_reduced_copy_that_cannot_grow_is_dropped_and_the_write_still_lands(data, reduced_cutoffs,
                                                                               monkeypatch, caplog):
    ids, x, q = data
    idx = make_index("hnsw", ids[:2000], x[:2000])

    def no_memory(self, vectors):
        raise MemoryError

    monkeypatch.setattr(index_module._Reduced, "append", no_memory)
    idx.upsert(ids[2000:2010], x[2000:2010])
    assert len(idx) == 2010 and idx._state.reduced is None and idx.needs_reduction
    assert "reduced copy of the vector index is dropped" in caplog.text
    allowed = ids[1500:2010]
    assert idx.filter_path(len(allowed)) == "brute force"
    np.testing.assert_array_equal(idx.search(q, 10, allowed_ids=allowed)[0],
                                  brute(ids[:2010], x[:2010], q, 10, allowed=allowed)[0])


# --- the cost model learns from this index's own searches -----------------------------------


@pytest.mark.parametrize("graph_sleep, brute_sleep, graph_runs, final", [
    (0.001, 0.004, 22, "hnsw ef=450"),   # the graph is the cheaper here, against the constants
    (0.005, 0.0, 8, "brute force"),      # the constants were right: the graph is tried 8 times
])
def test_the_cost_model_learns_which_path_answers_this_index_faster(data, monkeypatch, graph_sleep, brute_sleep,
                                                                    graph_runs, final):
    """Predictions within EXPLORE_RATIO: the path predicted dearer is taken until it has
    COST_MIN_SAMPLES observations; from then on the cheaper by the observed costs answers. The
    paths are slowed by known sleeps so that which one is cheaper is certain."""
    ids, x, q = data
    idx = make_index("hnsw", ids, x)
    allowed = np.sort(np.random.default_rng(3).choice(ids, 600, replace=False))  # 20 %: efSearch 450
    monkeypatch.setattr(index_module, "HNSW_NS_PER_EF", 3e6 / 450)       # predicted: 3 ms
    monkeypatch.setattr(index_module, "BRUTE_NS_PER_ALLOWED", 2e6 / 600)  # predicted: 2 ms
    assert idx.filter_path(len(allowed)) == "brute force"
    runs = {"graph": 0, "brute": 0}
    graph, brute = index_module._Hnsw.search_selected, VectorIndex._brute_force

    def slow_graph(self, *args):
        runs["graph"] += 1
        time.sleep(graph_sleep)
        return graph(self, *args)

    def slow_brute(self, *args, **kwargs):
        runs["brute"] += 1
        time.sleep(brute_sleep)
        return brute(self, *args, **kwargs)

    monkeypatch.setattr(index_module._Hnsw, "search_selected", slow_graph)
    monkeypatch.setattr(VectorIndex, "_brute_force", slow_brute)
    for i in range(30):
        got, _ = idx.search(q[i], 10, allowed_ids=allowed)
        assert set(got.tolist()) <= set(allowed.tolist()) and len(got) == 10
    assert runs == {"graph": graph_runs, "brute": 30 - graph_runs}
    assert idx.filter_path(len(allowed)) == final
    assert set(idx.stats()["path_costs"]) == {"hnsw", "brute"}


def test_the_cost_model_does_not_explore_outside_the_contested_band(data, monkeypatch):
    """Predictions far apart (more than EXPLORE_RATIO): no search pays for learning, and a path
    forced by a zero or infinite constant (benches, tests) learns nothing."""
    ids, x, q = data
    idx = make_index("hnsw", ids, x)
    allowed = np.sort(np.random.default_rng(3).choice(ids, 600, replace=False))
    monkeypatch.setattr(index_module, "HNSW_NS_PER_EF", 10e6 / 450)      # 10 ms against 2
    monkeypatch.setattr(index_module, "BRUTE_NS_PER_ALLOWED", 2e6 / 600)
    counter = {}
    _calls(monkeypatch, index_module._Hnsw, "search_selected", counter)
    for i in range(20):
        idx.search(q[i], 10, allowed_ids=allowed)
    assert counter == {} and set(idx.stats()["path_costs"]) == {"brute"}
    monkeypatch.setattr(index_module, "BRUTE_NS_PER_ALLOWED", float("inf"))
    for i in range(20):
        idx.search(q[i], 10, allowed_ids=allowed)
    assert counter == {"search_selected": 20} and "hnsw" in idx.stats()["path_costs"]
    monkeypatch.setattr(index_module, "HNSW_NS_PER_EF", 0.0)
    before = dict(idx._costs.samples)
    idx.search(q[0], 10, allowed_ids=allowed)
    assert idx._costs.samples == before
