"""The federated query: semantic and lexical search over a workspace's vector stores, fused.

``run_query`` answers ``POST /api/v1/query`` and the console's Search page alike:

1. **Filters** (sources, types, authors, namespaces, date range) apply *inside* both searches:
   the vector search gets the allowed chunk ids (``knowledge.indexes.ChunkAttributes``), the
   lexical search has them in its SQL. A filtered query therefore still returns ``limit``
   results when that many documents match. A document's date is when it was last updated at
   its source, else created there, else stored.
2. **Quoted phrases** ("connection reset") must occur in a result: both searches are restricted
   to chunks whose text contains the phrase's words in that order (the full-text index's phrase
   match: exact words, case and punctuation aside).
3. **Semantic search**: the query is embedded (the configured model, as the chunks were) and
   each store's faiss index returns its nearest chunks (cosine).
4. **Lexical search**: SQLite FTS5 (bm25) / PostgreSQL full text (ts_rank_cd) over the chunks,
   every query word optional (OR) and phrases required; documents stored but not cut into
   chunks yet are matched word by word in their text, so a record is found lexically as soon as
   it is committed.
5. **Fusion**: each retriever's chunks are grouped by document (a document ranks by its best
   chunk) and the two rankings are fused by reciprocal rank fusion, ``sum 1 / (60 + rank)``.
   ``score`` is that sum divided by its maximum (ranked first by every retriever that ran), so
   1.0 is the best possible and scores compare within one query, not across queries.
   A candidate whose title *is* the query (case, spacing and surrounding punctuation aside)
   counts as ranked first by a third, title, ranking: a person who types a title they remember
   finds that document first, not its near twins ("TRIB Sprint 5" against "TRIB Sprint 9").

6. **Weak matches**: a result is marked weak (``metadata.ranking.weak_match``) unless it is close
   in meaning (cosine at least WEAK_MATCH_COSINE), or has more than half of the query's words, or
   holds its quoted phrases; and never strong while it lacks a word of the query that carries a
   digit (an invoice number, an error code): "invoice 1042 paid" is not answered by deals that
   are merely about money. The threshold is calibrated on the labelled set of
   tests/knowledge/test_query.py (see WEAK_MATCH_COSINE).
7. **Groups**: results from the same parent share ``metadata.group``, so a client can show them
   together: results whose URLs differ only in the ``#fragment`` (the comments of one GitHub
   issue) share the parent's URL; a connector's child record (a Confluence comment, whose URL
   differs by its query; a Pipedrive activity) takes its parent's group when the parent is among
   the results, and children of one parent whose parent is not share the best-ranked one's. A
   result without a URL or parent is a group of its own (its id). Groups are decided within one
   page of results and never look at a document the results do not hold, so they tell of no
   hidden one.

Results can be paged with ``offset``. Every query is recorded in ``query_log`` (who, when,
filters, latency, result ids), and ``reasoning`` (when asked for) says, without any language
model, what happened: the filters, what each retriever found, and why the first results of the
page rank where they do, with the score each one shows.
"""
from __future__ import annotations

import functools
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from flask import current_app
from sqlalchemy import and_, case, column, func, literal, literal_column, or_, select, table

from core.actor import Actor
from core.extensions import db
from core.ids import new_id
from core.timeutil import isoformat

from . import embedding_queue, stores
from .indexes import Filters, document_date, manager, query_threads
from .models import Chunk, Document, QueryLog, VectorStore
from .query_request import (DEFAULT_LIMIT, MAX_FILTER_VALUES, MAX_LIMIT, MAX_QUERY_CHARS,  # noqa: F401  (the
                            MAX_RESULTS, QueryParams, QueryRequest, parse)                # request, re-exported)

CHUNKS = Chunk.__table__
DOCUMENTS = Document.__table__
FTS = table("chunks_fts", column("rowid"))  # SQLite: the FTS5 index over chunks.text (migration 0003)

RRF_K = 60
# Cosine (all-MiniLM-L6-v2) from which a result counts as close in meaning. Calibrated on the
# labelled set in tests/knowledge/test_query.py, where the labelled answers found by meaning
# score 0.48-0.59 and the results of the queries that have no answer there (pizza, tax filing,
# kubernetes, "invoice 1042 paid" against CRM deals) at most 0.36: about the middle of the gap.
WEAK_MATCH_COSINE = 0.42
# Candidates each retriever hands to the fusion: enough chunks to fill `limit` documents.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 40
MAX_CANDIDATES = 400
# Chunks a quoted phrase may restrict the semantic search to.
PHRASE_ALLOWED_MAX = 50_000
# SQLite: full-text matches of the phrases (stems) the semantic search starts from; each is an
# id read from the index alone (~40 ms for 80k at 1M chunks), the exact check comes later.
PHRASE_CANDIDATES_MAX = 200_000
PENDING_DOCUMENTS_MAX = 50  # not-yet-chunked documents matched per query
SNIPPET_CHARS = 600

STOPWORDS = frozenset("""a about after all also am an and any are as at be been before but by can could did do
does doesn don't for from get got had has have he her him his how i if in into is it its just me more most
my no not now of on or our out over she so some than that the their them then there these they this to up
us very was we were what when where which who whom why will with would you your should""".split())
_WORD = re.compile(r"\w+", re.UNICODE)
_PHRASE = re.compile(r'"([^"]+)"')


# -- the request --------------------------------------------------------------------------------

# ``QueryRequest`` validates a request (the API's body, the Search form, the MCP tool's
# arguments); ``parse`` turns it into ``QueryParams``. Both live in ``knowledge.query_request``.


# -- query text ---------------------------------------------------------------------------------

@dataclass
class ParsedText:
    phrases: list[str]  # quoted, required
    terms: list[str]  # words, optional, lower-case, stop words dropped (all kept if all are)
    semantic: str  # what is embedded: the text without the quote marks


def parse_text(query: str) -> ParsedText:
    phrases = [" ".join(_WORD.findall(p)).lower() for p in _PHRASE.findall(query)]
    phrases = [p for p in dict.fromkeys(phrases) if p]
    words = [w.lower() for w in _WORD.findall(query)]
    terms = [w for w in dict.fromkeys(words) if w not in STOPWORDS] or list(dict.fromkeys(words))
    return ParsedText(phrases, terms[:32], " ".join(query.replace('"', " ").split()))


def _fts_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts5_query(text: ParsedText) -> str | None:
    """Phrases required; terms optional but scored (bm25 scores every phrase of the expression,
    so ``p AND (p OR t1 OR t2)`` requires p and ranks by p, t1 and t2)."""
    terms = [_fts_quote(t) for t in text.terms]
    phrases = [_fts_quote(p) for p in text.phrases]
    if phrases:
        required = " AND ".join(phrases)
        return f"{required} AND ({' OR '.join(phrases + terms)})" if terms else required
    return " OR ".join(terms) or None


def _pg_tsquery(text: ParsedText):
    parts = [func.plainto_tsquery("english", t) for t in text.terms]
    optional = None
    for part in parts:
        optional = part if optional is None else optional.op("||")(part)
    required = None
    for phrase in text.phrases:
        part = func.phraseto_tsquery("english", phrase)
        required = part if required is None else required.op("&&")(part)
    if required is not None:
        return required if optional is None else required.op("&&")(required.op("||")(optional))
    return optional


def _pg_exact_phrases(phrases: list[str]) -> list:
    """Both full-text indexes stem English words ("invoices" matches "invoice"), so their phrase
    match alone is not exact: each phrase's words must also appear in that order in the text,
    as whole words (case aside), checked by a regular expression on the rows the index found:
    PostgreSQL's ``~*`` here, on SQLite the app's ``REGEXP`` (``_sqlite_exact_phrases``)."""
    return [CHUNKS.c.text.op("~*")(r"\W+".join(rf"\m{word}\M" for word in phrase.split())) for phrase in phrases]


def _sqlite_exact_phrases(phrases: list[str]) -> tuple[str, list[str]]:
    """SQLite's exact-phrase conditions on ``chunks.text`` (``_pg_exact_phrases``), as SQL to
    append to a WHERE clause and its parameters: each ASCII word found by ``instr`` first
    (``_sqlite_prefilter_words``), then each phrase's regular expression."""
    words = _sqlite_prefilter_words(phrases)
    patterns = [r"\W+".join(rf"\b{re.escape(word)}\b" for word in phrase.split()) for phrase in phrases]
    return ("".join(" AND instr(lower(chunks.text), ?) > 0" for _ in words)
            + "".join(" AND chunks.text REGEXP ?" for _ in patterns)), [*words, *patterns]


def _sqlite_prefilter_words(phrases: list[str]) -> list[str]:
    """The phrases' ASCII words, each to be found in the text (SQLite's ``instr`` on its
    ``lower``, in C) before the regular expression runs (a Python call): the full-text index
    matches stems, and most of a common stem's chunks lack the exact word ("numbers": 80k chunks
    at 1M match, 11k hold the word; 1.4 s of checks -> 0.4). ``lower`` folds ASCII letters only,
    so words with other letters go to the regular expression alone; like PostgreSQL's ``~*``,
    the check then ignores the few non-ASCII letters Python folds into ASCII ones (the Kelvin
    sign, the long s)."""
    return list(dict.fromkeys(word for phrase in phrases for word in phrase.split() if word.isascii()))


# -- filters in SQL -----------------------------------------------------------------------------

def _document_conditions(filters: Filters) -> list:
    conditions = []
    if filters.sources:
        conditions.append(func.lower(DOCUMENTS.c.source).in_(filters.sources))
    if filters.types:
        conditions.append(func.lower(DOCUMENTS.c.type).in_([t.lower() for t in filters.types]))
    if filters.authors:
        conditions.append(func.lower(DOCUMENTS.c.author).in_([a.lower() for a in filters.authors]))
    if filters.namespaces:
        conditions.append(DOCUMENTS.c.namespace.in_(filters.namespaces))
    if filters.date_after is not None:
        conditions.append(document_date() >= filters.date_after)
    if filters.date_before is not None:
        conditions.append(document_date() <= filters.date_before)
    if filters.access is not None:
        from access.service import readable

        conditions.append(readable(DOCUMENTS.c.access_id, filters.access))
    return conditions


def _store_condition(store: VectorStore):
    if store.is_default:
        return and_(DOCUMENTS.c.workspace_id == store.workspace_id,
                    or_(DOCUMENTS.c.vector_store_id == store.id, DOCUMENTS.c.vector_store_id.is_(None)))
    return and_(DOCUMENTS.c.workspace_id == store.workspace_id, DOCUMENTS.c.vector_store_id == store.id)


# -- retrievers ---------------------------------------------------------------------------------

@dataclass
class Hit:
    chunk_id: int | None
    document_id: str
    score: float  # cosine (semantic) or the engine's relevance, higher is better (lexical)
    title: str | None = None  # the document's, where the retriever read it (``titled_as``)


# -- term frequency ------------------------------------------------------------------------------

# A word in more chunks than this is not distinctive, and ranking every chunk that has it costs
# time in proportion (FTS5 scores each posting: ~0.7 s for a 5-word OR query at 100k chunks when
# the words are common, ~25 ms with this cut-off, load average 7). Such words are left to the
# semantic search; the reasoning says so.
COMMON_TERM_CHUNKS = 2_000
# Lexical search scores every chunk holding any of its words, so its cost is the sum of their
# chunk counts (~3-5 us a chunk with its chunk and access lookups, SQLite, busy 2-core machine).
# Words are kept rarest first while that sum stays within this budget; the more common rest of
# the query is left to the semantic search too. Measured on bench/query_access.py's 10k real
# passages and held-out queries: the words under COMMON_TERM_CHUNKS matched 1,800 chunks at the
# median, 4,100 at p90 and 6,000 at p99 (so the slowest queries' lexical SQL cost ~3x the
# median's); with the budget at most 2,000.
LEXICAL_CHUNK_BUDGET = 2_000
_DF_TTL_SECONDS = 300.0
_df_cache: dict[tuple[str, str], tuple[float, int]] = {}  # (database, term) -> (when, chunks)


def common_terms(terms: list[str]) -> set[str]:
    """The terms found in more than COMMON_TERM_CHUNKS chunks (of any workspace: the cost is the
    length of the index's posting list)."""
    return {t for t, count in term_chunks(terms).items() if count > COMMON_TERM_CHUNKS}


def term_chunks(terms: list[str]) -> dict[str, int]:
    """How many chunks hold each term, counted up to COMMON_TERM_CHUNKS + 1 (so it is cheap), in
    one statement for the terms not cached; counts are cached for a few minutes per process."""
    dialect = db.engine.dialect.name
    database = db.engine.url.render_as_string(hide_password=True)  # one process may open several
    now = time.monotonic()
    known = {t: cached[1] for t in terms
             if (cached := _df_cache.get((database, t))) is not None and now - cached[0] <= _DF_TTL_SECONDS}
    stale = [t for t in dict.fromkeys(terms) if t not in known]
    if stale:  # a count per term, each stopping at the cut-off
        counts = []
        for term in stale:
            if dialect == "postgresql":
                inner = (select(literal_column("1")).select_from(CHUNKS)
                         .where(literal_column("chunks.tsv").op("@@")(func.plainto_tsquery("english", term))))
            else:
                inner = select(literal_column("1")).select_from(FTS).where(
                    literal_column("chunks_fts").op("MATCH")(_fts_quote(term)))
            counts.append(select(func.count()).select_from(inner.limit(COMMON_TERM_CHUNKS + 1).subquery())
                          .scalar_subquery())
        row = db.session.execute(select(*counts)).one()
        if len(_df_cache) > 50_000:
            _df_cache.clear()
        for term, count in zip(stale, row):
            known[term] = int(count or 0)
            _df_cache[(database, term)] = (now, known[term])
    return {t: known[t] for t in terms}


def over_budget(counts: dict[str, int]) -> set[str]:
    """The terms lexical search leaves to the semantic one: those past COMMON_TERM_CHUNKS, and the
    most common of the rest once their chunk counts add up to more than LEXICAL_CHUNK_BUDGET
    (the rarest term is always kept)."""
    left = {t for t, count in counts.items() if count > COMMON_TERM_CHUNKS}
    total = 0
    for position, (term, count) in enumerate(sorted(((t, c) for t, c in counts.items() if t not in left),
                                                    key=lambda item: (item[1], item[0]))):
        total += count
        if position and total > LEXICAL_CHUNK_BUDGET:
            left.add(term)
    return left


# Full-text matches the lexical search filters in memory, against the vector indexes' attributes
# (``lexical``); past this many it joins them to their documents in SQL instead. The term budget
# above keeps a query's matches near LEXICAL_CHUNK_BUDGET, so this bounds only odd cases.
LEXICAL_MEMORY_MAX = 20_000


def lexical(store_ids: list[str], text: ParsedText, filters: Filters, n: int,
            indexes: dict | None = None) -> list[Hit]:
    """The n best chunks by full-text relevance, filters inside the query.

    With ``indexes`` (store id -> its caught-up ``StoreIndex``, as the semantic search reads
    them) and no quoted phrase, the full-text index is read alone and its matches are filtered
    against the indexes' chunk attributes (``ChunkAttributes.match``): the filters and the
    asker's access lists the vector search applies, so both retrievers filter alike. Only the
    matches no index holds (chunks not embedded yet, other stores') are checked in SQL. Joining
    every match to its chunk and document row cost about three times the full-text lookup itself
    on SQLite (bench.query_access: 6.3 ms against 2.0 at 10k chunks); the answer is the same."""
    postgresql = db.engine.dialect.name == "postgresql"
    match = _pg_tsquery(text) if postgresql else _fts5_query(text)
    if match is None:
        return []
    if indexes and not text.phrases:
        hits = _lexical_in_memory(store_ids, match, filters, n, indexes)
        if hits is not None:
            return hits
    joined, conditions = _chunk_conditions(store_ids, filters)
    if postgresql:
        tsv = literal_column("chunks.tsv")
        rank = func.ts_rank_cd(tsv, match)
        query = (select(CHUNKS.c.id, CHUNKS.c.document_id, rank.label("rank")).select_from(joined)
                 .where(tsv.op("@@")(match), *_pg_exact_phrases(text.phrases), *conditions)
                 .order_by(rank.desc(), CHUNKS.c.id).limit(n))
        return [Hit(r.id, r.document_id, float(r.rank)) for r in db.session.execute(query)]
    if text.phrases:
        return _lexical_ranked_then_checked(store_ids, text, filters, n)
    fts = literal_column("chunks_fts")  # FTS5 names the table itself in MATCH and bm25()
    rank = func.bm25(fts)
    query = (select(CHUNKS.c.id, CHUNKS.c.document_id, rank.label("rank"))
             .select_from(joined.join(FTS, FTS.c.rowid == CHUNKS.c.id))
             .where(fts.op("MATCH")(match), *conditions)
             .order_by(rank, CHUNKS.c.id).limit(n))
    return [Hit(r.id, r.document_id, -float(r.rank)) for r in db.session.execute(query)]


def _lexical_ranked_then_checked(store_ids: list[str], text: ParsedText, filters: Filters, n: int) -> list[Hit]:
    """SQLite, quoted phrases: the full-text matches ranked first (the index alone), then checked
    in that order, a batch at a time, against the store, the exact phrases and the filters until
    n pass. Checking every match before ranking ran the exact check (a Python call) on each: at
    1M chunks 35k checks (0.56 s) for "name" and "path" where the best 40 were wanted.

    With words beside the phrases, the chunks that hold one of them are ranked first (``P AND
    (t1 OR t2)``: few, as the words are within the term budget), and those holding none (``P NOT
    (t1 OR t2)``: every chunk of a common phrase, 80k for "numbers" at 1M, ~0.13 s to rank) only
    when the first could be outranked: bm25 sums each phrase's part, and a phrase's part is below
    its IDF x (k1 + 1) whatever the chunk, so once n chunks that pass score above that bound, no
    chunk without the words can reach them. Both statements hold the same phrases, so their
    scores compare; every phrase and word is scored once. A word of the phrases themselves that
    the term budget kept (``run_query_page``) makes the phrases rare: one statement then."""
    cursor = db.session.connection().connection.driver_connection
    phrases = [_fts_quote(p) for p in text.phrases]
    in_phrases = {word for phrase in text.phrases for word in phrase.split()}
    inner = [_fts_quote(t) for t in text.terms if t in in_phrases and t not in text.phrases]
    outer = [_fts_quote(t) for t in text.terms if t not in in_phrases]
    if inner or not outer:  # every chunk of the phrases holds their words: one statement ranks all
        optional = " OR ".join(inner[-1:] + outer)
        match = " AND ".join(phrases + inner[:-1] + ([f"({optional})"] if optional else []))
        return _ranked_checked(cursor, store_ids, match, text.phrases, filters, n)
    required, words = " AND ".join(phrases), " OR ".join(outer)
    hits = _ranked_checked(cursor, store_ids, f"{required} AND ({words})", text.phrases, filters, n)
    if len(hits) >= n and hits[n - 1].score > _phrases_score_bound(cursor, text.phrases):
        return hits[:n]
    rest = _ranked_checked(cursor, store_ids, f"({required}) NOT ({words})", text.phrases, filters, n)
    return sorted(hits + rest, key=lambda hit: (-hit.score, hit.chunk_id))[:n]


def _ranked_checked(cursor, store_ids: list[str], match: str, phrases: list[str], filters: Filters,
                    n: int) -> list[Hit]:
    """The best n of ``match``'s full-text matches (bm25, then chunk id) that are the stores',
    hold the phrases exactly and pass the filters: ranked by the index alone, checked best
    first, a batch at a time."""
    ranked = cursor.execute("SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
                            "ORDER BY 2, 1", (match,)).fetchall()
    exact, exact_parameters = _sqlite_exact_phrases(phrases)
    document_conditions = _document_conditions(filters)
    hits: list[Hit] = []
    start, size = 0, max(2 * n, 100)
    while len(hits) < n and start < len(ranked):
        batch = ranked[start:start + size]
        start, size = start + size, min(4 * size, 5_000)
        # Each id looked up by itself: "+" keeps SQLite's planner off the store's index (with no
        # statistics it expects ~10 rows of any equality, and would walk the store's chunks).
        owners = dict(cursor.execute(
            f"SELECT id, document_id FROM chunks WHERE id IN ({','.join('?' * len(batch))}) "
            f"AND +vector_store_id IN ({','.join('?' * len(store_ids))})" + exact,
            [*(row[0] for row in batch), *store_ids, *exact_parameters]).fetchall())
        if owners and document_conditions:
            passing = set(db.session.scalars(select(DOCUMENTS.c.id).where(
                DOCUMENTS.c.id.in_(set(owners.values())), *document_conditions)))
            owners = {chunk: document for chunk, document in owners.items() if document in passing}
        hits.extend(Hit(chunk, owners[chunk], -float(rank)) for chunk, rank in batch if chunk in owners)
    return hits[:n]


def _phrases_score_bound(cursor, phrases: list[str]) -> float:
    """Above any chunk's bm25 part for ``phrases`` (FTS5's bm25: IDF x f(k1 + 1) / (f + k1(1 - b +
    b D / avgdl)) a phrase, with k1 = 1.2, IDF = ln((N - hits + 0.5) / (hits + 0.5)), at least
    1e-6; the fraction stays below k1 + 1). N is the row count FTS5 keeps in its averages record."""
    averages = cursor.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
    if averages is None:  # never written (an empty index): no bound, the caller ranks everything
        return math.inf
    rows = _varint(averages[0])
    bound = 0.0
    for phrase in phrases:
        (hits,) = cursor.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                 (_fts_quote(phrase),)).fetchone()
        bound += max(math.log((rows - hits + 0.5) / (hits + 0.5)), 1e-6) * 2.2
    return bound * (1 + 1e-9)


def _varint(data: bytes) -> int:
    """The first of SQLite's big-endian varints in ``data`` (FTS5's records are written so)."""
    value = 0
    for position, byte in enumerate(data[:9]):
        if position == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return value


def _full_text_matches(store_ids: list[str], match) -> list[tuple]:
    """(chunk id, relevance: higher is better) of every full-text match, up to one past
    LEXICAL_MEMORY_MAX; not joined to anything."""
    if db.engine.dialect.name == "postgresql":
        tsv = literal_column("chunks.tsv")
        query = (select(CHUNKS.c.id, func.ts_rank_cd(tsv, match))
                 .where(tsv.op("@@")(match), CHUNKS.c.vector_store_id.in_(store_ids)).limit(LEXICAL_MEMORY_MAX + 1))
        return [tuple(row) for row in db.session.execute(query)]
    # The driver's own cursor, in the session's transaction: SQLAlchemy's row objects cost more
    # than the full-text lookup itself for a thousand matches. bm25: lower is better.
    cursor = db.session.connection().connection.driver_connection.execute(
        "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?",
        (match, LEXICAL_MEMORY_MAX + 1))
    return cursor.fetchall()


def _chunk_conditions(store_ids: list[str], filters: Filters) -> tuple:
    """(what to select chunks from, the conditions on them) for the stores and the filters."""
    document_conditions = _document_conditions(filters)
    # Documents only when a filter needs them: each match would otherwise cost a lookup there.
    joined = CHUNKS.join(DOCUMENTS, DOCUMENTS.c.id == CHUNKS.c.document_id) if document_conditions else CHUNKS
    return joined, [CHUNKS.c.vector_store_id.in_(store_ids), *document_conditions]


def _lexical_in_memory(store_ids: list[str], match, filters: Filters, n: int, indexes: dict) -> list[Hit] | None:
    """``lexical`` over the full-text index alone, filtered by the indexes' attributes (see
    there); None when there are more than LEXICAL_MEMORY_MAX matches."""
    rows = _full_text_matches(store_ids, match)
    if len(rows) > LEXICAL_MEMORY_MAX:
        return None
    if not rows:
        return []
    matched = np.array(rows, dtype=np.float64)
    ids, scores = matched[:, 0].astype(np.int64), matched[:, 1]
    known = np.zeros(len(ids), bool)
    ok = np.zeros(len(ids), bool)
    for entry in indexes.values():
        held, matching = entry.attributes.match(ids, filters)
        known |= held
        ok |= matching
    unknown = ids[~known]
    if len(unknown):  # not embedded yet, or another store's: ask SQL
        joined, conditions = _chunk_conditions(store_ids, filters)
        for start in range(0, len(unknown), 500):
            batch = [int(i) for i in unknown[start:start + 500]]
            passed = np.fromiter(db.session.scalars(select(CHUNKS.c.id).select_from(joined)
                                                    .where(CHUNKS.c.id.in_(batch), *conditions)), np.int64)
            ok |= np.isin(ids, passed)
    order = np.lexsort((ids, -scores))  # as the SQL orders: best first, then by chunk id
    order = order[ok[order]][:n + 10]  # a few spare for chunks deleted since the index caught up
    picked = [int(i) for i in ids[order]]
    # By id alone: with the store too, SQLite may walk the store's index instead of the ids.
    owners = _owners(picked)
    hits = [Hit(i, owners[i][0], float(scores[j]), owners[i][1]) for i, j in zip(picked, order) if i in owners]
    return hits[:n]


def _owners(chunk_ids: list[int]) -> dict[int, tuple[str, str]]:
    """chunk id -> (its document's id, that document's title), for the chunks still there."""
    if not chunk_ids:
        return {}
    if db.engine.dialect.name == "sqlite":
        # The driver's own cursor (see _full_text_matches): a query's two calls cost ~1.1 ms
        # each through SQLAlchemy's expanding IN at 1M chunks, ~0.55 ms this way.
        cursor = db.session.connection().connection.driver_connection.execute(
            "SELECT chunks.id, chunks.document_id, documents.title FROM chunks "
            "JOIN documents ON documents.id = chunks.document_id "
            f"WHERE chunks.id IN ({','.join('?' * len(chunk_ids))})", [int(i) for i in chunk_ids])
        return {row[0]: (row[1], row[2]) for row in cursor}
    query = (select(CHUNKS.c.id, CHUNKS.c.document_id, DOCUMENTS.c.title)
             .select_from(CHUNKS.join(DOCUMENTS, DOCUMENTS.c.id == CHUNKS.c.document_id))
             .where(CHUNKS.c.id.in_(chunk_ids)))
    return {row[0]: (row[1], row[2]) for row in db.session.execute(query)}


def phrase_chunk_ids(store_ids: list[str], phrases: list[str]) -> np.ndarray:
    """The chunks the semantic search is restricted to by quoted phrases. On PostgreSQL, the
    chunks holding every phrase exactly. On SQLite, the full-text index's matches (stems: a
    superset, any store's), which ``semantic`` narrows to the exact ones among its nearest
    (``exact_phrase_chunks``): checking each match first cost a Python call a match (at 1M
    chunks 35k checks, ~0.45 s, for "name" and "path")."""
    text = ParsedText(phrases, [], "")
    if db.engine.dialect.name == "postgresql":
        query = (select(CHUNKS.c.id).where(CHUNKS.c.vector_store_id.in_(store_ids),
                                           literal_column("chunks.tsv").op("@@")(_pg_tsquery(text)),
                                           *_pg_exact_phrases(phrases))
                 .limit(PHRASE_ALLOWED_MAX))
        return np.fromiter(db.session.scalars(query), dtype=np.int64)
    # One string of ids parsed by numpy: a Python object a row cost 20 ms for 80k ids, this 8 ms.
    (ids,) = db.session.connection().connection.driver_connection.execute(
        "SELECT group_concat(rowid, ' ') FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
        (_fts5_query(text), PHRASE_CANDIDATES_MAX)).fetchone()
    return np.fromstring(ids, dtype=np.int64, sep=" ") if ids else np.empty(0, dtype=np.int64)


def exact_phrase_chunks(chunk_ids: list[int], phrases: list[str]) -> set[int]:
    """Which of ``chunk_ids`` hold every phrase exactly (SQLite; ``phrase_chunk_ids``)."""
    condition, parameters = _sqlite_exact_phrases(phrases)
    connection = db.session.connection().connection.driver_connection
    exact: set[int] = set()
    for start in range(0, len(chunk_ids), 5_000):  # SQLite takes at most 32,766 parameters
        batch = chunk_ids[start:start + 5_000]
        exact.update(row[0] for row in connection.execute(
            f"SELECT id FROM chunks WHERE id IN ({','.join('?' * len(batch))})" + condition, [*batch, *parameters]))
    return exact


def pending_documents(stores_: list[VectorStore], text: ParsedText, filters: Filters) -> list[Hit]:
    """Documents stored but not cut into chunks yet, matched word by word (so they are found
    lexically from their commit on), best first by the number of query words they contain."""
    words = text.phrases or text.terms
    if not words or not stores_:
        return []
    # Usually there are none: one index lookup says so before the matching is even built.
    waiting = select(DOCUMENTS.c.id).where(DOCUMENTS.c.needs_chunking.is_(True),
                                           DOCUMENTS.c.workspace_id == stores_[0].workspace_id).limit(1)
    if db.session.execute(waiting).first() is None:
        return []
    like = DOCUMENTS.c.content.ilike if db.engine.dialect.name == "postgresql" else DOCUMENTS.c.content.like
    title_like = DOCUMENTS.c.title.ilike if db.engine.dialect.name == "postgresql" else DOCUMENTS.c.title.like

    def contains(word):
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return or_(like(pattern, escape="\\"), title_like(pattern, escape="\\"))

    match = and_(*[contains(p) for p in text.phrases]) if text.phrases else or_(*[contains(t) for t in text.terms])
    # The documents with the most query words first, so a large backlog (a bulk push the index
    # worker is still cutting) does not crowd out the best match with the first ones found.
    words_found = sum((case((contains(t), 1), else_=0) for t in text.terms), literal(0))
    query = (select(DOCUMENTS.c.id, DOCUMENTS.c.title, DOCUMENTS.c.content)
             .where(DOCUMENTS.c.needs_chunking.is_(True), or_(*[_store_condition(s) for s in stores_]), match,
                    *_document_conditions(filters))
             .order_by(words_found.desc(), DOCUMENTS.c.id)
             .limit(PENDING_DOCUMENTS_MAX))
    hits = []
    for row in db.session.execute(query):
        haystack = f"{row.title}\n{row.content}".lower()
        hits.append(Hit(None, row.id, float(sum(1 for t in text.terms if t in haystack)), row.title))
    hits.sort(key=lambda h: -h.score)
    return hits


def caught_up_indexes(store_ids: list[str], notes: list[str]) -> dict:
    """store id -> its vector index, caught up with the change log, for the stores whose index is
    loaded (a note for each one still being built)."""
    found = {}
    indexes = manager()
    for store_id in store_ids:
        entry = indexes.get(store_id)
        if entry is None:
            notes.append(f"the semantic index of {store_id} is being built; lexical results only for it")
            continue
        found[store_id] = entry
    return found


def semantic_targets(store_ids: list[str], filters: Filters, phrase_ids: np.ndarray | None,
                     notes: list[str], indexes: dict | None = None) -> list[tuple]:
    """The indexes a vector search reads, caught up, each with its allowed chunk ids (the
    filters and phrases; None: every chunk): all it needs but the query's vector, so the query
    path computes it while the query is being embedded (``indexes``: ``caught_up_indexes``'
    answer, when the caller has it)."""
    targets = []
    if indexes is None:
        indexes = caught_up_indexes(store_ids, notes)
    for entry in indexes.values():
        if not len(entry.index):
            continue
        allowed = None
        if phrase_ids is not None:
            # The phrase's chunks checked against the filters one by one (an array lookup each),
            # not the filters' whole set intersected with them: for a member who may read 1M
            # chunks that intersection cost ~0.5 s (numpy's unique over both).
            allowed = phrase_ids if filters.empty else phrase_ids[entry.attributes.match(phrase_ids, filters)[1]]
        elif not filters.empty:
            allowed = entry.attributes.allowed(filters)
        if allowed is not None and not len(allowed):
            continue
        targets.append((entry, allowed))
    return targets


def semantic(store_ids: list[str], vector, filters: Filters, n: int, phrase_ids: np.ndarray | None,
             notes: list[str], targets: list[tuple] | None = None, phrases: list[str] | None = None) -> list[Hit]:
    """The n nearest chunks over the stores' indexes (filters and phrases as allowed ids;
    ``targets``: ``semantic_targets``' answer, when the caller computed it already; ``phrases``:
    the quoted phrases ``phrase_ids`` came from, checked exactly on SQLite)."""
    hits: list[tuple[int, float]] = []
    query_threads()
    if targets is None:
        targets = semantic_targets(store_ids, filters, phrase_ids, notes)
    check = phrases if phrase_ids is not None and phrases and db.engine.dialect.name == "sqlite" else None
    for entry, allowed in targets:
        k, exact, seen = n, set(), set()
        while True:
            ids, scores = entry.index.search(vector, k, allowed_ids=allowed)
            found = [(int(i), float(s)) for i, s in zip(ids, scores) if i >= 0]
            if check is None:
                hits.extend(found)
                break
            # The allowed ids are the phrases' full-text candidates: keep the exact ones, and look
            # further (4x as many) while fewer than n are and the candidates are not exhausted.
            new = [i for i, _ in found if i not in seen]
            exact |= exact_phrase_chunks(new, check)
            seen.update(new)
            if len(exact) >= n or len(found) < k or allowed is None or k >= len(allowed):
                hits.extend(h for h in found if h[0] in exact)
                break
            k = min(4 * k, len(allowed))
    hits.sort(key=lambda h: -h[1])
    hits = hits[:n]
    if not hits:
        return []
    owners = _owners([h[0] for h in hits])
    # A chunk deleted after the index's last catch-up is skipped (it is leaving the index).
    return [Hit(i, owners[i][0], s, owners[i][1]) for i, s in hits if i in owners]


# -- fusion -------------------------------------------------------------------------------------

def _by_document(hits: list[Hit]) -> dict[str, tuple[int, Hit]]:
    """document id -> (rank from 1, best hit), in order of each document's best chunk."""
    ranked: dict[str, tuple[int, Hit]] = {}
    for hit in hits:
        if hit.document_id not in ranked:
            ranked[hit.document_id] = (len(ranked) + 1, hit)
    return ranked


def fuse(rankings: dict[str, dict[str, tuple[int, Hit]]], titled: frozenset = frozenset()) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of the rankings; ``titled`` (documents whose title is the query)
    rank first in a title ranking of their own (module docstring, 5)."""
    scores: dict[str, float] = {}
    for ranked in rankings.values():
        for document_id, (rank, _) in ranked.items():
            scores[document_id] = scores.get(document_id, 0.0) + 1.0 / (RRF_K + rank)
    for document_id in titled & scores.keys():
        scores[document_id] += 1.0 / (RRF_K + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _title_key(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .,;:!?\"'()[]{}")


def titled_as(query: str, rankings: dict[str, dict[str, tuple[int, Hit]]]) -> frozenset:
    """The candidates whose title is the query (what ``_title_key`` keeps of both); titles the
    retrievers read with their hits, the others from the documents."""
    wanted = _title_key(query)
    if not wanted or len(wanted) > 500:
        return frozenset()
    titles: dict[str, str | None] = {}
    for ranked in rankings.values():
        for document_id, (_, hit) in ranked.items():
            if titles.get(document_id) is None:
                titles[document_id] = hit.title
    unread = sorted(d for d, title in titles.items() if title is None)
    for batch in [unread[i:i + 500] for i in range(0, len(unread), 500)]:
        titles.update(db.session.execute(select(DOCUMENTS.c.id, DOCUMENTS.c.title).where(DOCUMENTS.c.id.in_(batch))).all())
    return frozenset(d for d, title in titles.items() if _title_key(title or "") == wanted)


# -- results ------------------------------------------------------------------------------------

def _snippet(content: str, terms: list[str], phrases: list[str]) -> str:
    """About SNIPPET_CHARS of ``content`` around the first query word (or its beginning)."""
    if len(content) <= SNIPPET_CHARS:
        return content
    lower = content.lower()
    positions = [lower.find(w) for w in phrases + terms]
    positions = [p for p in positions if p >= 0]
    start = max(0, min(positions) - SNIPPET_CHARS // 4) if positions else 0
    start = content.rfind(" ", 0, start) + 1 if start else 0
    piece = content[start:start + SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(content) else "")


_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er")


@functools.lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    """A crude English stem, enough to tell that "refunds" answers "refund" (the indexes do the
    real stemming; this only picks the words of a result to show as matched)."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[:-len(suffix)]
    return word


def _matched(text: str, words: list[str]) -> list[str]:
    """The query's words and phrases found in ``text``, as they are written there (lower-case),
    so a highlighter can mark them: "refund" matches "refunds"."""
    tokens = _WORD.findall(text.lower())
    joined = " ".join(tokens)
    distinct = set(tokens)
    by_stem: dict[str, str] = {}
    for token in tokens:  # the first spelling of each stem, in text order
        by_stem.setdefault(_stem(token), token)
    found = []
    for word in words:
        if " " in word:
            if word in joined:
                found.append(word)
        elif word in distinct:
            found.append(word)
        elif _stem(word) in by_stem:
            found.append(by_stem[_stem(word)])
    return list(dict.fromkeys(found))


# -- the query ----------------------------------------------------------------------------------

# Threads computing query embeddings beside the SQL of their queries (one per query in flight;
# a query beyond these waits for one, as it would for the cores anyway). Each embeds on its own
# thread, not split across the model's helper threads: the query's SQL has the other core, and
# under concurrent queries every core is busy anyway (the split costs ~20 % more CPU).
EMBED_BESIDE_THREADS = 8
_embed_pool = None
_embed_pool_lock = threading.Lock()


def _embed_beside(text: str):
    """The query embedding of ``text``, started on a helper thread: a Future of the vector (its
    ``result()`` raises what ``embed_query`` raised)."""
    global _embed_pool
    from concurrent.futures import ThreadPoolExecutor

    from .embeddings import embed_query

    if _embed_pool is None:
        with _embed_pool_lock:
            if _embed_pool is None:
                _embed_pool = ThreadPoolExecutor(EMBED_BESIDE_THREADS, thread_name_prefix="query-embed")
    return _embed_pool.submit(embed_query, text, current_app.config, split=False)


def _searched_stores(actor: Actor, store_id: str | None) -> list[VectorStore]:
    """The stores a query searches: the one named, else every store of the workspace, the
    default first (created on first use). One statement when the default exists."""
    if store_id:
        return [stores.get_store(actor, store_id)]
    query = (select(VectorStore).where(VectorStore.workspace_id == actor.workspace_id)
             .order_by(VectorStore.is_default.desc(), VectorStore.name))
    searched = list(db.session.scalars(query))
    if not any(store.is_default for store in searched):
        stores.default_store(actor.workspace_id)
        db.session.commit()
        searched = list(db.session.scalars(query))
    return searched


def run_query(actor: Actor, params: QueryParams, *, via: str = "api") -> dict:
    """Answer one query (see the module docstring) and record it; returns the response body."""
    return run_query_page(actor, params, via=via)[0]


def run_query_page(actor: Actor, params: QueryParams, *, via: str = "api") -> tuple[dict, bool]:
    """``run_query``, and whether more results follow this page (for a "more results" link)."""
    from usage.service import check_limit

    check_limit(actor.workspace_id, "queries_per_day")  # the operator's limit, before any work
    started = time.perf_counter()
    text = parse_text(params.query)
    # Without the embedding model (not installed, a wrong EMBEDDING_MODEL) the query still
    # answers, from lexical search alone, and says so.
    from .embeddings import ModelUnavailable, model_status

    model = model_status()
    unavailable = None if model.available else model
    # The query's embedding runs on a helper thread while this one runs the SQL below (the
    # stores, the asker's allowed set, the lexical search): the model's matrix products and
    # SQLite / the PostgreSQL driver all release the GIL, so the two overlap on two cores.
    embedding = _embed_beside(text.semantic) if unavailable is None and text.semantic else None
    searched = _searched_stores(actor, params.vector_store_id)
    store_ids = [s.id for s in searched]
    # What the asker may read is one more filter, inside both retrievers (access.service).
    from dataclasses import replace as _replace

    from access import service as access

    filters = _replace(params.filters, access=access.allowed(actor, audit_access=params.audit_access))
    wanted = params.offset + params.limit
    n = min(MAX_CANDIDATES, max(MIN_CANDIDATES, wanted * CANDIDATE_FACTOR))
    notes: list[str] = []

    common = over_budget(term_chunks(text.terms)) if unavailable is None else set()
    keywords = text
    if common:  # left to the semantic search (see COMMON_TERM_CHUNKS)
        keywords = ParsedText(text.phrases, [t for t in text.terms if t not in common], text.semantic)
        common_note = "words too common for keyword search, left to semantic search: " + ", ".join(sorted(common))
        notes.append(common_note)
    # The vector indexes, caught up: the semantic search reads them, and the lexical one filters
    # its matches by their attributes (``lexical``), while the embedding may still be running.
    indexes, target_notes = None, []
    if embedding is not None:
        try:
            indexes = caught_up_indexes(store_ids, target_notes)
        except ModelUnavailable:  # loading an index needs the model: the embedding says why
            indexes = None
    lexical_hits = lexical(store_ids, keywords, filters, n, indexes)
    pending_hits = pending_documents(searched, text, filters)
    phrase_ids = phrase_chunk_ids(store_ids, text.phrases) if text.phrases else None
    vector = None
    semantic_hits: list[Hit] = []
    if embedding is not None:
        # A phrase no chunk holds: nothing to find by meaning. Else the indexes' allowed ids are
        # computed while the embedding may still be running.
        targets = None
        if indexes is not None and (phrase_ids is None or len(phrase_ids)):
            targets = semantic_targets(store_ids, filters, phrase_ids, target_notes, indexes)
        try:
            vector = embedding.result()
        except ModelUnavailable as exc:  # it failed to load although its files are there
            unavailable = exc.status
            if common:  # they were left to the semantic search: search them lexically after all
                notes.remove(common_note)
                keywords = text
                lexical_hits = lexical(store_ids, keywords, filters, n)
        else:
            notes.extend(target_notes)
            if targets is not None:
                semantic_hits = semantic(store_ids, vector, filters, n, phrase_ids, notes, targets, text.phrases)

    rankings = {"semantic": _by_document(semantic_hits),
                "lexical": _by_document(lexical_hits + [h for h in pending_hits
                                                        if h.document_id not in {x.document_id for x in lexical_hits}])}
    ran = 1 + (vector is not None)  # retrievers that ran: the best fused score is ran / (K + 1)
    best = ran / (RRF_K + 1)
    titled = titled_as(params.query, rankings)
    if titled:
        notes.append(f"{len(titled)} {'document has' if len(titled) == 1 else 'documents have'} the query as "
                     "title: ranked first by title too")
    everything = fuse(rankings, titled)
    fused = everything[params.offset:wanted]
    more = len(everything) > wanted and wanted < MAX_RESULTS
    default = next((s.id for s in searched if s.is_default), None)
    results = _results(fused, rankings, text, best, semantic_ran=vector is not None,
                       default_store={actor.workspace_id: default} if default else None, titled=titled)
    latency_ms = round((time.perf_counter() - started) * 1000, 1)

    candidates = {"semantic_chunks": len(semantic_hits), "semantic_documents": len(rankings["semantic"]),
                  "lexical_chunks": len(lexical_hits), "lexical_unchunked_documents": len(pending_hits),
                  "lexical_documents": len(rankings["lexical"])}
    query_id = new_id("qry")  # read back from here: after the commit ``entry.id`` would reload the row
    entry = QueryLog(id=query_id, workspace_id=actor.workspace_id, user_id=actor.user_id,
                     api_key_id=actor.id if actor.type == "api_key" else None, via=via, query=params.query,
                     filters=_filters_json(params), result_limit=params.limit,
                     result_ids=[r["id"] for r in results], candidates=candidates, latency_ms=latency_ms)
    # Audited with the query log, in its commit: added earlier, the rows would be flushed by the
    # next SELECT and hold SQLite's write lock for the whole query (8 concurrent override queries
    # then queued behind each other: p99 2.5 s against 0.6-0.8 s).
    from audit.service import record

    if params.audit_access:
        record(actor, "access.override", target_type="query", details={"query": params.query[:200]})
    # What was asked and how much came back, never what came back (that stays in query_log).
    record(actor, "query.executed", target_type="query", target_id=query_id,
           details={"via": via, "query": params.query[:200], "filters": entry.filters, "limit": params.limit,
                    "result_count": len(results)})
    db.session.add(entry)
    # The commit expires every loaded row; the reasoning reads the stores' names from plain values
    # (reloading each store was one more SELECT a query).
    searched_stores = [_Searched(s.id, s.name, s.workspace_id) for s in searched]
    db.session.commit()
    reasoning = None
    if params.include_reasoning:
        reasoning = _reasoning(params, searched_stores, keywords, candidates, results, notes, text, unavailable)
    return {"results": results, "reasoning": reasoning, "query_id": query_id, "latency_ms": latency_ms}, more


class _Searched(NamedTuple):
    """A searched store as the reasoning names it, read before the query's commit."""

    id: str
    name: str
    workspace_id: str


def _filters_json(params: QueryParams) -> dict:
    f = params.filters
    out = {"sources": list(f.sources), "types": list(f.types), "authors": list(f.authors),
           "namespaces": list(f.namespaces), "date_after": isoformat(f.date_after),
           "date_before": isoformat(f.date_before), "vector_store_id": params.vector_store_id,
           "offset": params.offset}
    return {k: v for k, v in out.items() if v}


def _digits(term: str) -> bool:
    return any(character.isdigit() for character in term)


def weak_match(text: ParsedText, matched: list[str], cosine: float | None) -> bool:
    """Whether a result answers the query only weakly (see the module docstring, 6)."""
    found = set(matched)
    stems = {_stem(m) for m in found}
    if any(_digits(term) and term not in found and _stem(term) not in stems for term in text.terms):
        return True  # the invoice number, the error code the query names is not in it
    if text.phrases:
        return False  # both searches required every quoted phrase
    if cosine is not None and cosine >= WEAK_MATCH_COSINE:
        return False
    words = [term for term in text.terms]
    have = sum(1 for term in words if term in found or _stem(term) in stems)
    return not (words and have * 2 > len(words))


def group_of(document) -> str:
    """The parent a result belongs to by its URL: its URL without the ``#fragment`` (a comment and
    its issue share it), else the document itself. ``groups`` adds connectors' parents."""
    return document.url.split("#", 1)[0] if document.url else document.id


@functools.lru_cache(maxsize=1024)
def _parent_namespaces(source: str, namespace: str) -> frozenset[str]:
    """The namespaces a connector's child document's parent may be in (its stream's ``parents``)."""
    from connectors import registry

    cls = registry.connector_classes().get(source)
    for stream in (cls.catalog.streams if cls else ()):
        if f"{source}_{stream.name}" == namespace:  # sync.engine.namespace_for
            return frozenset(f"{source}_{parent}" for parent in stream.parents)
    return frozenset()


def groups(ordered: list) -> dict[str, str]:
    """Document id -> ``metadata.group`` for the documents of one page of results, best first
    (module docstring, 7): a child takes its parent's group when the parent is in ``ordered``,
    else the group of the best-ranked child of the same parent there."""
    out = {document.id: group_of(document) for document in ordered}
    by_identity = {(d.origin_id, d.namespace, d.external_id): d for d in ordered}
    first_child: dict[tuple, str] = {}
    for document in ordered:
        if not document.parent_id or document.source == "pipeline" or "#" in (document.url or ""):
            continue
        parent = next((by_identity[key] for key in ((document.origin_id, namespace, document.parent_id)
                                                     for namespace in sorted(_parent_namespaces(document.source,
                                                                                                document.namespace)))
                       if key in by_identity), None)
        if parent is not None:
            out[document.id] = out[parent.id]
        else:
            sibling = (document.origin_id, document.namespace, document.parent_id)
            out[document.id] = first_child.setdefault(sibling, out[document.id])
    return out


def _results(fused, rankings, text: ParsedText, best: float, *, semantic_ran: bool = True,
             default_store: dict | None = None, titled: frozenset = frozenset()) -> list[dict]:
    if not fused:
        return []
    ids = [document_id for document_id, _ in fused]
    documents = {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(ids)))}
    chunk_ids = set()
    for ranked in rankings.values():
        for document_id in ids:
            hit = ranked.get(document_id)
            if hit and hit[1].chunk_id is not None:
                chunk_ids.add(hit[1].chunk_id)
    chunks = {c.id: c for c in db.session.scalars(select(Chunk).where(Chunk.id.in_(chunk_ids)))} if chunk_ids else {}
    group = groups([documents[document_id] for document_id in ids if document_id in documents])
    store_of_default = dict(default_store or {})  # workspace -> its default store's id
    results = []
    for document_id, score in fused:
        document = documents.get(document_id)
        if document is None:  # deleted meanwhile
            continue
        semantic_hit = rankings["semantic"].get(document_id)
        lexical_hit = rankings["lexical"].get(document_id)
        # The passage shown: the chunk the semantic search liked best, else the lexical one.
        chunk = None
        for hit in (semantic_hit, lexical_hit):
            if hit and hit[1].chunk_id in chunks:
                chunk = chunks[hit[1].chunk_id]
                break
        if chunk is not None and chunk.end > chunk.start:
            content = document.content[chunk.start:chunk.end]
        elif chunk is not None:
            content = chunk.text
        else:
            content = _snippet(document.content or document.title, text.terms, text.phrases)
        # Words are looked for in the passage shown and in the one the keyword search found.
        lexical_chunk = chunks.get(lexical_hit[1].chunk_id) if lexical_hit else None
        searched_text = f"{document.title}\n{content}"
        if lexical_chunk is not None and lexical_chunk is not chunk:
            searched_text += "\n" + lexical_chunk.text
        matched = _matched(searched_text, text.phrases + text.terms)
        store_id = document.vector_store_id
        if store_id is None:
            if document.workspace_id not in store_of_default:
                found = stores.find_default(document.workspace_id)
                store_of_default[document.workspace_id] = found.id if found else None
            store_id = store_of_default[document.workspace_id]
        cosine = semantic_hit[1].score if semantic_hit else None
        ranking = {"semantic_rank": semantic_hit[0] if semantic_hit else None,
                   "semantic_score": round(cosine, 4) if cosine is not None else None,
                   "lexical_rank": lexical_hit[0] if lexical_hit else None,
                   "matched_terms": matched,
                   "weak_match": weak_match(text, matched, cosine if semantic_ran else None),
                   "title_match": document_id in titled}
        metadata = {**(document.metadata_ or {}),
                    "title": document.title, "author": document.author, "type": document.type,
                    "namespace": document.namespace, "external_id": document.external_id,
                    "vector_store_id": store_id, "connection_id": document.connection_id,
                    "created_at": isoformat(document.source_created_at),
                    "updated_at": isoformat(document.source_updated_at),
                    "chunk": ({"position": chunk.position, "heading": chunk.heading, "start": chunk.start,
                               "end": chunk.end} if chunk is not None else None),
                    "group": group[document.id],
                    "ranking": ranking}
        results.append({"id": document.id, "content": content, "source": document.source,
                        "source_type": document.type, "score": round(min(1.0, score / best), 4),
                        "metadata": metadata, "url": document.url})
    return results


def explain(result: dict) -> str:
    """Why one result ranks where it does, with the score it shows (the console's per-result
    line and the reasoning's use the same words): "score 0.98: semantic rank 1 (cosine 0.57),
    lexical rank 2; matches 'database', 'connections'"."""
    ranking = result["metadata"]["ranking"]
    why = []
    if ranking["semantic_rank"]:
        why.append(f"semantic rank {ranking['semantic_rank']} (cosine {ranking['semantic_score']:.2f})")
    if ranking["lexical_rank"]:
        why.append(f"lexical rank {ranking['lexical_rank']}")
    if ranking.get("title_match"):
        why.append("its title is the query")
    line = f"score {result['score']:.2f}: " + (", ".join(why) or "no signal")
    if ranking["matched_terms"]:
        line += "; matches " + ", ".join(repr(t) for t in ranking["matched_terms"])
    if ranking.get("weak_match"):
        line += "; weak match"
    return line


def _reasoning(params: QueryParams, searched, text: ParsedText, candidates: dict, results: list[dict],
               notes: list[str], query_text: ParsedText | None = None, unavailable=None) -> str:
    f = params.filters
    applied = []
    if f.sources:
        applied.append("source in " + ", ".join(f.sources))
    if f.types:
        applied.append("type in " + ", ".join(f.types))
    if f.authors:
        applied.append("author in " + ", ".join(f.authors))
    if f.namespaces:
        applied.append("namespace in " + ", ".join(f.namespaces))
    if f.date_after:
        applied.append(f"dated on or after {isoformat(f.date_after)}")
    if f.date_before:
        applied.append(f"dated on or before {isoformat(f.date_before)}")
    lines = []
    where = (f"vector store {searched[0].name!r}" if len(searched) == 1
             else f"{len(searched)} vector stores ({', '.join(s.name for s in searched)})")
    lines.append(f"Searched {where}. Filters: {'; '.join(applied) if applied else 'none'}"
                 " (applied inside both searches).")
    if text.phrases:
        lines.append("Required phrases: " + ", ".join(f'"{p}"' for p in text.phrases) + ".")
    if unavailable is not None:
        lines.append(f"Semantic search is unavailable: {unavailable.reason}. These results come from lexical search "
                     f"only. Fix: {unavailable.fix}.")
    else:
        lines.append(f"Semantic search: {candidates['semantic_chunks']} nearest chunks from "
                     f"{candidates['semantic_documents']} documents.")
    searched_for = ", ".join(text.terms) or ("the phrases" if text.phrases else "no distinctive words")
    lexical_line = f"Lexical search for {searched_for}: {candidates['lexical_chunks']} matching chunks"
    if candidates["lexical_unchunked_documents"]:
        lexical_line += f" and {candidates['lexical_unchunked_documents']} documents not yet chunked"
    lines.append(lexical_line + f", {candidates['lexical_documents']} documents.")
    waiting = embedding_queue.backlog(searched[0].workspace_id) if searched else {}
    backlog = sum(waiting.get(store.id, 0) for store in searched)
    if backlog and unavailable is None:
        lines.append(f"{backlog} chunks are still waiting to be embedded: those are found by lexical search only.")
    lines.extend(note[0].upper() + note[1:] + "." for note in notes)
    lines.append(f"Ranked by reciprocal rank fusion: 1/({RRF_K} + rank) per search, summed; a result's score is "
                 "that sum divided by the best possible, so 1.00 means ranked first by every search that ran.")
    weak = sum(1 for result in results if result["metadata"]["ranking"].get("weak_match"))
    if weak:
        lines.append(f"{'All' if weak == len(results) else weak} of the {len(results)} results "
                     f"{'are' if weak > 1 or weak == len(results) else 'is'} weak: not close in meaning "
                     f"(cosine under {WEAK_MATCH_COSINE:.2f}) and without most of the query's words"
                     + (" or the number it names" if any(_digits(t) for t in (query_text or text).terms) else "")
                     + ".")
    for position, result in enumerate(results[:3], start=params.offset + 1):
        title = result["metadata"].get("title") or result["id"]
        lines.append(f"#{position} {title!r} ({result['source']}): {explain(result)}.")
    if not results:
        lines.append("No document matched." if not params.offset else "No more results.")
    return "\n".join(lines)


def recent_queries(workspace_id: str, limit: int = 20) -> list[QueryLog]:
    return list(db.session.scalars(select(QueryLog).where(QueryLog.workspace_id == workspace_id)
                                   .order_by(QueryLog.created_at.desc()).limit(limit)))
