"""The vector-search paths of a filtered query in HNSW mode, side by side on a kept 1M instance:
brute force over exactly the allowed vectors (exact: the peer), the same in two passes through
the PCA-reduced copy (``_Reduced``: its best candidates re-scored exactly), and the HNSW graph
with a selector (approximate), each timed alone over the same queries and allowed sets, with
recall@10 against exact brute force and the path the cost model in ``knowledge/index.py``
(``BRUTE_NS_PER_ALLOWED``, ``REDUCED_NS_PER_ALLOWED``, ``HNSW_NS_PER_EF``) picks.

    python -m bench.query_access --sizes 1000000 --keep bench/.cache/access --build-only   # once
    python -m bench.filter_paths --instance bench/.cache/access/1000000-seed1

Allowed sets are uniform random samples of the indexed chunks at each fraction (what a date
filter or an access list uncorrelated with the text looks like); queries are the held-out real
queries of ``bench.real_vectors``' cache, embedded as the query path embeds them. Prints p50 / p99
ms per path and fraction. No assertions: this prints; the tests test.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

FRACTIONS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.10, 0.15, 0.30, 0.50)  # below 2 % the graph is never used


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", required=True, help="a bench.query_access --keep folder")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=10, help="results a search asks for (the query path asks 4x its limit)")
    parser.add_argument("--fractions", default=",".join(str(f) for f in FRACTIONS))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    instance = str(Path(args.instance).resolve())
    os.environ["TRIBUTARY_INSTANCE_PATH"] = instance
    from app import create_app
    from bench import query_access as qa
    from bench import real_vectors as rv
    from bench._common import quiet_logs
    from knowledge import index as vector_index
    from knowledge.embeddings import embed_query
    from knowledge.indexes import Filters, manager

    world = json.loads((Path(instance) / qa.WORLD_FILE).read_text())
    app = create_app({"DATABASE_URL": f"sqlite:///{instance}/tributary.db", "AUTO_MIGRATE": False,
                      "SECRET_KEY": "bench", "EMBEDDED_WORKERS": 0, "SCHEDULER_ENABLED": False})
    quiet_logs()
    rng = np.random.default_rng(args.seed)
    texts = qa.corpus(rv.CACHE, args.queries, rng).queries
    print(f"# bench.filter_paths: {qa.cpu_name()!r}, {os.cpu_count()} cores, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}")
    with app.app_context():
        entry = manager(app).get(world["store_id"], wait=True)
        index, every = entry.index, entry.attributes.allowed(Filters())
        started = time.perf_counter()
        index.reduce()  # what the maintenance thread does after a load
        made, reduced = time.perf_counter() - started, index._state.reduced
        vectors = [embed_query(t) for t in texts]
        print(f"# {len(every):,} chunks, {len(texts)} queries, k={args.k}; reduced copy: {reduced.rdim} "
              f"dimensions, {reduced.rows.nbytes / 2**20:,.0f} MiB, made in {made:.1f} s")
        print(f"# p50 / p99 ms of the vector search alone; recall@{args.k} against exact brute force")
        print("| allowed | brute force (exact) | reduced + exact re-score | recall | HNSW with a selector | "
              "efSearch | recall | the model picks |")
        print("|---|---|---|---|---|---|---|---|")
        paths = {"exact": {"BRUTE_NS_PER_ALLOWED": 0.0, "REDUCED_MIN_ALLOWED": float("inf")},
                 "reduced": {"BRUTE_NS_PER_ALLOWED": 0.0, "REDUCED_NS_PER_ALLOWED": 0.0},
                 "hnsw": {"BRUTE_NS_PER_ALLOWED": float("inf"), "REDUCED_NS_PER_ALLOWED": float("inf")}}
        for fraction in (float(f) for f in args.fractions.split(",")):
            allowed = np.sort(rng.choice(every, max(1, int(fraction * len(every))), replace=False))
            allowed.flags.writeable = False     # as ChunkAttributes.allowed hands it: its selector is kept
            figures = {}
            for path, forced in paths.items():
                model = {name: getattr(vector_index, name) for name in forced}
                for name, value in forced.items():  # the cost model forced one way
                    setattr(vector_index, name, value)
                try:
                    samples, found = [], []
                    for round_ in range(2):         # the first round warms the selector and caches
                        for v in vectors:
                            started = time.perf_counter()
                            ids, _ = index.search(v, args.k, allowed_ids=allowed)
                            if round_:
                                samples.append((time.perf_counter() - started) * 1000)
                                found.append(set(ids.tolist()))
                finally:
                    for name, value in model.items():
                        setattr(vector_index, name, value)
                figures[path] = (np.percentile(samples, 50), np.percentile(samples, 99), found)

            def recall(path):
                return float(np.mean([len(h & b) / max(1, len(b)) for h, b in zip(figures[path][2], figures["exact"][2])]))

            ef = index._filter_ef(len(every), args.k, fraction)
            cells = [f"{figures[p][0]:.2f} / {figures[p][1]:.2f}" for p in paths]
            hnsw_recall = f"{recall('hnsw'):.3f}"
            if fraction < vector_index.HNSW_FILTER_MIN_FRACTION:  # the graph is never asked
                cells[2], ef, hnsw_recall = "-", "-", "-"
            print(f"| {fraction:.0%} ({len(allowed):,}) | {cells[0]} | {cells[1]} | {recall('reduced'):.3f} | "
                  f"{cells[2]} | {ef} | {hnsw_recall} | {index.filter_path(len(allowed), args.k)} |", flush=True)
    print(f"\n(load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
