"""The two vector-search paths of a filtered query in HNSW mode, side by side on a kept 1M
instance: brute force over exactly the allowed vectors (exact: the peer) and the HNSW graph with
a selector (approximate), each timed alone over the same queries and allowed sets, with the
graph's recall@10 against brute force and the path the cost model in ``knowledge/index.py``
(``BRUTE_NS_PER_ALLOWED``, ``HNSW_NS_PER_EF``) picks.

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

FRACTIONS = (0.02, 0.03, 0.04, 0.05, 0.07, 0.10, 0.15, 0.30, 0.50)  # below 2 % the graph is never used


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", required=True, help="a bench.query_access --keep folder")
    parser.add_argument("--queries", type=int, default=100)
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
    model = vector_index.BRUTE_NS_PER_ALLOWED, vector_index.HNSW_NS_PER_EF
    with app.app_context():
        entry = manager(app).get(world["store_id"], wait=True)
        index, every = entry.index, entry.attributes.allowed(Filters())
        vectors = [embed_query(t) for t in texts]
        print(f"# {len(every):,} chunks, {len(texts)} queries; p50 / p99 ms of the vector search alone")
        print("| allowed | brute force (exact) | HNSW with a selector | efSearch | recall@10 | the model picks |")
        print("|---|---|---|---|---|---|")
        for fraction in (float(f) for f in args.fractions.split(",")):
            allowed = np.sort(rng.choice(every, max(1, int(fraction * len(every))), replace=False))
            allowed.flags.writeable = False     # as ChunkAttributes.allowed hands it: its selector is kept
            figures = {}
            for path, brute_ns in (("brute", 0.0), ("hnsw", float("inf"))):
                vector_index.BRUTE_NS_PER_ALLOWED = brute_ns   # the cost model forced one way
                try:
                    samples, found = [], []
                    for round_ in range(2):         # the first round warms the selector and caches
                        for v in vectors:
                            started = time.perf_counter()
                            ids, _ = index.search(v, 10, allowed_ids=allowed)
                            if round_:
                                samples.append((time.perf_counter() - started) * 1000)
                                found.append(set(ids.tolist()))
                finally:
                    vector_index.BRUTE_NS_PER_ALLOWED = model[0]
                figures[path] = (np.percentile(samples, 50), np.percentile(samples, 99), found)
            recall = float(np.mean([len(h & b) / max(1, len(b)) for h, b in zip(figures["hnsw"][2], figures["brute"][2])]))
            ef = index._filter_ef(len(every), 10, fraction)
            print(f"| {fraction:.0%} ({len(allowed):,}) | {figures['brute'][0]:.2f} / {figures['brute'][1]:.2f} | "
                  f"{figures['hnsw'][0]:.2f} / {figures['hnsw'][1]:.2f} | {ef} | {recall:.3f} | "
                  f"{index.filter_path(len(allowed))} |", flush=True)
    print(f"\n(load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
