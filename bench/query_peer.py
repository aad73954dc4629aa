"""Query latency and recall of Tributary's vector index against chromadb, the peer a user would
otherwise pick, on the same vectors, filters and queries, in the same run.

    python -m bench.real_vectors                 # once: the real embeddings (bench/.cache/)
    python -m bench.query_peer                   # 10k and 100k
    python -m bench.query_peer --full            # and 1M (chroma's load of 1M takes a while)
    python -m bench.query_peer --sizes 20000 --queries 500

Vectors. Real all-MiniLM-L6-v2 embeddings of real text from ``bench/real_vectors.py`` (default
20,000). A size up to that count uses the first N real vectors; a larger size uses vectors
*derived* from all the real ones (each a real vector plus covariance-shaped gaussian noise,
re-normalised, the noise calibrated at the same expansion ratio on the real set: the calibration
table is printed). Recall on derived vectors is a stand-in, labelled so; recall on real vectors
is the figure. The queries are always real: held-out texts and their real embeddings.

Metadata. Every chunk gets ``source`` (10 values, Zipf-like; "jira" holds ~5%), ``type`` (doc /
message / ticket), ``author`` (200, uniform) and ``date`` (an int day, uniform over 3,650),
from a hash of its id: deterministic and *uncorrelated* with the text, the hard case for a
filtered approximate search. Filters: none; ``date >= 1825`` (~50%); ``source == "jira"`` (~5%);
``author == "author-017"`` (~0.5%). chromadb gets them as ``where`` clauses; Tributary as
``allowed_ids``, computed per query with a numpy mask over the same metadata (inside the timed
call, so the figure includes building the allowed set -- though not the SQL query the app would
run for it).

Systems. Tributary: ``knowledge.index.VectorIndex`` with the product's defaults (exact up to
100k live vectors, HNSW M=32 above), filled through ``rebuild``. At sizes where the product is
exact and the vectors are real, a second row forces HNSW (``hnsw_threshold=0``) for the recall
of the approximate index on real vectors. chromadb: an in-process client (``--client``:
EphemeralClient, or PersistentClient in a temp dir), one collection in cosine space with its HNSW
defaults (M 16, ef_construction 100, ef_search 100), filled with ``add`` in batches of the
client's maximum; if that load passes ``--chroma-max-minutes`` it stops and the size is reported
without chroma.

Measured, one query at a time (the web process's case), Tributary and chroma alternating query by
query so load from elsewhere hits both alike: p50 / p99 ms of the search (given the query
vector), recall@10 against an exact brute force over the same filter, and the ratio chroma /
Tributary; then the same with the query embedding inside the timed call (``embed([text])`` of
the packaged MiniLM, then the search) -- the latency a user sees -- and the embedding alone.
faiss queries run on --threads OpenMP threads (default 1); chroma uses its own threads. The load
average is printed with every size. No assertions: this prints.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from bench import real_vectors as rv  # noqa: E402
from bench._common import wait_for_quiet  # noqa: E402
from knowledge import index as vindex  # noqa: E402
from knowledge.index import VectorIndex  # noqa: E402

K = 10
SOURCES = ["gdrive", "notion", "slack", "confluence", "github", "jira", "zendesk", "hubspot", "linear", "intercom"]
SOURCE_P = np.array([0.30, 0.20, 0.15, 0.11, 0.09, 0.05, 0.04, 0.03, 0.02, 0.01])
TYPES = ["doc", "message", "ticket"]
AUTHORS = 200
DAYS = 3650


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of (x + salt): a fixed pseudo-random uint64 per id."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def metadata(ids: np.ndarray) -> dict[str, np.ndarray]:
    u = lambda salt: (_mix(ids, salt) >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # noqa: E731
    return {
        "source": np.searchsorted(np.cumsum(SOURCE_P), u(1), side="right").clip(0, len(SOURCES) - 1),
        "type": (u(2) * len(TYPES)).astype(np.int64),
        "author": (u(3) * AUTHORS).astype(np.int64),
        "date": (u(4) * DAYS).astype(np.int64),
    }


# name, chroma where, numpy mask over the metadata
FILTERS = [
    ("none", None, None),
    ("date >= 1825 (~50%)", {"date": {"$gte": DAYS // 2}}, lambda m: m["date"] >= DAYS // 2),
    ('source = "jira" (~5%)', {"source": "jira"}, lambda m: m["source"] == SOURCES.index("jira")),
    ('author = "author-017" (~0.5%)', {"author": "author-017"}, lambda m: m["author"] == 17),
]


def chroma_metadatas(meta: dict[str, np.ndarray], lo: int, hi: int) -> list[dict]:
    return [{"source": SOURCES[s], "type": TYPES[t], "author": f"author-{a:03d}", "date": int(d)}
            for s, t, a, d in zip(meta["source"][lo:hi].tolist(), meta["type"][lo:hi].tolist(),
                                  meta["author"][lo:hi].tolist(), meta["date"][lo:hi].tolist())]


def exact_topk(x: np.ndarray, q: np.ndarray, mask: np.ndarray | None, k: int = K) -> np.ndarray:
    """Positions of the exact top k of each query among the rows ``mask`` allows."""
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_i = np.empty((len(q), 0), np.int64)
    for start in range(0, len(x), 100_000):
        s = q @ x[start:start + 100_000].T
        if mask is not None:
            s[:, ~mask[start:start + 100_000]] = -np.inf
        kk = min(k, s.shape[1])
        top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        best_i = np.concatenate([best_i, top + start], axis=1)
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return np.where(np.isfinite(best_s), best_i, -1)


def pct(samples):
    a = np.asarray(samples) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def recall(results, truth):
    out = []
    for r, t in zip(results, truth):
        t = set(t.tolist()) - {-1}
        out.append(len(set(r) & t) / max(1, len(t)))
    return float(np.mean(out))


def build_tributary(ids, x, threshold=None):
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    kw = {} if threshold is None else {"hnsw_threshold": threshold}
    idx = VectorIndex(x.shape[1], model="bench", **kw)
    t = time.perf_counter()
    idx.rebuild((ids[s:s + 50_000], x[s:s + 50_000]) for s in range(0, len(ids), 50_000))
    return idx, time.perf_counter() - t


def load_chroma(client, ids, x, meta, max_minutes):
    """(collection or None, seconds, vectors loaded)."""
    try:
        client.delete_collection("bench")
    except Exception:  # noqa: BLE001 - not there
        pass
    col = client.create_collection("bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    batch = min(client.get_max_batch_size(), 5_000)
    t = time.perf_counter()
    last = t
    for start in range(0, len(ids), batch):
        hi = min(len(ids), start + batch)
        col.add(ids=[str(i) for i in ids[start:hi].tolist()], embeddings=x[start:hi],
                metadatas=chroma_metadatas(meta, start, hi))
        now = time.perf_counter()
        if now - last > 60:
            last = now
            print(f"  chroma: {hi:,} / {len(ids):,} loaded, {hi / (now - t):,.0f} vectors/s, "
                  f"load average {rv.load_average()}", flush=True)
        if now - t > max_minutes * 60 and hi < len(ids):
            return None, now - t, hi
    col.query(query_embeddings=x[:1], n_results=K, include=[])  # the first query may finish indexing
    return col, time.perf_counter() - t, len(ids)


def bench_size(n, args, real, qv, qtexts, embedder, client):
    n_real = len(real)
    if n <= n_real:
        x = np.ascontiguousarray(real[:n])
        label = "real"
    else:
        sigma = args.sigma or rv.calibrate(real, qv[:200], n / n_real, seed=args.seed)[0]
        t = time.perf_counter()
        x, _ = rv.derive(real, n, sigma, seed=args.seed)
        label = f"derived from {n_real:,} real (sigma {sigma:g})"
        print(f"derived {n:,} vectors in {time.perf_counter() - t:.1f} s")
    ids = np.arange(n, dtype=np.int64) * 2 + 1  # database-like integer keys, not positions
    meta = metadata(ids)
    q = qv[:args.queries]
    texts = qtexts[:args.queries]
    print(f"\n## N = {n:,} ({label}), {len(q)} real queries, k={K}, load average {rv.load_average()}")

    t = time.perf_counter()
    masks = {name: (None if fn is None else fn(meta)) for name, _, fn in FILTERS}
    truth = {name: exact_topk(x, q, mask) for name, mask in masks.items()}
    print(f"exact truth: {time.perf_counter() - t:.1f} s")

    systems = []
    trib, secs = build_tributary(ids, x)
    print(f"tributary: {trib.mode} mode, built in {secs:.1f} s")
    systems.append(("tributary", trib))
    if label == "real" and trib.mode == vindex.EXACT and not args.no_forced_hnsw:
        forced, secs = build_tributary(ids, x, threshold=0)
        print(f"tributary, HNSW forced: built in {secs:.1f} s")
        systems.append(("tributary hnsw (forced)", forced))
    faiss.omp_set_num_threads(args.threads)

    col = None
    if client is not None:
        col, secs, loaded = load_chroma(client, ids, x, meta, args.chroma_max_minutes)
        if col is None:
            print(f"chroma: load stopped after {secs / 60:.1f} min at {loaded:,} of {n:,} vectors "
                  f"({loaded / secs:,.0f}/s, the whole would take ~{n / (loaded / secs) / 60:.0f} min): no chroma figures")
        else:
            print(f"chroma: loaded in {secs:.1f} s ({n / secs:,.0f} vectors/s)")

    def trib_fn(idx, fn):
        def run(v):
            allowed = None if fn is None else ids[fn(meta)]
            return ((idx.search(v, K, allowed_ids=allowed)[0] - 1) // 2).tolist()
        return run

    def chroma_fn(where):
        def run(v):
            r = col.query(query_embeddings=v[None], n_results=K, where=where, include=[])
            return [(int(i) - 1) // 2 for i in r["ids"][0]]
        return run

    rows = []
    for name, where, fn in FILTERS:
        allowed = n if masks[name] is None else int(masks[name].sum())
        runners = [(label_, trib_fn(idx, fn)) for label_, idx in systems]
        if col is not None:
            runners.append(("chroma", chroma_fn(where)))
        for _, run in runners:  # warm up
            for v in q[:5]:
                run(v)
        search_t = {lab: [] for lab, _ in runners}
        total_t = {lab: [] for lab, _ in runners}
        results = {lab: [] for lab, _ in runners}
        for i, v in enumerate(q):  # alternate the systems query by query
            for lab, run in (runners if i % 2 == 0 else runners[::-1]):
                if sum(search_t[lab]) > args.max_seconds:  # a slow system: fewer queries
                    continue
                t = time.perf_counter()
                results[lab].append(run(v))
                search_t[lab].append(time.perf_counter() - t)
        if embedder is not None:
            for i, text in enumerate(texts):
                for lab, run in (runners if i % 2 == 0 else runners[::-1]):
                    if sum(total_t[lab]) > args.max_seconds:
                        continue
                    t = time.perf_counter()
                    run(embedder.embed([text])[0])
                    total_t[lab].append(time.perf_counter() - t)
        paths = {lab: (idx.mode if fn is None else idx.filter_path(allowed)) for lab, idx in systems}
        paths["chroma"] = "chroma"
        for lab, _ in runners:
            got = len(results[lab])
            shown = lab if got == len(q) else f"{lab} ({got} queries, time cap)"
            rows.append((name, allowed, shown, paths[lab], pct(search_t[lab]),
                         recall(results[lab], truth[name][:got]), pct(total_t[lab]) if total_t[lab] else None))

    rlabel = "recall@10 (real)" if label == "real" else "recall@10 (DERIVED vectors)"
    print(f"\nN = {n:,}, {label}; load average {rv.load_average()}")
    print(f"| filter (allowed) | system | path | p50 ms | p99 ms | {rlabel} | chroma / tributary p50, p99 "
          f"| with query embedding p50 / p99 ms | ratio p50, p99 |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    by = {(r[0], r[2]): r for r in rows}
    for name, allowed, lab, path, (p50, p99), rec, tot in rows:
        ratio = ratio_t = ""
        base = by.get((name, "tributary"))
        if lab.startswith("chroma") and base:
            ratio = f"{p50 / base[4][0]:.2f}x, {p99 / base[4][1]:.2f}x"
            if tot and base[6]:
                ratio_t = f"{tot[0] / base[6][0]:.2f}x, {tot[1] / base[6][1]:.2f}x"
        total = f"{tot[0]:.2f} / {tot[1]:.2f}" if tot else "-"
        print(f"| {name} ({allowed:,}) | {lab} | {path} | {p50:.2f} | {p99:.2f} | {rec:.3f} | {ratio} | {total} | {ratio_t} |")
    if client is not None:
        try:
            client.delete_collection("bench")
        except Exception:  # noqa: BLE001
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes")
    parser.add_argument("--full", action="store_true", help="also 1,000,000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=rv.CACHE, help="bench/real_vectors.py's cache")
    parser.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads for queries")
    parser.add_argument("--client", choices=("ephemeral", "persistent"), default="ephemeral")
    parser.add_argument("--chroma-max-minutes", type=float, default=20, help="give up loading chroma after this")
    parser.add_argument("--no-chroma", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=90,
                        help="per system and filter: stop querying after this much query time (slow filters)")
    parser.add_argument("--no-embed", action="store_true", help="skip the with-query-embedding figures")
    parser.add_argument("--no-forced-hnsw", action="store_true", help="skip the HNSW-forced row at real sizes")
    parser.add_argument("--sigma", type=float, help="noise of derived vectors (default: calibrated)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.full and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    if not (args.cache / "vectors.npy").is_file():
        sys.exit(f"no real vectors in {args.cache}: run `python -m bench.real_vectors` first")
    real, _, qv, queries = rv.load(args.cache)
    qtexts = [r["text"] for r in queries]
    if not args.no_wait:
        wait_for_quiet()

    embedder = None
    if not args.no_embed:
        from knowledge.embeddings import get_embedder

        embedder = get_embedder({})
    client = None
    if not args.no_chroma:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        tmp = tempfile.mkdtemp(prefix="bench-chroma-")
        client = (chromadb.EphemeralClient(settings=settings) if args.client == "ephemeral"
                  else chromadb.PersistentClient(path=tmp, settings=settings))
    print(f"# bench.query_peer: faiss {faiss.__version__}, chromadb "
          f"{'-' if client is None else __import__('chromadb').__version__} ({args.client}), numpy {np.__version__}, "
          f"python {platform.python_version()}, {os.cpu_count()} cores, query threads {args.threads}, "
          f"load average {rv.load_average()}")
    print(f"real vectors: {len(real):,} passages, {len(qv):,} held-out queries ({args.cache})")

    if embedder is not None:
        for text in qtexts[:5]:
            embedder.embed([text])
        times = []
        for text in qtexts[:args.queries]:
            t = time.perf_counter()
            embedder.embed([text])
            times.append(time.perf_counter() - t)
        lengths = [len(t) for t in qtexts[:args.queries]]
        print("query embedding alone (embed([text]), %d real queries of %d-%d chars, median %d): p50 %.2f ms, "
              "p99 %.2f ms" % (len(times), min(lengths), max(lengths), int(np.median(lengths)), *pct(times)))
    try:
        for n in sizes:
            bench_size(n, args, real, qv, qtexts, embedder, client)
    finally:
        if client is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
