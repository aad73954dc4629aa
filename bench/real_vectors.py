"""Real MiniLM embeddings of real English text, cached for the index benchmarks, and the "derived"
vectors that stretch them to sizes too large to embed here.

    python -m bench.real_vectors                  # 20,000 passages (~14 min at ~24 chunks/s)
    python -m bench.real_vectors --n 50000        # extend the cache (embeds only the new ones)
    python -m bench.real_vectors --calibrate 1000000   # noise for 1M derived vectors, printed

Corpus. Docstrings (module, class, function) of the Python standard library and of every package
installed in this interpreter's environment, read with ``ast`` (nothing is imported, so no module
runs), the reference topics that ``pydoc`` shows (``pydoc_data``), and the long descriptions
(READMEs) in the installed distributions' METADATA, and the machine's English man pages (sections
1, 5, 7, 8, less the 16k generated pages of gcloud; roff macros stripped in Python, ``--no-man``
leaves them out). Test folders are
skipped. Each docstring or README is cut into paragraphs; paragraphs that look like
code (doctests, mostly symbols) are dropped, the rest are joined into passages of 200-1000
characters (long paragraphs are cut at sentence ends), deduplicated on their lower-cased text,
and shuffled with a fixed seed, so the first N passages are a sample of all the sources.

Queries are real text that is not in the corpus: modules and man pages whose name hashes to 0 mod
10 are held out entirely, and the queries are the summary lines (the docstring's first sentence,
25-200 characters, at least four words) of their functions and classes, and the first sentences
of the held-out man pages' first three passages -- short texts about something the corpus covers
(the same library or tool often documents the same concept elsewhere).

Cache (``--cache``, default ``bench/.cache/``, git-ignored): ``passages.jsonl`` (the whole shuffled
pool, written once: later runs and other installs keep the same order), ``vectors.npy``
(float32 ``(n, 384)``, row i = passage i), ``queries.jsonl`` and ``query_vectors.npy``,
``meta.json``. Embedding appends to ``vectors.partial.f32`` every batch, so an interrupted run
resumes where it stopped; a re-run with the same or a smaller ``--n`` does no work.

Derived vectors (``derive``): for an index larger than the real set, each extra vector is a real
vector plus gaussian noise with the real vectors' covariance (text embeddings are far from
isotropic), re-normalised; the real vectors themselves are included. The noise scale sigma is
calibrated (``calibrate``) at the same expansion ratio on the real set: from ``n_real / ratio``
real base vectors, derive ``n_real`` and pick the sigma whose nearest-neighbour structure is
closest to the real ``n_real`` vectors' -- HNSW (M=32, efConstruction 80) recall@10 at efSearch
16 and 32 and the mean cosine of the 1st and 10th neighbours of the real queries. Recall on
derived vectors is a stand-in; recall on the real vectors is the figure.

The embedder is ``knowledge.embeddings.get_embedder`` with an empty config (the packaged
all-MiniLM-L6-v2, the default thread count): no Flask app is needed. This waits while another
CPU-heavy benchmark of the project runs, also between batches (``--no-wait`` to skip that).
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import sysconfig
import time
import zlib
from email import message_from_string
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench._common import others_running, wait_for_quiet  # noqa: E402

DIM = 384
CACHE = REPO / "bench" / ".cache"
MIN_CHARS, MAX_CHARS = 200, 1000
HOLDOUT_MOD = 10


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the corpus ---------------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`\"'])")
_SKIP_PARTS = {"test", "tests", "idle_test", "testing", "__pycache__", "_vendor", "site-packages"}


def _source_roots() -> list[tuple[str, Path]]:
    paths = sysconfig.get_paths()
    stdlib = Path(paths["stdlib"])
    site = Path(paths["purelib"])
    roots = [("stdlib", stdlib)]
    if site != stdlib and site.is_dir():
        roots.append(("site", site))
    return roots


def _python_files():
    """(package, module path, file) for every .py of the stdlib and site-packages, sorted."""
    for kind, root in _source_roots():
        for file in sorted(root.rglob("*.py")):
            rel = file.relative_to(root)
            parts = rel.parts[:-1]
            if kind == "stdlib" and parts and parts[0] == "site-packages":
                continue
            if any(p in _SKIP_PARTS or p.startswith("test_") for p in parts) or rel.name.startswith("test_"):
                continue
            package = "stdlib:" + rel.parts[0].removesuffix(".py") if kind == "stdlib" else rel.parts[0].removesuffix(".py")
            yield package, str(rel.with_suffix("")).replace(os.sep, "."), file


def _looks_like_prose(paragraph: str) -> bool:
    lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
    if not lines:
        return False
    code_starts = (">>>", "...", "$ ", "::", "+--", "|", "#", "```", "..", "def ", "class ", "from ", "import ",
                   "@", "return ", "for ", "if ", "with ", "yield ", "print(")
    if sum(line.startswith(code_starts) for line in lines) > len(lines) / 4:
        return False
    text = " ".join(lines)
    letters = sum(c.isalpha() or c == " " for c in text)
    symbols = sum(c in "()[]{}=_@<>*/\\;" for c in text)
    words = re.findall(r"[A-Za-z]{2,}", text)
    return letters / max(1, len(text)) > 0.82 and symbols / max(1, len(text)) < 0.07 and len(words) >= 8


def _cut(text: str) -> list[str]:
    """A paragraph longer than MAX_CHARS, cut at sentence ends into pieces of at most MAX_CHARS."""
    pieces, current = [], ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > MAX_CHARS:  # one huge "sentence": hard cut at a space
            at = sentence.rfind(" ", 0, MAX_CHARS) if sentence.rfind(" ", 0, MAX_CHARS) > MIN_CHARS else MAX_CHARS
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:at])
            sentence = sentence[at:].strip()
        if current and len(current) + 1 + len(sentence) > MAX_CHARS:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def passages_of(doc: str) -> list[str]:
    """A docstring or README cut into prose passages of MIN_CHARS-MAX_CHARS characters."""
    out, current = [], ""
    for para in re.split(r"\n\s*\n", doc):
        if not _looks_like_prose(para):
            if len(current) >= MIN_CHARS:
                out.append(current)
            current = ""  # do not join prose across a code block
            continue
        text = _WS.sub(" ", para).strip()
        for piece in (_cut(text) if len(text) > MAX_CHARS else [text]):
            if current and len(current) + 1 + len(piece) > MAX_CHARS:
                if len(current) >= MIN_CHARS:
                    out.append(current)
                current = piece
            else:
                current = f"{current} {piece}".strip()
            if len(current) >= MIN_CHARS:
                out.append(current)
                current = ""
    if len(current) >= MIN_CHARS:
        out.append(current)
    return out


def _summary(doc: str) -> str | None:
    first = _WS.sub(" ", re.split(r"\n\s*\n", doc.strip())[0]).strip()
    first = _SENTENCE_END.split(first)[0]
    if not 25 <= len(first) <= 200 or len(re.findall(r"[A-Za-z]{2,}", first)) < 4:
        return None
    if sum(c.isalpha() or c == " " for c in first) / len(first) < 0.85:  # mostly code or symbols
        return None
    return first


def _docstrings(tree: ast.Module):
    """(kind, qualname, docstring) of the module, its classes and functions (nested too)."""
    doc = ast.get_docstring(tree)
    if doc:
        yield "module", "", doc
    stack = [(node, "") for node in tree.body]
    while stack:
        node, prefix = stack.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            doc = ast.get_docstring(node)
            if doc:
                yield ("class" if isinstance(node, ast.ClassDef) else "function"), name, doc
            stack.extend((child, name + ".") for child in node.body)


def _metadata_docs():
    """(package, long description) of each installed distribution's METADATA."""
    for _, root in _source_roots():
        for meta in sorted(root.glob("*.dist-info/METADATA")):
            try:
                msg = message_from_string(meta.read_text(errors="replace"))
            except Exception:  # noqa: BLE001 - a broken METADATA is just skipped
                continue
            body = msg.get_payload() or msg.get("Description") or ""
            if isinstance(body, str) and body.strip():
                yield (msg.get("Name") or meta.parent.name).lower(), body


_ROFF_TEXT_MACROS = {"SH", "SS", "B", "I", "BR", "IR", "RB", "RI", "BI", "IB", "SM", "SB", "TP", "IP", "Nm", "Nd",
                     "Sh", "Ss", "Ar", "Fl", "Pa", "Xr", "Em", "Dq", "Ql", "It"}
_ROFF_BREAK_MACROS = {"SH", "SS", "PP", "P", "LP", "TP", "IP", "sp", "Sh", "Ss", "Pp", "Bl", "El", "It", "nf", "Vb"}
_ROFF_ESCAPES = [(re.compile(r"\\f(\[[^]]*\]|\(..|.)"), ""), (re.compile(r"\\\*(\(..|\[[^]]*\]|.)"), ""),
                 (re.compile(r"\\\((em|en)"), " - "), (re.compile(r"\\\((lq|rq|dq)"), '"'),
                 (re.compile(r"\\\(..|\\\[[^]]*\]"), ""), (re.compile(r"\\[-e]"), "-"),
                 (re.compile(r"\\[&|^%:c]"), ""), (re.compile(r"\\ "), " "), (re.compile(r"\\s[-+]?\d"), "")]


def man_text(source: str) -> str:
    """Plain paragraphs of a man page's roff source (no roff run: macros dropped, the text of
    font/heading macros kept, paragraph macros turned into blank lines)."""
    out, skipping = [], False
    for line in source.splitlines():
        if skipping:
            skipping = line.strip() != ".."
            continue
        if line.startswith((".de", ".ig")):
            skipping = True
            continue
        if line.startswith((".", "'")):
            parts = line[1:].strip().split(None, 1)
            macro = parts[0] if parts else ""
            if macro in _ROFF_BREAK_MACROS:
                out.append("")
            if macro in _ROFF_TEXT_MACROS and len(parts) > 1:
                out.append(parts[1].replace('"', ""))
                if macro in ("SH", "SS", "Sh", "Ss"):
                    out.append("")
            continue
        if not line.strip():
            out.append("")
            continue
        for pattern, repl in _ROFF_ESCAPES:
            line = pattern.sub(repl, line)
        out.append(line)
    return "\n".join(out)


def _man_pages():
    """(page name, text) of the English man pages of sections 1, 5, 7 and 8 on this machine."""
    import gzip

    for section in ("man1", "man5", "man7", "man8"):
        folder = Path("/usr/share/man") / section
        if not folder.is_dir():
            continue
        for file in sorted(folder.iterdir()):
            try:
                raw = gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes()
            except (OSError, EOFError):
                continue
            if file.name.startswith("gcloud"):  # 16k generated pages of one CLI would swamp the rest
                continue
            text = raw.decode("utf-8", errors="replace")
            if text.startswith(".so "):  # an alias of another page
                continue
            yield file.name.removesuffix(".gz"), man_text(text)


def build_corpus(seed: int = 0, *, man: bool = True):
    """The shuffled, deduplicated passage pool and the held-out query texts."""
    pool, queries, seen, seen_q = [], [], set(), set()
    files = 0

    def add(record, text):
        key = hashlib.blake2b(_WS.sub(" ", text.lower()).encode(), digest_size=12).digest()
        if key not in seen:
            seen.add(key)
            pool.append({**record, "text": text})

    for package, module, file in _python_files():
        try:
            tree = ast.parse(file.read_bytes())
        except (SyntaxError, ValueError):
            continue
        files += 1
        held_out = zlib.crc32(module.encode()) % HOLDOUT_MOD == 0
        for kind, name, doc in _docstrings(tree):
            if held_out:
                if kind != "module" and (line := _summary(doc)) and line.lower() not in seen_q:
                    seen_q.add(line.lower())
                    queries.append({"text": line, "source": package, "origin": f"{module}:{name}"})
                continue
            for text in passages_of(doc):
                add({"source": package, "kind": kind, "origin": f"{module}:{name}"}, text)
    try:  # the Python language and library reference topics that pydoc shows
        from pydoc_data.topics import topics
    except ImportError:  # pragma: no cover - a Python built without pydoc_data
        topics = {}
    for name in sorted(topics):
        for text in passages_of(topics[name]):
            add({"source": "stdlib:pydoc_data", "kind": "reference", "origin": f"pydoc:{name}"}, text)
    for package, body in _metadata_docs():
        for text in passages_of(body):
            add({"source": package, "kind": "readme", "origin": f"{package}:METADATA"}, text)
    if man:
        for page, text in _man_pages():
            if zlib.crc32(page.encode()) % HOLDOUT_MOD == 0:  # held out: its first sentences are queries
                for passage in passages_of(text)[:3]:
                    if (line := _summary(passage)) and line.lower() not in seen_q:
                        seen_q.add(line.lower())
                        queries.append({"text": line, "source": "man", "origin": f"man:{page}"})
                continue
            for passage in passages_of(text):
                add({"source": "man", "kind": "manpage", "origin": f"man:{page}"}, passage)
    # A query whose text is also a passage is not held out: drop it.
    queries = [q for q in queries if hashlib.blake2b(_WS.sub(" ", q["text"].lower()).encode(),
                                                      digest_size=12).digest() not in seen]
    rng = np.random.default_rng(seed)
    pool = [pool[i] for i in rng.permutation(len(pool))]
    queries = [queries[i] for i in rng.permutation(len(queries))]
    return pool, queries, files


# -- the cache ----------------------------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f]


def _write_jsonl(path: Path, rows) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def load(cache: Path = CACHE, n: int | None = None):
    """(vectors (n, 384), passages, query vectors, queries) from the cache (raises if absent)."""
    vectors = np.load(cache / "vectors.npy", mmap_mode="r")
    passages = _read_jsonl(cache / "passages.jsonl")[:len(vectors)]
    qv = np.load(cache / "query_vectors.npy")
    queries = _read_jsonl(cache / "queries.jsonl")[:len(qv)]
    if n is not None:
        vectors, passages = vectors[:n], passages[:n]
    return np.array(vectors, dtype=np.float32), passages, qv.astype(np.float32), queries  # a copy: writable


def ensure(cache: Path, n: int, n_queries: int, *, seed: int = 0, batch: int = 256, wait: bool = True,
           man: bool = True) -> dict:
    """Make the cache hold at least n passage vectors and n_queries query vectors."""
    cache.mkdir(parents=True, exist_ok=True)
    meta_path = cache / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if not (cache / "passages.jsonl").is_file() or not (cache / "queries.jsonl").is_file():
        t = time.perf_counter()
        pool, queries, files = build_corpus(seed, man=man)
        _write_jsonl(cache / "passages.jsonl", pool)
        _write_jsonl(cache / "queries.jsonl", queries)
        meta.update(pool=len(pool), query_pool=len(queries), files=files, seed=seed,
                    sources=len({p["source"] for p in pool}), python=sys.version.split()[0])
        meta_path.write_text(json.dumps(meta, indent=1))
        print(f"corpus: {files:,} source files -> {len(pool):,} passages, {len(queries):,} held-out query "
              f"texts ({time.perf_counter() - t:.1f} s)", flush=True)
    pool = _read_jsonl(cache / "passages.jsonl")
    queries = _read_jsonl(cache / "queries.jsonl")
    if n > len(pool):
        print(f"only {len(pool):,} passages in the pool: embedding all of them", flush=True)
        n = len(pool)
    n_queries = min(n_queries, len(queries))

    have_q = len(np.load(cache / "query_vectors.npy", mmap_mode="r")) if (cache / "query_vectors.npy").is_file() else 0
    have = len(np.load(cache / "vectors.npy", mmap_mode="r")) if (cache / "vectors.npy").is_file() else 0
    if have >= n and have_q >= n_queries:
        print(f"cache {cache}: {have:,} passage vectors, {have_q:,} query vectors -- nothing to embed", flush=True)
        return meta

    if wait:
        wait_for_quiet(7200)
    from knowledge.embeddings import get_embedder

    embedder = get_embedder({})
    print(f"model {embedder.model_name} ({getattr(embedder, 'load_seconds', 0):.2f} s to load), "
          f"load average {load_average()}", flush=True)
    if have_q < n_queries:
        qv = embedder.embed([q["text"] for q in queries[:n_queries]])
        _save_npy(cache / "query_vectors.npy", qv)
        print(f"{len(qv):,} query vectors", flush=True)

    partial = cache / "vectors.partial.f32"
    done = np.load(cache / "vectors.npy") if have else np.empty((0, DIM), np.float32)
    if partial.is_file():  # a run that stopped: keep its whole rows beyond vectors.npy
        extra = np.fromfile(partial, dtype=np.float32)
        extra = extra[: len(extra) // DIM * DIM].reshape(-1, DIM)
        done = np.concatenate([done, extra])
        print(f"resuming after {len(done):,} vectors", flush=True)
    if len(done) < n:
        _save_npy(cache / "vectors.npy", done)  # the partial rows become the base
        partial.unlink(missing_ok=True)
        started, count, last = time.perf_counter(), 0, 0.0
        with partial.open("ab") as out:
            for start in range(len(done), n, batch):
                if wait and others_running():  # yield the machine to a benchmark that started meanwhile
                    paused = time.perf_counter()
                    wait_for_quiet(7200)
                    started += time.perf_counter() - paused
                texts = [p["text"] for p in pool[start:min(n, start + batch)]]
                out.write(embedder.embed(texts).astype(np.float32).tobytes())
                out.flush()
                count += len(texts)
                elapsed = time.perf_counter() - started
                if elapsed - last >= 30 or start + batch >= n:
                    last = elapsed
                    rate = count / elapsed
                    print(f"  {start + len(texts):,} / {n:,} embedded, {rate:.1f} passages/s, "
                          f"ETA {(n - start - len(texts)) / rate / 60:.1f} min, load average {load_average()}",
                          flush=True)
        extra = np.fromfile(partial, dtype=np.float32).reshape(-1, DIM)
        done = np.concatenate([done, extra])
        _save_npy(cache / "vectors.npy", done)
        partial.unlink()
        meta["embed_rate"] = round(count / (time.perf_counter() - started), 1)
    meta.update(model=embedder.model_name, vectors=len(done),
                query_vectors=len(np.load(cache / "query_vectors.npy", mmap_mode="r")))
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"cache {cache}: {meta['vectors']:,} passage vectors, {meta['query_vectors']:,} query vectors", flush=True)
    return meta


# -- derived vectors ----------------------------------------------------------------------------

def _noise_basis(real: np.ndarray) -> np.ndarray:
    """A (384, 384) matrix B with z @ B ~ N(0, cov(real)) / sqrt(trace) for z ~ N(0, I): unit
    expected squared norm, shaped like the real vectors' spread."""
    centred = real - real.mean(axis=0)
    cov = centred.T.astype(np.float64) @ centred / len(real)
    w, v = np.linalg.eigh(cov)
    w = np.clip(w, 0, None)
    return (np.sqrt(w / w.sum())[:, None] * v.T).astype(np.float32)


def derive(real: np.ndarray, n: int, sigma: float, *, seed: int = 0, basis: np.ndarray | None = None,
           base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n vectors: the real ones, then real[i] + sigma x covariance-shaped noise, re-normalised,
    with i cycling over the real vectors in a seeded order (every real vector gets copies). Also
    returns, for each output row, the index of the real vector it was derived from."""
    basis = _noise_basis(real) if basis is None else basis
    rng = np.random.default_rng(seed)
    m = len(real)
    out = np.empty((n, real.shape[1]), np.float32)
    origin = np.empty(n, np.int64)
    first = min(n, m)
    out[:first] = real[:first]
    origin[:first] = np.arange(first)
    order = rng.permutation(m) if base is None else base
    for start in range(first, n, 50_000):
        count = min(50_000, n - start)
        src = order[(np.arange(start, start + count) - first) % len(order)]
        block = real[src] + sigma * (rng.standard_normal((count, real.shape[1]), dtype=np.float32) @ basis)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + count] = block
        origin[start:start + count] = src
    return out, origin


def _nn_profile(x: np.ndarray, q: np.ndarray, efs=(16, 32)) -> dict:
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    D, truth = flat.search(q, 10)
    hnsw = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(x)
    out = {"cos1": float(D[:, 0].mean()), "cos10": float(D[:, 9].mean())}
    for ef in efs:
        _, got = hnsw.search(q, 10, params=faiss.SearchParametersHNSW(efSearch=ef))
        out[f"r{ef}"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got.tolist(), truth.tolist())]))
    return out


def calibrate(real: np.ndarray, queries: np.ndarray, ratio: float, *, sigmas=None, seed: int = 0,
              verbose: bool = True) -> tuple[float, list]:
    """The sigma for deriving ``ratio`` x as many vectors as there are real ones (see the module
    docstring): returns (sigma, table rows)."""
    sigmas = sigmas or (0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.4)
    m = len(real)
    bases = max(50, int(round(m / ratio)))
    basis = _noise_basis(real)
    target = _nn_profile(real, queries)
    rows = [("real", m, target)]
    best, best_err = None, float("inf")
    for sigma in sigmas:
        x, _ = derive(real[:bases], m, sigma, seed=seed, basis=basis)
        prof = _nn_profile(x, queries)
        err = (abs(prof["r16"] - target["r16"]) + abs(prof["r32"] - target["r32"])
               + abs(prof["cos1"] - target["cos1"]) + abs(prof["cos10"] - target["cos10"]))
        rows.append((f"sigma {sigma:g}", bases, prof))
        if err < best_err:
            best, best_err = sigma, err
    if verbose:
        print(f"\nnoise calibration: {m:,} vectors, real vs derived from {bases:,} real ones (ratio {ratio:g}); "
              f"HNSW M=32 efC 80, {len(queries)} real queries")
        print("| vectors | from | recall@10 ef16 | ef32 | mean cos 1st NN | 10th NN |\n| --- | --- | --- | --- | --- | --- |")
        for label, b, p in rows:
            mark = " (chosen)" if label == f"sigma {best:g}" else ""
            print(f"| {label}{mark} | {b:,} | {p['r16']:.3f} | {p['r32']:.3f} | {p['cos1']:.3f} | {p['cos10']:.3f} |")
    return best, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="passages to embed (default 20,000)")
    parser.add_argument("--queries", type=int, default=1_000, help="held-out query texts to embed")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--batch", type=int, default=256, help="passages per embed call (and per save)")
    parser.add_argument("--seed", type=int, default=0, help="corpus shuffle (only when the pool is first built)")
    parser.add_argument("--no-man", action="store_true", help="leave man pages out of the corpus (first build only)")
    parser.add_argument("--calibrate", type=int, metavar="N", help="print the noise calibration for N derived vectors")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other benchmarks to finish")
    args = parser.parse_args(argv)
    ensure(args.cache, args.n, args.queries, seed=args.seed, batch=args.batch, wait=not args.no_wait,
           man=not args.no_man)
    if args.calibrate:
        vectors, _, qv, _ = load(args.cache)
        calibrate(vectors, qv[:200], args.calibrate / len(vectors))


if __name__ == "__main__":
    main()
