"""The whole query with document access (issue 13): latency p50 / p99 of ``POST /api/v1/query``'s
code path for members who may read 1 %, 50 % and 100 % of the documents, beside the unfiltered
query, single client and under 8 concurrent queriers, with recall@10 of the vector search
against exact search over the same allowed set.

    python -m bench.real_vectors                        # once: real embeddings (bench/.cache/)
    python -m bench.query_access                        # 10k and 100k chunks
    python -m bench.query_access --sizes 1000000        # 1M (derive + insert + HNSW build: most of an hour)
    python -m bench.query_access --sizes 1000000 --keep bench/.cache/access --build-only   # build, any load
    python -m bench.query_access --sizes 1000000 --keep bench/.cache/access               # measure, reusing it
    python -m bench.query_access --quick                # smoke run: 1,000 chunks, 12 queries, seconds

What is timed: ``knowledge.search.run_query(actor, params)`` in an app context, which is what the
API handler calls after parsing (HTTP and JSON aside): the asker's allowed set
(``access.service.allowed``), the query embedding with the packaged MiniLM (its per-process cache
of query vectors is cleared before every query), the lexical search with every filter in its SQL,
the unchunked documents, the vector search with the allowed chunk ids, fusion, loading the
results, and the ``query_log`` insert and commit. The database is a fresh SQLite file (WAL; or
``--database-url`` for PostgreSQL, whose tables are dropped first).

Askers. One workspace; 200 access lists (each a private "repository": its own provider user plus
the members below as readers), each document in one of them by a hash of its number (so what a
member may read is uncorrelated with the text: the hard case for a filtered approximate search).
Member "1 %" reads 2 lists, "50 %" 100 lists, "100 %" all 200. "unfiltered" is the admin's audited
override (``audit_access``, ``ACCESS_ADMIN_OVERRIDE`` on): the same path without an allowed set,
plus one audit row in the same commit. No document is workspace-wide here, so a member's allowed
set is exactly their lists (plus the workspace-wide marker, as always).

Vectors and text. Real all-MiniLM-L6-v2 embeddings of real passages (``bench.real_vectors``'s
cache): a size up to the cached count uses the first N real vectors and their passages; a larger
one *derives* vectors from all the real ones (each a real vector plus calibrated noise, see
bench/real_vectors.py), each derived chunk carrying its real vector's passage, so recall there is
labelled derived. Queries are real held-out texts (not in the corpus). Without the cache
(``--quick`` in a fresh checkout) the repository's own docs are the passages, the vectors are
``bench.index.text_like`` (synthetic), and recall is labelled synthetic.

Recall@10: the first 10 chunks the query's own vector search returned (recorded inside the timed
call) against the exact top 10 over the chunks the *database* says the member may read
(``readable(documents.access_id, access.allowed(actor))`` in SQL), by inner product with the
query's embedding. Every result is also checked against the database: a result the member may not
read counts as a leak (there must be none).

Concurrency: 8 threads (gunicorn's default 2 workers x 4 threads) each with its own app context
and session, all querying at once as one member; p50 / p99 over every query they ran.

Figures: each level is measured ``--repeats`` times, levels interleaved; the table shows the
median p50 and p99 of the rounds, with their range; "CPU ms / query" is this process's CPU time
(every thread) per single-client query, which a busy machine inflates less than the latencies.
No assertions: this prints (tests/knowledge/test_bench_query_access.py runs ``--quick`` and
checks the askers' allowed sets, recall and that nothing leaks).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench import real_vectors as rv  # noqa: E402

K = 10
LISTS = 200
# (label, lists the member reads). 4 %: the band where brute force and the HNSW graph cost the
# same at 1M (bench/filter_paths.py).
LEVELS = (("1 %", 2), ("4 %", 8), ("50 %", 100), ("100 %", 200))
UNFILTERED = "unfiltered"
WORLD_FILE = "bench-world.json"  # what a --keep folder was built with
QUICK_SIZE = 1_000  # chunks of --quick
SOURCES = (("slack", "message"), ("github", "issue"), ("notion", "page"), ("jira", "ticket"))
NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _list_of(numbers: np.ndarray) -> np.ndarray:
    """The access list (0..LISTS-1) of document number i: a fixed hash, not i mod LISTS."""
    with np.errstate(over="ignore"):
        z = numbers.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= z >> np.uint64(29)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(32)
    return (z % np.uint64(LISTS)).astype(np.int64)


# -- data ---------------------------------------------------------------------------------------

@dataclass
class Corpus:
    passages: list[str]
    vectors: np.ndarray  # (P, 384), one per passage
    queries: list[str]
    real: bool


def corpus(cache: Path, n_queries: int, rng) -> Corpus:
    if (cache / "vectors.npy").is_file() and (cache / "query_vectors.npy").is_file():
        vectors, passages, _, queries = rv.load(cache)
        # Quote marks would make a query's words a required phrase (another query than the
        # text's own vector answers): these are plain questions.
        texts = [" ".join(q["text"].replace('"', " ").split()) for q in queries[:n_queries]]
        return Corpus([p["text"] for p in passages], vectors, texts, True)
    from bench.index import text_like
    from bench.query import passages_and_vectors, query_texts

    passages, _, _ = passages_and_vectors(rng)
    return Corpus(passages, text_like(len(passages), rng), query_texts(passages, rng, n_queries), False)


def _sigma(data: Corpus, ratio: float, seed: int, cache: Path) -> float:
    """The calibrated noise for deriving ``ratio`` x the real vectors (bench/real_vectors.py),
    remembered in the cache folder: calibrating builds eight HNSW graphs (minutes on a busy box)."""
    import json

    file = cache / "sigma.json"
    known = json.loads(file.read_text()) if file.is_file() else {}
    key = f"{len(data.vectors)}:{ratio:g}:{seed}"
    if key not in known:
        known[key] = rv.calibrate(data.vectors, data.vectors[:200], ratio, seed=seed, verbose=False)[0]
        if cache.is_dir():
            file.write_text(json.dumps(known, indent=1))
    return float(known[key])


def vectors_for(size: int, data: Corpus, seed: int, cache: Path = rv.CACHE) -> tuple[np.ndarray, np.ndarray, str]:
    """(vectors, passage of each row, label) for ``size`` chunks."""
    n_real = len(data.vectors)
    kind = "real" if data.real else "synthetic"
    if size <= n_real:
        return np.ascontiguousarray(data.vectors[:size]), np.arange(size), kind
    if not data.real:
        from bench.index import text_like

        return text_like(size, np.random.default_rng(seed)), np.arange(size) % len(data.passages), kind
    started = time.perf_counter()
    sigma = _sigma(data, size / n_real, seed, cache)
    x, origin = rv.derive(data.vectors, size, sigma, seed=seed)
    print(f"derived {size:,} vectors from {n_real:,} real ones (sigma {sigma:g}, calibrated) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return x, origin, f"derived from {n_real:,} real"


@dataclass
class World:
    store_id: str
    workspace_id: str
    actors: dict = field(default_factory=dict)  # level label -> Actor
    lists: list[int] = field(default_factory=list)  # access list ids, by list number


def load(app, size: int, x: np.ndarray, origin: np.ndarray, passages: list[str], rng) -> World:
    """A workspace, its admin, three members, 200 access lists and ``size`` one-chunk documents
    with embedded chunks, written through Core inserts in batches (the ingest path's shape)."""
    from sqlalchemy import insert

    from access.service import Readers, access_id
    from accounts import service as accounts
    from core.extensions import db
    from knowledge.embeddings import configured_model_name
    from knowledge.models import Chunk, Document, VectorStore

    with app.app_context():
        model = configured_model_name()
        workspace, admin = accounts.setup(workspace_name="Bench", email="admin@example.com", name="Admin",
                                          password="correct horse battery staple")
        admin_actor = accounts.user_actor(admin, workspace.id, "admin")
        world = World(store_id="", workspace_id=workspace.id)
        world.actors[UNFILTERED] = admin_actor
        members = {}
        for label, _ in LEVELS:
            slug = label.replace(" %", "pct")
            user = accounts.add_member(admin_actor, email=f"reader-{slug}@example.com", name=f"Reader {label}",
                                       password="correct horse battery staple", role="member")
            members[label] = user.id
            world.actors[label] = accounts.user_actor(user, workspace.id, "member")
        for number in range(LISTS):
            readers = [("provider_user", f"github:owner{number}")]
            readers += [("member", members[label]) for label, count in LEVELS if number < count]
            world.lists.append(access_id(workspace.id, Readers.of(*readers)))
        store = VectorStore(workspace_id=workspace.id, name="default", is_default=True)
        db.session.add(store)
        db.session.commit()
        world.store_id = store.id
        lists = np.array(world.lists, dtype=np.int64)[_list_of(np.arange(size))]
        now = datetime.now(timezone.utc)
        step = 5000
        for start in range(0, size, step):
            m = min(step, size - start)
            picks = rng.integers(0, len(SOURCES), m)
            authors = rng.integers(0, 200, m)
            ages = rng.uniform(0, 730, m)
            docs, chunks = [], []
            for j in range(m):
                i = start + j
                source, type_ = SOURCES[picks[j]]
                text = passages[int(origin[i]) % len(passages)]
                date = NOW - timedelta(days=float(ages[j]))
                doc_id = f"doc_bench{i:09d}"
                docs.append({"id": doc_id, "workspace_id": workspace.id, "origin_id": store.id,
                             "vector_store_id": store.id, "namespace": source, "external_id": str(i),
                             "access_id": int(lists[i]), "source": source, "type": type_,
                             "title": f"{source} {i}", "content": text, "author": f"user{authors[j]}@example.com",
                             "url": None, "metadata": {}, "content_hash": str(i), "source_created_at": date,
                             "source_updated_at": date, "needs_chunking": False, "created_at": now,
                             "updated_at": now})
                chunks.append({"document_id": doc_id, "workspace_id": workspace.id, "vector_store_id": store.id,
                               "position": 0, "text": text, "start": 0, "end": len(text), "token_count": 100,
                               "embedding": x[i].astype("<f4").tobytes(), "model": model, "embedded_at": now,
                               "created_at": now})
            db.session.execute(insert(Document.__table__), docs)
            db.session.execute(insert(Chunk.__table__), chunks)
            db.session.commit()
        db.session.remove()
    return world


# -- truth --------------------------------------------------------------------------------------

def allowed_rows(app, world: World, label: str) -> np.ndarray | None:
    """Row numbers (document number i) of the chunks the database says this asker may read, or
    None for every row (the override)."""
    from sqlalchemy import select

    from access import service as access
    from core.extensions import db
    from knowledge.models import Chunk, Document

    if label == UNFILTERED:
        return None
    with app.app_context():
        lists = access.allowed(world.actors[label])
        query = (select(Document.external_id).select_from(Chunk.__table__.join(
            Document.__table__, Document.id == Chunk.document_id))
            .where(Chunk.vector_store_id == world.store_id, access.readable(Document.access_id, lists)))
        rows = np.fromiter((int(e) for e in db.session.scalars(query)), dtype=np.int64)
        db.session.remove()
    return np.sort(rows)


def exact_top(x: np.ndarray, rows: np.ndarray | None, q: np.ndarray, k: int = K) -> np.ndarray:
    """Row numbers of the exact top k of each query (inner product) among ``rows``."""
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_i = np.empty((len(q), 0), np.int64)
    candidates = np.arange(len(x)) if rows is None else rows
    for start in range(0, len(candidates), 100_000):
        part = candidates[start:start + 100_000]
        s = q @ x[part].T
        kk = min(k, s.shape[1])
        top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        best_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        best_i = np.concatenate([best_i, part[top]], axis=1)
        keep = np.argsort(-best_s, axis=1, kind="stable")[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


# -- measuring ----------------------------------------------------------------------------------

_seen = threading.local()


@contextmanager
def _recording_semantic():
    """While inside: keep each thread's last vector-search answer (the chunks, best first), for
    recall. ``run_query`` calls ``knowledge.search.semantic`` by its module name."""
    from knowledge import search

    original = search.semantic

    def recording(*args, **kwargs):
        hits = original(*args, **kwargs)
        _seen.hits = hits
        return hits

    search.semantic = recording
    try:
        yield
    finally:
        search.semantic = original


def _ask(app, actor, text: str, limit: int, audit: bool):
    """One query as the API handler runs it: parse, then ``run_query``; (ms, answer, hits)."""
    from knowledge import search
    from knowledge.embeddings import clear_query_cache

    body = {"query": text, "limit": limit}
    if audit:
        body["audit_access"] = True
    params = search.parse(body)
    clear_query_cache()
    _seen.hits = []
    started = time.perf_counter()
    answer = search.run_query(actor, params)
    return (time.perf_counter() - started) * 1000, answer, _seen.hits


def single(app, world: World, label: str, queries: list[str], limit: int) -> dict:
    from core.extensions import db

    actor = world.actors[label]
    samples, answers, hits = [], [], []
    with app.app_context():
        for text in queries:
            ms, answer, seen = _ask(app, actor, text, limit, label == UNFILTERED)
            samples.append(ms)
            answers.append([r["id"] for r in answer["results"]])
            hits.append([h.chunk_id for h in seen[:K]])
        db.session.remove()
    return {"samples": samples, "answers": answers, "hits": hits}


def concurrent(app, world: World, label: str, queries: list[str], limit: int, threads: int) -> list[float]:
    """Every query once, ``threads`` at a time, each thread in its own app context."""
    from core.extensions import db

    actor = world.actors[label]
    work = list(queries)
    lock = threading.Lock()
    samples: list[float] = []
    start = threading.Barrier(threads)

    def run():
        with app.app_context():
            start.wait()
            while True:
                with lock:
                    if not work:
                        break
                    text = work.pop()
                ms, _, _ = _ask(app, actor, text, limit, label == UNFILTERED)
                with lock:
                    samples.append(ms)
            db.session.remove()

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(run) for _ in range(threads)]:
            future.result()
    return samples


def chunk_rows(app, world: World, chunk_ids: set[int]) -> dict[int, int]:
    """chunk id -> document number, from the database."""
    from sqlalchemy import select

    from core.extensions import db
    from knowledge.models import Chunk, Document

    out: dict[int, int] = {}
    ids = sorted(i for i in chunk_ids if i is not None)
    with app.app_context():
        for begin in range(0, len(ids), 500):
            query = (select(Chunk.id, Document.external_id).join(Document, Document.id == Chunk.document_id)
                     .where(Chunk.id.in_(ids[begin:begin + 500])))
            out.update((cid, int(ext)) for cid, ext in db.session.execute(query))
        db.session.remove()
    return out


def leaks(app, world: World, label: str, answers: list[list[str]]) -> int:
    """Results the database says this asker may not read."""
    from sqlalchemy import select

    from access import service as access
    from core.extensions import db
    from knowledge.models import Document

    if label == UNFILTERED:
        return 0
    ids = sorted({i for answer in answers for i in answer})
    with app.app_context():
        lists = access.allowed(world.actors[label])
        found = 0
        for begin in range(0, len(ids), 500):
            for access_id in db.session.scalars(select(Document.access_id).where(Document.id.in_(ids[begin:begin + 500]))):
                found += not access.may_read(lists, access_id)
        db.session.remove()
    return found


def _recall(x: np.ndarray, v: np.ndarray, found: list[int | None], best: np.ndarray) -> float:
    """Recall@10, ties counted: a found row scoring at least the exact 10th best (duplicated
    passages carry equal vectors, and either copy is a right answer)."""
    if not len(best):
        return 1.0
    bar = float(x[best[-1]] @ v) - 1e-5
    good = sum(1 for row in dict.fromkeys(found) if row is not None and float(x[row] @ v) >= bar)
    return min(good, len(best)) / len(best)


def pct(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def _fmt(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:.1f}" + (f" [{min(values):.1f}..{max(values):.1f}]" if len(values) > 1 else "")


def bench_size(size: int, data: Corpus, args) -> list[dict]:
    """One size: load, build the index, measure every asker; the rows of the table."""
    with _recording_semantic():
        return _bench_size(size, data, args)


def _instance(size: int, args):
    """The instance folder of one size: a temporary one, or with ``--keep`` a lasting one per size
    and seed (a context manager either way)."""
    if not args.keep:
        return tempfile.TemporaryDirectory(prefix="bench-access-", dir=args.dir)
    folder = Path(args.keep).resolve() / f"{size}-seed{args.seed}"
    saved = folder / WORLD_FILE
    askers = {UNFILTERED} | {label for label, _ in LEVELS}
    if folder.is_dir() and any(folder.iterdir()) and (
            not saved.is_file() or set(json.loads(saved.read_text())["users"]) != askers):
        shutil.rmtree(folder)  # a build that did not finish, or one for other askers: built again
    folder.mkdir(parents=True, exist_ok=True)
    return nullcontext(str(folder))


def _saved_world(app, instance: str) -> World | None:
    """The world a ``--keep`` folder was built with, its askers as ``load`` made them (None: not
    built; ``_instance`` has emptied a folder built for other askers or left unfinished)."""
    from accounts import service as accounts
    from accounts.models import User
    from core.extensions import db

    file = Path(instance) / WORLD_FILE
    if not file.is_file():
        return None
    saved = json.loads(file.read_text())
    world = World(store_id=saved["store_id"], workspace_id=saved["workspace_id"], lists=saved["lists"])
    with app.app_context():
        world.actors = {label: accounts.user_actor(db.session.get(User, user_id), world.workspace_id,
                                                   "admin" if label == UNFILTERED else "member")
                        for label, user_id in saved["users"].items()}
        db.session.remove()
    return world


def _save_world(instance: str, world: World) -> None:
    users = {label: actor.user_id for label, actor in world.actors.items()}
    (Path(instance) / WORLD_FILE).write_text(json.dumps(
        {"store_id": world.store_id, "workspace_id": world.workspace_id, "lists": world.lists, "users": users}))


def _bench_size(size: int, data: Corpus, args) -> list[dict]:
    rng = np.random.default_rng(args.seed)
    x, origin, kind = vectors_for(size, data, args.seed, args.cache)
    with _instance(size, args) as instance:
        os.environ["TRIBUTARY_INSTANCE_PATH"] = instance
        from app import create_app
        from bench._common import quiet_logs
        from core.extensions import db
        from knowledge.embeddings import embed_query
        from knowledge.indexes import manager

        url = args.database_url or f"sqlite:///{instance}/tributary.db"
        if args.database_url:
            _reset_postgres(url)
        app = create_app({"DATABASE_URL": url, "AUTO_MIGRATE": True, "SECRET_KEY": "bench",
                          "EMBEDDED_WORKERS": 0, "SCHEDULER_ENABLED": False, "ACCESS_ADMIN_OVERRIDE": True,
                          **({"INDEX_HNSW_THRESHOLD": args.hnsw_threshold} if args.hnsw_threshold else {})})
        quiet_logs()
        started = time.perf_counter()
        world = _saved_world(app, instance) if args.keep else None
        loaded = f"reused from {instance}"
        if world is None:
            world = load(app, size, x, origin, data.passages, rng)
            loaded = f"loaded in {time.perf_counter() - started:.0f} s"
        started = time.perf_counter()
        with app.app_context():
            entry = manager(app).get(world.store_id, wait=True)
            entry.index.reduce()  # the maintenance thread's first work after a load (a build did it)
            mode = entry.index.mode
            db.session.remove()
        built = time.perf_counter() - started
        if args.keep:  # the index's files beside the database: a later run loads them (seconds)
            with app.app_context():
                entry.save()
                db.session.remove()
            _save_world(instance, world)
        if args.build_only:
            print(f"{size:,} chunks: {loaded}, {mode} index ready in {built:.1f} s, kept in {instance}", flush=True)
            manager(app).forget_all()
            with app.app_context():
                db.engine.dispose()
            return []
        queries = data.queries[:args.queries]
        with app.app_context():
            qv = np.vstack([embed_query(t, split=False) for t in queries])  # as the query path does
            db.session.remove()
        labels = [UNFILTERED] + [label for label, _ in LEVELS]
        truth, allowed = {}, {}
        for label in labels:
            rows = allowed_rows(app, world, label)
            allowed[label] = size if rows is None else len(rows)
            truth[label] = exact_top(x, rows, qv)
        single(app, world, UNFILTERED, queries[:10], args.limit)  # warm: model, caches, statements
        print(f"\n## {size:,} chunks ({kind} vectors; {loaded}, {mode} index ready in "
              f"{built:.1f} s), {len(queries)} queries, limit {args.limit}, load average {rv.load_average()}",
              flush=True)
        rounds = {label: {"p50": [], "p99": [], "c50": [], "c99": [], "cpu": []} for label in labels}
        recall, leaked = {label: [] for label in labels}, {label: 0 for label in labels}
        for _ in range(args.repeats):
            for label in labels:
                cpu = time.process_time()
                got = single(app, world, label, queries, args.limit)
                rounds[label]["cpu"].append((time.process_time() - cpu) * 1000 / len(queries))
                p50, p99 = pct(got["samples"])
                rounds[label]["p50"].append(p50)
                rounds[label]["p99"].append(p99)
                rows = chunk_rows(app, world, {c for h in got["hits"] for c in h})
                for v, hits, best in zip(qv, got["hits"], truth[label]):
                    recall[label].append(_recall(x, v, [rows.get(c) for c in hits], best))
                leaked[label] += leaks(app, world, label, got["answers"])
                if args.concurrency:
                    c50, c99 = pct(concurrent(app, world, label, queries, args.limit, args.concurrency))
                    rounds[label]["c50"].append(c50)
                    rounds[label]["c99"].append(c99)
        with app.app_context():
            path = {label: (mode if label == UNFILTERED else entry.index.filter_path(allowed[label]))
                    for label in labels}
            db.session.remove()
        out = []
        print(f"| asker (allowed chunks) | vector path | p50 ms | p99 ms | CPU ms / query | {args.concurrency} "
              f"concurrent p50 ms | p99 ms | recall@10 ({kind}) | leaks |\n|---|---|---|---|---|---|---|---|---|")
        base = rounds[UNFILTERED]
        for label in labels:
            r = rounds[label]
            ratio = ""
            if label != UNFILTERED:
                ratio = (f" ({statistics.median(r['p50']) / statistics.median(base['p50']):.2f}x, "
                         f"{statistics.median(r['p99']) / statistics.median(base['p99']):.2f}x)")
            conc = (_fmt(r["c50"]), _fmt(r["c99"])) if args.concurrency else ("-", "-")
            rec = float(np.mean(recall[label]))
            print(f"| {label} ({allowed[label]:,}) | {path[label]} | {_fmt(r['p50'])} | {_fmt(r['p99'])}{ratio} | "
                  f"{_fmt(r['cpu'])} | {conc[0]} | {conc[1]} | {rec:.3f} | {leaked[label]} |", flush=True)
            out.append({"size": size, "asker": label, "allowed": allowed[label], "path": path[label],
                        "p50": statistics.median(r["p50"]), "p99": statistics.median(r["p99"]),
                        "c50": statistics.median(r["c50"]) if r["c50"] else None,
                        "c99": statistics.median(r["c99"]) if r["c99"] else None, "cpu": statistics.median(r["cpu"]),
                        "recall": rec, "leaks": leaked[label]})
        print(f"(ratios: p50, p99 against unfiltered; load average {rv.load_average()})", flush=True)
        manager(app).forget_all()
        with app.app_context():
            db.engine.dispose()
    return out


def _reset_postgres(url: str) -> None:
    """A PostgreSQL bench database starts empty (the app's start then migrates it)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="rounds per asker (the table shows their medians)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent queriers (0: skip)")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=rv.CACHE, help="bench/real_vectors.py's cache")
    parser.add_argument("--dir", default=None, help="where the temporary instance goes")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL database to use (emptied!)")
    parser.add_argument("--hnsw-threshold", type=int, default=0, help="INDEX_HNSW_THRESHOLD (default: the app's)")
    parser.add_argument("--keep", metavar="DIR", help="build each size's instance in DIR/<size>-seed<seed> and "
                        "reuse it on later runs (SQLite; the 1M build takes most of an hour)")
    parser.add_argument("--build-only", action="store_true", help="with --keep: build (or check) and stop, no "
                        "measuring (build on a busy machine, measure on a quiet one)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 chunks, 12 queries, 1 round")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.queries, args.repeats = str(QUICK_SIZE), 12, 1
        args.concurrency = min(args.concurrency, 2)
    if args.build_only and not args.keep:
        parser.error("--build-only needs --keep (what it builds is kept for a later run)")
    if args.keep and args.database_url:
        parser.error("--keep keeps a SQLite instance; it does not take --database-url")
    if not args.no_wait and not args.quick and not args.build_only:
        from bench._common import wait_for_quiet

        wait_for_quiet()
    data = corpus(args.cache, args.queries, np.random.default_rng(args.seed))
    print(f"# bench.query_access: whole query with document access, {cpu_name()!r}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} "
          f"UTC, load average {rv.load_average()}")
    print(f"# data: {len(data.passages):,} passages, {'real MiniLM' if data.real else 'synthetic'} vectors, "
          f"{len(data.queries)} {'held-out real' if data.real else 'passage-span'} queries; "
          f"{args.repeats} rounds per asker")
    results = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        results += bench_size(size, data, args)
    print(f"\n(load average {rv.load_average()} at the end)")
    return results


if __name__ == "__main__":
    main()
