"""Benchmark of knowledge.index.VectorIndex: build time, query p50/p99 and recall@10, exact vs HNSW,
with and without filters, and the filter paths head to head (the cut-offs in knowledge/index.py).

    python -m bench.index                      # 10k and 100k
    python -m bench.index --full               # and 1M (~3 GB RAM per mode, HNSW build minutes)
    python -m bench.index --sizes 30000 --vectors real.npy   # real embeddings (n, 384) float32
    python -m bench.index --paths-only --sizes 1000000       # only the filter-path table
    python -m bench.index --vectors bench/.cache/vectors.npy --sizes 20000          # real MiniLM
    python -m bench.index --vectors bench/.cache/vectors.npy --sizes 1000000 --derive   # derived 1M

Vectors. Recall on uniform random vectors is meaningless (MEASUREMENTS.md: 0.02-0.6), so by
default the vectors are synthetic with the structure of text embeddings: 1,000 topic clusters
(Zipf-sized) in a 64-dimensional subspace of R^384, isotropic noise and a shared mean direction.
The parameters were calibrated so that HNSW (M=32) recall@10 at 30k is 0.934 / 0.974 / 0.989 /
0.997 at efSearch 16 / 32 / 64 / 128, against 0.944 / 0.977 / 0.991 / 0.998 measured on real
MiniLM vectors -- slightly harder than real text -- and the mean cosine of unrelated pairs is
0.13 (MiniLM: ~0.10). ``--vectors`` takes real embeddings instead (``bench/real_vectors.py``
makes them: MiniLM over real text); the queries are ``--query-vectors``, else the
``query_vectors.npy`` beside them (real held-out texts), else the last --queries rows held out.
A size larger than the real set is capped to it, or with ``--derive`` filled with vectors derived
from the real ones (``bench.real_vectors.derive``: real vector + calibrated covariance-shaped
noise); every recall figure is labelled real, derived or synthetic -- only "real" is a
measurement of recall on text. An efSearch sweep of the plain HNSW search (recall@10 at 16 ... 256
and at the ef knowledge/index.py picks for that size) comes with each size. Filters are random
subsets of the ids (not correlated with the query, which is the hard case for HNSW with a
selector).

Latency is one query at a time (the web process's case), with faiss' OpenMP pool at --threads
(default 1: a single query does not parallelise, and a spinning pool costs a shared machine
dearly). Build uses every core. There are no assertions: this prints; the tests test.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from knowledge import index as vindex  # noqa: E402
from knowledge.index import VectorIndex  # noqa: E402

DIM = 384
K = 10


def text_like(n: int, rng, *, dim=DIM, clusters=1000, rank=64, within=0.8, noise=1.0, mean_w=0.6):
    """Calibrated stand-in for MiniLM vectors (see the module docstring)."""
    srng = np.random.default_rng(0)  # the structure is fixed; rng draws the points
    basis = np.linalg.qr(srng.standard_normal((dim, rank)))[0].T
    centers = srng.standard_normal((clusters, rank))
    mean = srng.standard_normal(dim)
    mean /= np.linalg.norm(mean)
    p = 1 / np.arange(1, clusters + 1) ** 0.8
    p /= p.sum()
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        z = centers[rng.choice(clusters, m, p=p)] + within * rng.standard_normal((m, rank))
        out[start:start + m] = (z @ basis / np.sqrt(rank) + noise * rng.standard_normal((m, dim)) / np.sqrt(dim)
                                + mean_w * mean)
    faiss.normalize_L2(out)
    return out


def pct(samples):
    a = np.asarray(samples) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def timed(fn, queries):
    times, results = [], []
    for qv in queries:
        t = time.perf_counter()
        results.append(fn(qv))
        times.append(time.perf_counter() - t)
    return times, results


def recall(results, truth):
    return float(np.mean([len(set(r.tolist()) & set(t.tolist())) / max(1, len(t)) for r, t in zip(results, truth)]))


def build(mode, ids, x):
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    idx = VectorIndex(x.shape[1], model="bench", hnsw_threshold=0 if mode == "hnsw" else 10**12)
    t = time.perf_counter()
    if mode == "hnsw":
        idx.rebuild((ids[s:s + 50_000], x[s:s + 50_000]) for s in range(0, len(ids), 50_000))
    else:
        for s in range(0, len(ids), 50_000):
            idx.upsert(ids[s:s + 50_000], x[s:s + 50_000])
    return idx, time.perf_counter() - t


FRACTIONS = (0.001, 0.01, 0.05, 0.1, 0.5)


def query_vectors_path(args):
    if args.query_vectors:
        return Path(args.query_vectors)
    beside = Path(args.vectors).with_name("query_vectors.npy")
    return beside if args.vectors and beside.is_file() and beside != Path(args.vectors) else None


def bench_size(n, args, rng):
    kind = "synthetic"
    if args.vectors:
        allx = np.load(args.vectors, mmap_mode="r")
        qpath = query_vectors_path(args)
        # Copies (np.array): normalize_L2 works in place, and a read-only memmap segfaults faiss.
        if qpath:
            real = np.array(allx, dtype=np.float32)
            q = np.array(np.load(qpath)[:args.queries], dtype=np.float32)
        else:
            real = np.array(allx[:-args.queries], dtype=np.float32)
            q = np.array(allx[-args.queries:], dtype=np.float32)
        faiss.normalize_L2(real)
        faiss.normalize_L2(q)
        if n > len(real) and args.derive:
            from bench import real_vectors as rv

            sigma = args.sigma or rv.calibrate(real, q[:200], n / len(real), seed=args.seed)[0]
            x, _ = rv.derive(real, n, sigma, seed=args.seed)
            kind = f"derived from {len(real):,} real vectors, sigma {sigma:g}"
        else:
            x = real[:n]
            n = len(x)
            kind = "real"
        kind += f"; queries {'real held-out texts (' + qpath.name + ')' if qpath else 'held-out rows'}"
    else:
        x = text_like(n, rng)
        q = text_like(args.queries, rng)
    rlabel = "real" if kind.startswith("real") else "DERIVED" if kind.startswith("derived") else "synthetic"
    ids = np.arange(n, dtype=np.int64) * 2 + 1  # database-like integer keys, not positions
    filters = {f: rng.choice(ids, max(1, int(n * f)), replace=False) for f in FRACTIONS}
    print(f"\n## N = {n:,} ({kind if args.vectors else 'text-like synthetic'}), "
          f"{len(q)} queries, k={K}, load average {os.getloadavg()[0]:.1f}")

    exact, exact_build = build("exact", ids, x)
    faiss.omp_set_num_threads(args.threads)
    truth = {None: [exact.search(v, K)[0] for v in q]}
    for f, allowed in filters.items():
        truth[f] = [exact.search(v, K, allowed_ids=allowed)[0] for v in q]

    rows = []

    def measure(label, idx, allowed_key, truth_key=None):
        allowed = None if allowed_key is None else filters[allowed_key]
        times, res = timed(lambda v: idx.search(v, K, allowed_ids=allowed)[0], q)
        p50, p99 = pct(times)
        rows.append((label, "none" if allowed_key is None else f"{allowed_key:.1%} ({len(allowed):,})",
                     p50, p99, recall(res, truth[allowed_key if truth_key is None else truth_key])))

    if not args.paths_only:
        for f in (None, *FRACTIONS):
            measure("exact", exact, f)
    hnsw, hnsw_build = build("hnsw", ids, x)
    faiss.omp_set_num_threads(args.threads)
    if args.paths_only:
        print(f"build: exact {exact_build:.1f} s, hnsw {hnsw_build:.1f} s")
        paths(n, exact, hnsw, filters, truth, q)
        return
    for f in (None, *FRACTIONS):
        measure("hnsw", hnsw, f)
    ef_sweep(n, hnsw, truth[None], q, rlabel)
    paths(n, exact, hnsw, filters, truth, q)
    # 10% tombstones (replaced/deleted chunks awaiting a rebuild).
    gone = rng.choice(ids, n // 10, replace=False)
    hnsw.remove(gone)
    exact.remove(gone)
    truth["tomb"] = [exact.search(v, K)[0] for v in q]
    truth["tomb10"] = [exact.search(v, K, allowed_ids=filters[0.1])[0] for v in q]
    times, res = timed(lambda v: hnsw.search(v, K)[0], q)
    rows.append(("hnsw, 10% tombstones", "none", *pct(times), recall(res, truth["tomb"])))
    times, res = timed(lambda v: hnsw.search(v, K, allowed_ids=filters[0.1])[0], q)
    rows.append(("hnsw, 10% tombstones", f"10.0% ({len(filters[0.1]):,})", *pct(times), recall(res, truth["tomb10"])))
    print(f"\nbuild: exact {exact_build:.1f} s, hnsw {hnsw_build:.1f} s (rebuild() from batches of 50k)")
    print(f"| index | filter (allowed) | p50 ms | p99 ms | recall@{K} ({rlabel}) |\n| --- | --- | --- | --- | --- |")
    for label, filt, p50, p99, r in rows:
        print(f"| {label} | {filt} | {p50:.2f} | {p99:.2f} | {r:.3f} |")


def ef_sweep(n, hnsw, truth, q, rlabel):
    """Recall@10 and latency of the plain HNSW search at fixed efSearch values and at the one
    knowledge/index.py picks for n."""
    state = hnsw._state
    product = hnsw._ef(n)
    print(f"\nHNSW (M={hnsw.hnsw_m}, efConstruction {hnsw.ef_construction}) at N = {n:,}, unfiltered, "
          f"vectors {rlabel}; knowledge/index.py uses ef {product}:")
    print(f"| efSearch | p50 ms | p99 ms | recall@{K} ({rlabel}) |\n| --- | --- | --- | --- |")
    for ef in sorted({16, 32, 64, 128, 256, product}):
        times, res = timed(lambda v, ef=ef: state.search_all(v[None], K, ef)[1][0], q)
        print(f"| {ef}{' (product)' if ef == product else ''} | %.2f | %.2f | %.3f |" % (*pct(times), recall(res, truth)))


def paths(n, exact, hnsw, filters, truth, q):
    """Each filter path forced, at each allowed fraction: where does each one win?"""
    print(f"\nfilter paths at N = {n:,} (p50 / p99 ms, recall@{K} for approximate ones):")
    print("| allowed | brute force (exact mode) | brute force (hnsw mode) | exact: Flat+selector | hnsw: flat scan+selector | hnsw+selector, ef "
          "by formula | hnsw+selector, ef 64 |\n| --- | --- | --- | --- | --- | --- | --- |")
    ex_state, h_state = exact._state, hnsw._state
    for f, allowed in filters.items():
        cells = []
        for state in (ex_state, h_state):
            if len(allowed) <= 50_000:
                times, _ = timed(lambda v: exact._brute_force(state, v[None], K, allowed), q)
                cells.append("%.2f / %.2f" % pct(times))
            else:
                cells.append("-")

        def with_sel(fn):
            def run(v):
                sel, keep = vindex._selector(allowed, h_state.ntotal)
                return fn(v[None], sel)[1][0]
            return run

        times, _ = timed(with_sel(lambda v, sel: ex_state.search_selected(v, K, sel)), q)
        cells.append("%.2f / %.2f" % pct(times))
        times, _ = timed(with_sel(lambda v, sel: h_state.scan(v, K, sel)), q)
        cells.append("%.2f / %.2f" % pct(times))
        ef = hnsw._filter_ef(n, K, len(allowed) / n)
        for e in (ef, 64):
            times, res = timed(with_sel(lambda v, sel, e=e: h_state.search_selected(v, K, sel, e)), q)
            cells.append("%.2f / %.2f, R %.3f%s" % (*pct(times), recall(res, truth[f]),
                                                    f" (ef {e})" if e != 64 else ""))
        print(f"| {f:.1%} ({len(allowed):,}) | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes")
    parser.add_argument("--full", action="store_true", help="also 1,000,000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads for queries")
    parser.add_argument("--vectors", help=".npy of real embeddings (n, 384) float32 (bench/real_vectors.py)")
    parser.add_argument("--query-vectors", help=".npy of real query embeddings (default: query_vectors.npy "
                        "beside --vectors, else the last --queries rows of --vectors)")
    parser.add_argument("--derive", action="store_true", help="sizes beyond the real vectors: derived vectors")
    parser.add_argument("--sigma", type=float, help="noise of derived vectors (default: calibrated)")
    parser.add_argument("--paths-only", action="store_true", help="only the filter-path table")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.full and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    print(f"# bench.index: faiss {faiss.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} cores, query threads {args.threads}, load average {os.getloadavg()[0]:.1f}")
    print(f"cut-offs: exact mode brute force <= max({vindex.BRUTE_FORCE_MIN_ALLOWED}, "
          f"{vindex.BRUTE_FORCE_FRACTION:g} x N) allowed; HNSW mode brute force below "
          f"{vindex.HNSW_FILTER_MIN_FRACTION:.0%} allowed or where cheaper; HNSW ef = "
          f"64 x sqrt(N/{vindex.EF_REFERENCE_SIZE:,}) (>= {vindex.EF_FLOOR}), with a filter max(1.25 x that "
          f"(1 x from {vindex.FILTER_EF_PLAIN_FRACTION:.0%} allowed), {vindex.FILTER_EF_NUMERATOR:g}/fraction) "
          f"<= {vindex.FILTER_EF_MAX}")
    rng = np.random.default_rng(args.seed)
    for n in sizes:
        bench_size(n, args, rng)


if __name__ == "__main__":
    main()
