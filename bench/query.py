"""Benchmark of the whole federated query (``knowledge.search.run_query``): latency p50 / p99 at
10k and 100k chunks (1M with ``--full``), without and with filters, and where the time goes.

    python -m bench.query                        # 10k and 100k chunks
    python -m bench.query --sizes 1000000        # 1M (SQLite insert + HNSW build: many minutes)

What is timed: one query at a time through ``run_query`` in an app context, as the API calls it
(minus HTTP and JSON): embedding the query with the real model (its per-process cache of
query vectors is cleared before every query: each filter runs the same texts), the FTS5 lexical search with the
filters in its SQL, the filter attributes -> allowed ids, the faiss search (exact up to
``INDEX_HNSW_THRESHOLD`` = 100k live vectors, HNSW above), reciprocal rank fusion, loading the
documents and chunks of the results, and the ``query_log`` insert + commit. The database is a
fresh SQLite file (WAL) under a temporary instance.

Data. Chunks carry real text and vectors derived from real MiniLM embeddings: with the cache of
``python -m bench.real_vectors`` (bench/.cache: passages and their embeddings), chunk i gets
passage i mod P and that passage's vector plus a little noise (re-normalised), so neighbours and
words both look like real text; without the cache, the repository's own docs are cut into
passages and the vectors are ``bench.index.text_like`` (synthetic, calibrated). Documents have
one chunk each, sources slack 50% / github 30% / notion 15% / jira 5%, 200 authors (Zipf), four
types, dates spread over two years. Queries are 3-7 word spans of other passages.

Filters measured: none; source=slack (~50%); source=jira (~5%); one author (~5%: the fourth
most active of the 200, Zipf-distributed, 46k of the 1M chunks; tables before 2026-12-07 10:30
said "~1%"); the last 30 days (~4%); source=github + type=issue + dates (combined, ~4%).

``--rounds N`` asks every filter N times, the filters interleaved, and prints the median of the
rounds' p50 and p99 with their range. ``--peer`` asks each filter a second time in every round
with the vector index's reduced copy set aside (``knowledge.index.REDUCED_DIM``: brute force
then reads every allowed vector whole, or the graph answers): the same instance, the same
queries, the path the product had before it.

There are no assertions: this prints; the tests test.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

CACHE = REPO / "bench" / ".cache"
DIM = 384
SOURCES = (("slack", 0.50, "message"), ("github", 0.30, "issue"), ("notion", 0.15, "page"), ("jira", 0.05, "ticket"))
NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def passages_and_vectors(rng) -> tuple[list[str], np.ndarray | None, list[str]]:
    """(passages, their real vectors or None, query texts)."""
    passages_file, vectors_file = CACHE / "passages.jsonl", CACHE / "vectors.npy"
    if passages_file.exists() and vectors_file.exists():
        passages = [json.loads(line)["text"] if line.startswith("{") else line.strip()
                    for line in passages_file.read_text().splitlines() if line.strip()]
        vectors = np.load(vectors_file).astype(np.float32)
        n = min(len(passages), len(vectors))
        if n >= 1000:  # else the cache is still being filled
            return passages[:n], vectors[:n], []
    texts = []
    for file in [REPO / "README.md", *sorted((REPO.parent / "shared").rglob("*.md"))]:
        if file.exists():
            texts += [p.strip() for p in re.split(r"\n\s*\n", file.read_text()) if len(p.strip()) > 80]
    return texts, None, []


def query_texts(passages: list[str], rng, n: int) -> list[str]:
    out = []
    while len(out) < n:
        words = re.findall(r"[A-Za-z][A-Za-z0-9_]+", passages[int(rng.integers(len(passages)))])
        if len(words) < 8:
            continue
        length = int(rng.integers(3, 8))
        start = int(rng.integers(0, len(words) - length))
        out.append(" ".join(words[start:start + length]))
    return out


def load(app, size: int, passages: list[str], vectors: np.ndarray | None, rng) -> str:
    """Insert ``size`` one-chunk documents with embedded chunks; returns the store id."""
    from sqlalchemy import insert

    from accounts.models import Workspace
    from core.extensions import db
    from knowledge.embeddings import configured_model_name
    from knowledge.models import Chunk, Document, VectorStore

    with app.app_context():
        model = configured_model_name()
    if vectors is None:
        from bench.index import text_like

        base = text_like(min(size, 50_000), rng)
    else:
        base = vectors
    weights = np.array([w for _, w, _ in SOURCES])
    author_p = 1 / np.arange(1, 201) ** 1.1
    author_p /= author_p.sum()
    with app.app_context():
        workspace = Workspace(name="Bench")
        db.session.add(workspace)
        db.session.flush()
        store = VectorStore(workspace_id=workspace.id, name="default", is_default=True)
        db.session.add(store)
        db.session.commit()
        store_id, workspace_id = store.id, workspace.id
        now = datetime.now(timezone.utc)
        step = 5000
        for start in range(0, size, step):
            m = min(step, size - start)
            picks = rng.choice(len(SOURCES), m, p=weights)
            authors = rng.choice(200, m, p=author_p)
            ages = rng.uniform(0, 730, m)
            docs, chunks = [], []
            noise = rng.standard_normal((m, DIM)).astype(np.float32) * 0.02
            for j in range(m):
                i = start + j
                source, _, type_ = SOURCES[picks[j]]
                text = passages[i % len(passages)]
                vector = base[i % len(base)] + noise[j]
                vector /= np.linalg.norm(vector)
                date = NOW - timedelta(days=float(ages[j]))
                doc_id = f"doc_bench{i:09d}"
                docs.append({"id": doc_id, "workspace_id": workspace_id, "origin_id": store_id,
                             "vector_store_id": store_id, "namespace": source, "external_id": str(i),
                             "source": source, "type": type_, "title": f"{source} {i}", "content": text,
                             "author": f"user{authors[j]}@example.com", "url": None, "metadata": {},
                             "content_hash": str(i), "source_created_at": date, "source_updated_at": date,
                             "needs_chunking": False, "created_at": now, "updated_at": now})
                chunks.append({"document_id": doc_id, "workspace_id": workspace_id, "vector_store_id": store_id,
                               "position": 0, "text": text, "start": 0, "end": len(text), "token_count": 100,
                               "embedding": vector.astype("<f4").tobytes(), "model": model, "embedded_at": now,
                               "created_at": now})
            db.session.execute(insert(Document.__table__), docs)
            db.session.execute(insert(Chunk.__table__), chunks)
            db.session.commit()
        db.session.remove()
    return store_id, workspace_id


FILTERS = {
    "none": {},
    "source=slack (~50%)": {"sources": ["slack"]},
    "source=jira (~5%)": {"sources": ["jira"]},
    "one author (~5%)": {"authors": ["user3@example.com"]},
    "last 30 days (~4%)": {"date_after": (NOW - timedelta(days=30)).date().isoformat()},
    "github+issue+90 days (~4%)": {"sources": ["github"], "types": ["issue"],
                                   "date_after": (NOW - timedelta(days=90)).date().isoformat()},
}


def measure(app, workspace_id: str, queries: list[str], body: dict, limit: int) -> dict:
    from core.actor import Actor
    from core.extensions import db
    from knowledge import search

    actor = Actor(type="api_key", id="key_bench", label="bench", workspace_id=workspace_id, scopes=frozenset({"query"}))
    from knowledge.embeddings import clear_query_cache

    samples, counts = [], []
    with app.app_context():
        for query in queries:
            params = search.parse({"query": query, "limit": limit, **body})
            clear_query_cache()  # every filter runs the same texts: time the model each time
            started = time.perf_counter()
            answer = search.run_query(actor, params)
            samples.append((time.perf_counter() - started) * 1000)
            counts.append(len(answer["results"]))
        db.session.remove()
    return {"p50": float(np.percentile(samples, 50)), "p99": float(np.percentile(samples, 99)),
            "results": statistics.median(counts)}


def components(app, queries: list[str], store_id: str) -> dict:
    """Where the time goes, unfiltered: embedding, lexical SQL, vector search."""
    from core.extensions import db
    from knowledge import search
    from knowledge.embeddings import clear_query_cache, embed_query
    from knowledge.indexes import Filters, manager

    embed, lexical, vector = [], [], []
    with app.app_context():
        entry = manager(app).get(store_id, wait=True)
        for query in queries:
            text = search.parse_text(query)
            clear_query_cache()
            t0 = time.perf_counter()
            v = embed_query(text.semantic)
            t1 = time.perf_counter()
            search.lexical([store_id], text, Filters(), 40)
            t2 = time.perf_counter()
            entry.index.search(v, 40)
            t3 = time.perf_counter()
            embed.append((t1 - t0) * 1000)
            lexical.append((t2 - t1) * 1000)
            vector.append((t3 - t2) * 1000)
        db.session.remove()

    def pct(xs):
        return f"{np.percentile(xs, 50):.1f} / {np.percentile(xs, 99):.1f}"

    return {"embed": pct(embed), "lexical": pct(lexical), "vector": pct(vector), "mode": entry.index.mode}


def _spread(figures: list[dict], key: str) -> str:
    """The median of the rounds' figure, with their range when there are several."""
    values = [f[key] for f in figures]
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} [{min(values):.1f}..{max(values):.1f}]"


@contextmanager
def _reduced_copy_set_aside(on: bool):
    """While ``on``, brute force in the vector index does not use its reduced copy."""
    from knowledge import index as vector_index

    saved = vector_index.REDUCED_MIN_ALLOWED
    if on:
        vector_index.REDUCED_MIN_ALLOWED = float("inf")
    try:
        yield
    finally:
        vector_index.REDUCED_MIN_ALLOWED = saved


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--rounds", type=int, default=1, help="ask every filter this many times, interleaved")
    parser.add_argument("--peer", action="store_true", help="also ask each filter with the reduced copy set aside")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    if not args.no_wait:
        from bench._common import wait_for_quiet

        wait_for_quiet()
    passages, vectors, _ = passages_and_vectors(rng)
    queries = query_texts(passages, rng, args.queries)
    print(f"# Federated query latency (run_query, SQLite), {platform.machine()} {os.cpu_count()} cores, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}")
    print(f"# data: {len(passages)} passages, {'real MiniLM vectors + noise' if vectors is not None else 'synthetic vectors'}; "
          f"{len(queries)} queries, limit {args.limit}")
    from bench._common import quiet_logs

    for size in [int(s) for s in args.sizes.split(",") if s]:
        with tempfile.TemporaryDirectory(prefix="bench-query-", dir=args.dir) as instance:
            os.environ["TRIBUTARY_INSTANCE_PATH"] = instance
            from app import create_app
            from knowledge.indexes import manager

            app = create_app({"DATABASE_URL": f"sqlite:///{instance}/tributary.db", "AUTO_MIGRATE": True,
                              "SECRET_KEY": "bench", "EMBEDDED_WORKERS": 0, "SCHEDULER_ENABLED": False})
            quiet_logs()
            started = time.perf_counter()
            store_id, workspace_id = load(app, size, passages, vectors, rng)
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            with app.app_context():
                manager(app).get(store_id, wait=True)
            built = time.perf_counter() - started
            measure(app, workspace_id, queries[:10], {}, args.limit)  # warm: model, caches
            print(f"\n## {size:,} chunks (loaded in {loaded:.0f} s, index built in {built:.1f} s)")
            parts = components(app, queries, store_id)
            print(f"unfiltered parts, p50 / p99 ms: query embedding {parts['embed']}; lexical (FTS5) {parts['lexical']}; "
                  f"vector ({parts['mode']}) {parts['vector']}")
            variants = ("product", "peer") if args.peer else ("product",)
            rounds = {(name, v): [] for name in FILTERS for v in variants}
            for _ in range(args.rounds):
                for name, body in FILTERS.items():
                    for variant in variants:
                        with _reduced_copy_set_aside(variant == "peer"):
                            rounds[name, variant].append(measure(app, workspace_id, queries, body, args.limit))
            head = "| filter | p50 ms | p99 ms | results (median) |"
            if args.peer:
                head += " without the reduced copy: p50 ms | p99 ms |"
            print(head + "\n|---|---|---|---|" + ("---|---|" if args.peer else ""))
            for name in FILTERS:
                row = f"| {name} | {_spread(rounds[name, 'product'], 'p50')} | {_spread(rounds[name, 'product'], 'p99')} | " \
                      f"{statistics.median(r['results'] for r in rounds[name, 'product']):.0f} |"
                if args.peer:
                    row += f" {_spread(rounds[name, 'peer'], 'p50')} | {_spread(rounds[name, 'peer'], 'p99')} |"
                print(row, flush=True)
            from core.extensions import db

            with app.app_context():
                db.engine.dispose()
    print(f"\n(load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
