"""Structure-aware chunking of documents for embedding.

``chunk_document`` cuts a document's content into chunks of at most ``max_tokens`` tokens (by
the counter it is given) and returns them in document order. Each chunk is one contiguous span
of the content: ``content[chunk.start:chunk.end] == chunk.content_text``, so a search hit can be
shown and highlighted in the raw document. ``chunk.text`` is what gets embedded: the span with a
short context prefix (the document title and the chunk's heading path) in front.

Splitting, coarse to fine. A piece that fits the budget is never cut; only a piece that does not
fit on its own is split at the next finer level, and adjacent pieces are merged up to the budget:

1. sections, at markdown headings (ATX ``#`` lines and setext ``===``/``---`` underlines).
   Consecutive whole sections are packed into one chunk while they fit (the chunk's heading is
   then their common heading path); a section too big for one chunk gets chunks of its own.
2. parts of a section: paragraphs and fenced code blocks (blank lines separate them). In a
   message thread the parts are whole messages: the runs between thematic breaks (``---``, the
   separator the GitHub connector writes between a discussion's comments) or, in a chat-like
   section, an ``author: text`` line with the lines and paragraphs that continue it.
3. lines, for line-structured paragraphs (lists with their continuation lines, tables,
   ``field: value`` dumps, JSON, code); wrapped prose goes straight to sentences.
4. sentences, 5. words, 6. runs between punctuation (long URLs, identifiers, minified JSON),
7. characters (never inside a grapheme: combining marks, emoji sequences stay whole).

A fenced code block is one piece: it is only cut (at its lines) when it alone exceeds the budget.
Heading lines travel with the first chunk of their section when they fit; they are in the
prefix of every chunk of the section anyway. When a section needs more than one chunk, each
chunk after the first starts with the tail (about ``overlap_tokens``, from a word or sentence
start, never from inside a whole code block) of the chunk before it. Chunks that start a new
section, or pack whole sections, have no overlap.

Empty content: a document with a title and no content yields one chunk holding the title
(``start == end == 0``, ``content_text == ""``), so it can still be found; a document with
neither yields no chunk.

Token counts: pass the embedding model's tokenizer as ``count_tokens`` for exact counts
(a counter that adds special tokens such as [CLS]/[SEP] is fine: its count of ``""`` is taken
as fixed overhead; a tokenizers ``Tokenizer`` loaded from tokenizer.json must have truncation
and padding turned off first). Without one, ``estimate_tokens`` is used, a conservative
approximation of the BERT-uncased WordPiece tokenizer of all-MiniLM-L6-v2 (see its docstring).
Budgets are planned from the counts of the pieces and every finished chunk is counted again as
a whole; a chunk over ``max_tokens`` (a counter that is not additive for that text) is packed
again on its own with a tighter budget, so no chunk exceeds ``max_tokens`` by the counter.

The result depends only on the arguments: no randomness, no I/O, no global state that changes
it (``estimate_tokens`` keeps a bounded cache of per-word costs, which only saves time).
"""
from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from itertools import accumulate
from operator import itemgetter
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_TOKENS = 254      # all-MiniLM-L6-v2: 256 positions less [CLS] and [SEP]
DEFAULT_OVERLAP_TOKENS = 32
MIN_MAX_TOKENS = 16

# Document types whose content is a conversation: "author: text" lines start messages there
# even when they are a minority of the lines.
THREAD_TYPES = frozenset({"discussion", "thread", "conversation", "chat", "messages", "transcript",
                          "meeting", "call", "email_thread"})

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    """One piece of a document, ready to embed.

    ``text`` is what to embed (context prefix + ``content_text``); ``start``/``end`` are
    character offsets of ``content_text`` in the document's content; ``heading`` is the heading
    path ("Setup > Install") or None; ``token_count`` is the counter's count of ``text``.
    """

    index: int
    text: str
    start: int
    end: int
    heading: str | None
    token_count: int
    content_text: str


# -- token estimate ------------------------------------------------------------------------------

# Pieces as BERT's pre-tokenizer sees them: letter runs, digit runs, and every other
# non-space character alone (punctuation and symbols split off; CJK ideographs are letters
# here but cost one token per character below, as BERT splits them one by one).
_PIECE = re.compile(r"[^\W\d_]+|\d+|\S")
_CODE_LIKE = re.compile(r"[A-Za-z0-9][._(\[=<>/:]+[A-Za-z_]|[a-z]\($")
_LATIN_WORD = re.compile(r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]+")
_CAMEL_SEGMENT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_VOWELS = "aeiouyAEIOUY"
# Mean WordPiece count of an English word by length (index = letters), rounded up from
# measurements on prose, docstrings and code identifiers (see estimate_tokens).
_ENGLISH_WORD_COST = (0, 1, 1.05, 1.15, 1.2, 1.25, 1.35, 1.4, 1.55, 1.7, 1.85, 2.05, 2.3, 2.6, 3.0,
                      3.4, 3.8)
_LONG_WORD_SLOPE = 0.4        # per letter past the table
_FOREIGN_SLOPE = 0.5          # per letter past two, for words the English vocabulary lacks
_CAPS_EXTRA = 0.5             # acronyms split more often than lower-case words
_RANDOM_COST = 0.8            # per letter of vowel-less or irregularly cased runs (ids, base64)
_DIGIT_SLOPE = 0.65           # per digit past two
_HANGUL_COST = 3.0            # a syllable decomposes into 2-3 jamo, one token each
_FOREIGN_SHARE = 0.04         # share of non-English cues at which a text counts as non-English
_CODE_SHARE = 0.5            # of the non-English extra cost that words in code always pay
_SAFETY = 1.15                # margin over the per-piece means, from the calibration
# Function words of other Latin-script languages that are not English words: their share
# tells a German or Dutch text without diacritics from English (whose words cost far less).
# Left out: those that are also English words or common in code and URLs (com, os, del, mit, est,
# den, hat, met, non, para, dos, ...).
_FOREIGN_WORDS = frozenset("""
der das und nicht ist ein eine einen dem des von zu auf auch sich werden wird wurde kann konnte oder
wenn sie ich wir ihr bei aus nach noch nur zum zur diese dieser keine kein sind haben wie als
le la les une pour pas dans que qui avec sur cette sont mais peut tous vous nous il elle
el los las una uno es se lo su al con por como pero este esta puede ser
di che della sono gli delle nel questo anche essere nao mais ao das
het een van dat niet zijn voor wordt worden ook deze naar bij uit
yang dan ini ada tidak untuk dengan itu dari akan dapat atau pada
nie sie oraz dla jak tak przez lub czy bir ve bu ile icin olarak
""".split())

_piece_costs: dict[str, tuple[float, float, int, int]] = {}
_word_costs: dict[str, tuple[float, float, int, int]] = {}
_CACHE_LIMIT = 200_000


def _english_cost(word: str) -> float:
    length = len(word)
    if length < len(_ENGLISH_WORD_COST):
        cost = _ENGLISH_WORD_COST[length]
    else:
        cost = _ENGLISH_WORD_COST[-1] + _LONG_WORD_SLOPE * (length - len(_ENGLISH_WORD_COST) + 1)
    if length >= 2 and word.isupper():
        cost += _CAPS_EXTRA
    if length >= 5 and sum(map(word.count, _VOWELS)) < 0.2 * length:
        cost = max(cost, _RANDOM_COST * length)
    return cost


def _foreign_cost(length: int) -> float:
    return 1 + max(0, length - 2) * _FOREIGN_SLOPE


def _piece_cost(piece: str) -> tuple[float, float, int, int]:
    """(cost, extra cost if the text is not English, non-English cue, Latin word)."""
    if len(piece) == 1:
        if "\uac00" <= piece <= "\ud7a3":
            return (_HANGUL_COST, 0.0, 0, 0)
        return (1.0, 0.0, 0, 1 if piece.isascii() and piece.isalpha() else 0)
    if piece[0].isdigit():
        return (1 + (len(piece) - 2) * _DIGIT_SLOPE, 0.0, 0, 0)
    if piece.isascii():
        if piece.islower() or piece.isupper() or piece.istitle():
            english = _english_cost(piece)
            gap = max(0.0, _foreign_cost(len(piece)) - english)
            return (english, gap, 1 if piece.lower() in _FOREIGN_WORDS else 0, 1)
        segments = _CAMEL_SEGMENT.findall(piece)          # camelCase: later parts are "##" pieces
        if sum(map(len, segments)) != len(piece) or len(segments) > len(piece) / 2.5:
            return (_RANDOM_COST * len(piece), 0.0, 0, 1)
        return (_english_cost(segments[0]) + sum(_foreign_cost(len(s)) for s in segments[1:]), 0.0, 0, 1)
    if _LATIN_WORD.fullmatch(piece):                          # accented: not English
        return (_foreign_cost(len(piece)), 0.0, 1 if piece.islower() else 0, 1)
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in piece)
    # Other scripts (CJK, Cyrillic, Greek, Arabic, Indic, kana, emoji): at most one token a
    # character, which is what the uncased BERT vocabulary mostly gives them.
    return (len(piece) + (_HANGUL_COST - 1) * hangul, 0.0, 0, 0)


def _word_cost(word: str) -> tuple[float, float, int, int]:
    """The cost tuple of one whitespace-free string: the sum over its pieces."""
    cost = gap = 0.0
    cue = latin = 0
    for piece in _PIECE.findall(word):
        info = _piece_costs.get(piece)
        if info is None:
            info = _piece_cost(piece)
            if len(piece) <= 40:
                if len(_piece_costs) >= _CACHE_LIMIT:
                    _piece_costs.clear()
                _piece_costs[piece] = info
        cost += info[0]
        gap += info[1]
        cue += info[2]
        latin += info[3]
    if gap and _CODE_LIKE.search(word):
        # Identifiers in code (self.canvwidth, getnframes()) are rarely dictionary words.
        cost += _CODE_SHARE * gap
        gap -= _CODE_SHARE * gap
    return (cost, gap, cue, latin)


def _word_infos(words: list[str]) -> list[tuple[float, float, int, int]]:
    get = _word_costs.get
    infos = list(map(get, words))
    if None in infos:
        for i, info in enumerate(infos):
            if info is None:
                word = words[i]
                info = get(word)                       # a repeat of a word missed earlier
                if info is None:
                    info = _word_cost(word)
                    if len(word) <= 40:
                        if len(_word_costs) >= _CACHE_LIMIT:
                            _word_costs.clear()
                        _word_costs[word] = info
                infos[i] = info
    return infos


_COST, _GAP, _CUE, _LATIN = (itemgetter(i) for i in range(4))


def _foreign_weight(infos) -> float:
    """How much of the non-English extra cost applies to a text made of these words (a single
    cue is not enough: a name or a stray word does not make a text foreign)."""
    cue = sum(map(_CUE, infos))
    return min(1.0, cue / (sum(map(_LATIN, infos)) * _FOREIGN_SHARE)) if cue > 1 else 0.0


def _estimate(text: str, weight: float | None = None) -> float:
    """``estimate_tokens`` before rounding up; with a ``weight``, that language weight instead of
    the text's own (then the estimate of a concatenation is the sum of the estimates)."""
    infos = _word_infos(text.split())
    cost = sum(map(_COST, infos))
    if weight is None:
        weight = _foreign_weight(infos)
    if weight:
        cost += weight * sum(map(_GAP, infos))
    return cost * _SAFETY


def _estimates(words: list[str], weight: float | None = None) -> list[float]:
    """The estimate of each word, with the language weight of all of them together (or the
    one given)."""
    infos = _word_infos(words)
    if weight is None:
        weight = _foreign_weight(infos)
    if weight:
        return [(info[0] + weight * info[1]) * _SAFETY for info in infos]
    return [info[0] * _SAFETY for info in infos]


def estimate_tokens(text: str) -> int:
    """Estimate the WordPiece token count of ``text`` for all-MiniLM-L6-v2 (no [CLS]/[SEP]).

    The model's tokenizer lower-cases, splits at whitespace and at every punctuation
    character, splits CJK ideographs one by one, then breaks each word into vocabulary pieces.
    The estimate follows that: every punctuation/symbol character costs 1; a digit run 1 plus
    0.65 a digit past two; an English-looking word by its length (1 up to 3 letters, 1.4 at 7,
    3.8 at 16, +0.4 a letter after), more for acronyms, for vowel-less or irregularly cased
    runs (hashes, base64: 0.8 a letter), for camelCase parts after the first and for words
    inside code (``self.canvwidth``); a word of another Latin-script language 1 + 0.5 a letter
    past two (a text counts as such by its accented words and its non-English function words,
    "und", "het", "que", ...); other scripts 1 a character (Hangul 3 a syllable). The sum is
    multiplied by 1.15 and rounded up. About 30 MB/s once its word cache is warm.

    Calibration against the real tokenizer (tokenizers 0.23 with all-MiniLM-L6-v2's
    tokenizer.json), on windows of about 254 real tokens; ratio estimate / real, min and median:
    markdown docs 1.11 / 1.40, Python docstrings 1.07 / 1.33, Python code 1.13 / 1.37, JSON
    payloads 1.13 / 1.20, CRM field dumps 1.34 / 1.39, URLs and hashes 1.26 / 1.30, German
    1.00 / 1.48, French 0.98 / 1.60, Spanish 1.24 / 1.50, Polish 0.98 / 1.24, Turkish
    1.02 / 1.22, Russian 1.11 / 1.19, Greek 1.10 / 1.20, Arabic 1.14 / 1.17, Japanese
    1.04 / 1.19, Chinese 1.03 / 1.16, Korean 1.12 / 1.60. On held-out text (Python's pydoc
    topics, other stdlib modules and translations): 1.00 / 1.32 on prose, 1.06 (p5) / 1.29 on
    code. Chunked at 254 by this estimate, English documentation holds a median of about 155
    real tokens a chunk and code about 165: it errs on the side of more tokens. Known blind
    spots: label lists in Latin-script languages without accents or function words (Dutch,
    Italian, Indonesian UI strings: down to 0.71), gibberish such as ROT13 (0.81), and small
    budgets, where one rare word weighs more (at 16 tokens a chunk can be one or two real
    tokens over). Pass the model's tokenizer as ``count_tokens`` where exact counts matter.
    """
    return math.ceil(_estimate(text) - 1e-9)


# -- markdown structure --------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_ATX = re.compile(r"[ \t]{0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*\r?$")
_SETEXT = re.compile(r"[ \t]{0,3}(={3,}|-{3,})[ \t]*\r?$")
_BREAK = re.compile(r"[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*\r?$")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+•]|\d{1,9}[.)])[ \t]+\S")
_SPEAKER = re.compile(
    r"[ \t]{0,3}(?:[-*+][ \t]+)?"              # a bullet
    r"(?:\[[^\]\n]{1,32}\][ \t]*)?"             # [10:32]
    r"(?:\*\*|__)?"
    r"([^\s:*_\[\]#>|`{}\"'][^:\n*]{0,47}?)"    # the author
    r"(?:\*\*|__)?[ \t]*(?:\([^)\n]{1,32}\)[ \t]*)?(?:\*\*|__)?"
    r":(?:\*\*|__)?[ \t]+\S")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[^a-z\s])|[。！？]+[」』”’)]*")
_WORD = re.compile(r"\S+")
_SUBWORD_END = re.compile(r"[^\w\s]+|_+")


def _is_speaker(line: str) -> bool:
    if ":" not in line:
        return False
    match = _SPEAKER.match(line)
    return bool(match) and len(match.group(1).split()) <= 4


def _structured(line: str) -> bool:
    """A line that stands on its own: list item, table row, field, indented code or JSON."""
    stripped = line.strip()
    return (bool(_LIST_ITEM.match(line)) or stripped.startswith(("|", "{", "}", "[", "]", '"', "<"))
            or line.startswith(("  ", "\t")) or _is_speaker(line))


def _mostly_structured(content: str, lines: list[tuple[int, int]]) -> bool:
    """Whether more than a fifth of the lines stand on their own (else: wrapped prose)."""
    needed = len(lines) // 5 + 1
    for ls, le in lines:
        if _structured(content[ls:le]):
            needed -= 1
            if not needed:
                return True
    return False


@dataclass
class _Block:
    kind: str          # "para", "code", "heading", "break"
    start: int
    end: int
    level: int = 0
    title: str = ""


@dataclass
class _Section:
    path: tuple[str, ...]
    head: tuple[int, int] | None          # span of its heading line(s)
    blocks: list[_Block]

    @property
    def start(self) -> int:
        return self.head[0] if self.head else self.blocks[0].start

    @property
    def end(self) -> int:
        return self.blocks[-1].end if self.blocks else self.head[1]


def _lines(content: str, start: int, end: int):
    """(line start, line end without the newline) for each line of content[start:end]."""
    pos = start
    while pos < end:
        nl = content.find("\n", pos, end)
        if nl < 0:
            yield pos, end
            return
        yield pos, nl
        pos = nl + 1


def _strip(content: str, start: int, end: int) -> tuple[int, int]:
    while start < end and content[start].isspace():
        start += 1
    while end > start and content[end - 1].isspace():
        end -= 1
    return start, end


def _parse_blocks(content: str) -> list[_Block]:
    lines = list(_lines(content, 0, len(content)))
    blocks: list[_Block] = []
    para: list[tuple[int, int]] = []

    def end_para():
        if para:
            start, end = _strip(content, para[0][0], para[-1][1])
            blocks.append(_Block("para", start, end))
            para.clear()

    i = 0
    while i < len(lines):
        ls, le = lines[i]
        line = content[ls:le]
        stripped = line.strip()
        if not stripped:
            end_para()
            i += 1
            continue
        first = stripped[0]                            # cheap dispatch before any regex
        fence = _FENCE_OPEN.match(line) if first in "`~" else None
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            end_para()
            mark = fence.group(1)
            j = i + 1
            while j < len(lines):
                close = content[lines[j][0]:lines[j][1]].strip()
                if close and close[0] == mark[0] and len(close) >= len(mark) and close == mark[0] * len(close):
                    break
                j += 1
            last = min(j, len(lines) - 1)              # an unclosed fence runs to the end
            start, end = _strip(content, ls, lines[last][1])
            blocks.append(_Block("code", start, end))
            i = last + 1
            continue
        atx = _ATX.match(line) if first == "#" else None
        if atx:
            end_para()
            start, end = _strip(content, ls, le)
            blocks.append(_Block("heading", start, end, len(atx.group(1)), " ".join((atx.group(2) or "").split())))
            i += 1
            continue
        setext = _SETEXT.match(line) if first in "=-" and para else None
        if setext and not _LIST_ITEM.match(content[para[0][0]:para[0][1]]):
            start, _ = _strip(content, para[0][0], para[-1][1])
            _, end = _strip(content, ls, le)
            heading = " ".join(content[para[0][0]:para[-1][1]].split())
            para.clear()
            blocks.append(_Block("heading", start, end, 1 if setext.group(1)[0] == "=" else 2, heading))
            i += 1
            continue
        if first in "-*_" and _BREAK.match(line):
            end_para()
            start, end = _strip(content, ls, le)
            blocks.append(_Block("break", start, end))
            i += 1
            continue
        para.append((ls, le))
        i += 1
    end_para()
    return blocks


def _parse_sections(blocks: list[_Block]) -> list[_Section]:
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    current = _Section((), None, [])
    for block in blocks:
        if block.kind != "heading":
            current.blocks.append(block)
            continue
        head_start = block.start
        if current.blocks:
            sections.append(current)
        elif current.head is not None:                 # a heading with no body: it joins this one
            head_start = current.head[0]
        while stack and stack[-1][0] >= block.level:
            stack.pop()
        stack.append((block.level, block.title))
        current = _Section(tuple(t for _, t in stack if t), (head_start, block.end), [])
    if current.blocks or current.head is not None:
        sections.append(current)
    return sections


# -- the document being chunked -------------------------------------------------------------------

class _Document:
    def __init__(self, content: str, count: TokenCounter, exact: bool, doc_type: str):
        self.content = content
        self.count = count
        self.exact = exact
        self.overhead = count("") if exact else 0
        self.thread_type = (doc_type or "").lower() in THREAD_TYPES
        self.blocks = _parse_blocks(content)
        self.block_starts = [b.start for b in self.blocks]
        self.sections = _parse_sections(self.blocks)
        self.known: dict[tuple[int, int], float] = {}
        self.weight = 0.0
        self.weights: dict[tuple[int, int], float] = {}
        self.section_parts: dict[tuple[int, int], list[tuple[int, int, str]]] = {}

    def enter(self, section: _Section) -> None:
        """Estimate the pieces of this section with the section's language weight, so that
        they add up to the estimate of any chunk made of them (the language of a section is
        taken as uniform; the final count of every chunk checks it)."""
        key = (section.start, section.end)
        if key not in self.weights:
            self.weights[key] = (0.0 if self.exact else
                                 _foreign_weight(_word_infos(self.content[section.start:section.end].split())))
        self.weight = self.weights[key]

    def tokens(self, start: int, end: int) -> float:
        """Tokens of content[start:end] (the counter's fixed overhead taken off)."""
        key = (start, end)
        tokens = self.known.get(key)
        if tokens is None:
            text = self.content[start:end]
            tokens = self.known[key] = (max(0, self.count(text) - self.overhead) if self.exact
                                        else _estimate(text, self.weight))
        return tokens

    def blocks_in(self, start: int, end: int) -> list[_Block]:
        i = max(0, bisect_right(self.block_starts, start) - 1)
        out = []
        while i < len(self.blocks) and self.blocks[i].start < end:
            if self.blocks[i].end > start:
                out.append(self.blocks[i])
            i += 1
        return out

    def prime(self, units: list[tuple[int, int, str]]) -> None:
        """Estimate many small units in one go (each is the sum over its words)."""
        if self.exact or len(units) < 16:
            return
        content = self.content
        splits = [content[s:e].split() for s, e, _ in units]
        total = list(accumulate(_estimates([w for words in splits for w in words], self.weight), initial=0.0))
        i = 0
        for (s, e, _), words in zip(units, splits):
            self.known.setdefault((s, e), total[i + len(words)] - total[i])
            i += len(words)

    def pieces(self, start: int, end: int, level: str) -> tuple[list[int], list[int], list[float]]:
        """A span with no structure left, as pieces: its words ("word") or the runs of a word
        that end at punctuation ("sub"); their starts, ends and estimated tokens."""
        content = self.content
        if level == "word":
            matches = list(_WORD.finditer(content, start, end))
            starts = list(map(re.Match.start, matches))
            ends = list(map(re.Match.end, matches))
            words = list(map(re.Match.group, matches))
        else:
            ends = sorted({m.end() for m in _SUBWORD_END.finditer(content, start, end)} | {end})
            starts = [start] + ends[:-1]
            words = [content[a:b] for a, b in zip(starts, ends)]
        return starts, ends, _estimates(words, self.weight)

    # Units are (start, end, kind) spans of the content, stripped of surrounding whitespace.

    def parts(self, section: _Section) -> list[tuple[int, int, str]]:
        """A section's body as its largest pieces: messages, paragraphs, code blocks."""
        key = (section.start, section.end)
        if key not in self.section_parts:
            self.section_parts[key] = self._parts(section)
        return self.section_parts[key]

    def _parts(self, section: _Section) -> list[tuple[int, int, str]]:
        blocks = section.blocks
        if any(b.kind == "break" for b in blocks):
            parts, run = [], []
            for block in blocks + [_Block("break", 0, 0)]:
                if block.kind != "break":
                    run.append(block)
                elif run:
                    parts.append((run[0].start, run[-1].end, "message" if len(run) > 1 else run[0].kind))
                    run = []
            return parts
        speakers, lines = [], 0
        for block in blocks:
            if block.kind != "para":
                continue
            for ls, le in _lines(self.content, block.start, block.end):
                lines += 1
                if _is_speaker(self.content[ls:le]):
                    speakers.append(ls)
        if len(speakers) >= 2 and (self.thread_type or len(speakers) >= 0.2 * lines):
            parts = []
            if blocks[0].start < speakers[0]:                  # what comes before the first author
                start, end = _strip(self.content, blocks[0].start, speakers[0])
                parts.append((start, end, "message"))
            for i, start in enumerate(speakers):
                end = speakers[i + 1] if i + 1 < len(speakers) else blocks[-1].end
                start, end = _strip(self.content, start, end)
                parts.append((start, end, "message"))
            return parts
        return [(b.start, b.end, b.kind) for b in blocks]

    def children(self, start: int, end: int, kind: str) -> list[tuple[int, int, str]] | None:
        """The next finer pieces of a unit, or None when only word-level cutting is left."""
        content = self.content
        if kind == "message":
            units = []
            i = max(0, bisect_right(self.block_starts, start) - 1)
            while i < len(self.blocks) and self.blocks[i].start < end:
                block = self.blocks[i]
                if block.end > start and block.kind != "break":
                    s, e = _strip(content, max(block.start, start), min(block.end, end))
                    if s < e:
                        units.append((s, e, block.kind))
                i += 1
            if len(units) > 1:
                return units
            kind = units[0][2] if units else "para"
        if kind == "code":
            units = [(*_strip(content, ls, le), "raw") for ls, le in _lines(content, start, end)]
            units = [u for u in units if u[0] < u[1]]
            return units if len(units) > 1 else None
        if kind == "para":
            lines = [(ls, le) for ls, le in _lines(content, start, end) if content[ls:le].strip()]
            if len(lines) > 1 and _mostly_structured(content, lines):
                groups = self._line_groups(lines)
                if len(groups) > 1:
                    return groups
            kind = "line"
        if kind == "line":
            sentences = self._sentences(start, end)
            if len(sentences) > 1:
                return sentences
        return None

    def _line_groups(self, lines: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
        """Lines, with list items and "author:" lines keeping the lines that continue them."""
        groups: list[list[int]] = []
        opener = False
        for ls, le in lines:
            line = self.content[ls:le]
            starts = bool(_LIST_ITEM.match(line)) or _is_speaker(line)
            if groups and opener and not starts and not line.lstrip().startswith("|"):
                groups[-1][1] = le
                continue
            groups.append([ls, le])
            opener = starts
        return [(*_strip(self.content, s, e), "line") for s, e in groups]

    def _sentences(self, start: int, end: int) -> list[tuple[int, int, str]]:
        out, pos = [], start
        for match in _SENTENCE_END.finditer(self.content, start, end):
            s, e = _strip(self.content, pos, match.end())
            if s < e:
                out.append((s, e, "sentence"))
            pos = match.end()
        s, e = _strip(self.content, pos, end)
        if s < e:
            out.append((s, e, "sentence"))
        return out

    def grapheme_cut(self, start: int, cut: int) -> int:
        """Move a character cut back so that it does not split a grapheme: not before a
        combining mark, a joiner, a variation selector or a skin tone, not after a joiner,
        not between the two halves of a flag."""
        content = self.content
        while start + 1 < cut < len(content):
            ch, before = content[cut], content[cut - 1]
            if (unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch in "\u200d\ufe0e\ufe0f"
                    or before == "\u200d" or "\U0001F3FB" <= ch <= "\U0001F3FF"
                    or "\U000E0020" <= ch <= "\U000E007F"):
                cut -= 1
                continue
            if _is_flag_half(ch) and _is_flag_half(before):
                run = 0
                while cut - 1 - run >= start and _is_flag_half(content[cut - 1 - run]):
                    run += 1
                if run % 2:                            # an odd run before: ch pairs with it
                    cut -= 1
                    continue
            break
        return cut


def _is_flag_half(ch: str) -> bool:
    return "\U0001F1E6" <= ch <= "\U0001F1FF"


_FINER = {"word": "sub", "sub": "char"}


class _Packer:
    """Greedy packing of one section's units into chunks of at most ``budget`` tokens.

    The chunk being filled may start with a "lead" that is not new content: the section's
    heading (first chunk) or the overlap taken from the previous chunk. A chunk with nothing
    but its lead is never emitted mid-section: the lead shrinks or goes to make room.
    """

    def __init__(self, doc: _Document, budget: float, overlap: int):
        self.doc = doc
        self.content = doc.content
        self.budget = budget
        self.overlap = overlap
        self.spans: list[tuple[int, int]] = []
        self.start: int | None = None
        self.end = 0
        self.used = 0.0
        self.fresh = False
        self.lead: str | None = None
        self.atomic: list[tuple[int, int]] = []      # code blocks taken whole into this chunk
        self.previous: tuple[int, int, list] | None = None
        self.chars_per_token = 3.0

    def pack(self, section: _Section) -> list[tuple[int, int]]:
        self.doc.enter(section)
        parts = self.doc.parts(section)
        if section.head:
            s, e = section.head
            headings = self.doc.blocks_in(s, e)
            tokens = self.doc.tokens(s, e)
            if len(headings) == 1 and tokens <= self.budget / 4:
                # One short heading: it may give way, its text is in every chunk's prefix.
                self.start, self.end, self.used, self.lead = s, e, tokens, "heading"
            else:
                # Several headings in a row (or a huge one) are content like any other line.
                parts = [(b.start, b.end, "line") for b in headings] + parts
        for start, end, kind in parts:
            self.process(start, end, kind)
        if self.fresh or (self.lead == "heading" and not self.spans):
            self.spans.append((self.start, self.end))
        return self.spans

    def pack_span(self, start: int, end: int, new: int) -> list[tuple[int, int]]:
        """Pack one span of a section (a chunk that turned out too big) on its own; what comes
        before ``new`` is the overlap it took from the chunk before it."""
        if new > start:
            lead_end = _strip(self.content, start, new)[1]
            self.previous = (start - 1, lead_end, [])
            self.start, self.end, self.used = start, lead_end, self.doc.tokens(start, lead_end)
            self.lead = "overlap"
        first = _skip_space(self.content, new, end)
        if first < end:
            self.process(first, end, "message")
        if self.fresh:
            self.spans.append((self.start, self.end))
        return self.spans

    def separator(self, start: int) -> float:
        """Tokens between the current chunk's end and ``start`` (a "---" between two parts)."""
        if self.start is None or start <= self.end or self.content[self.end:start].isspace():
            return 0.0
        return self.doc.tokens(self.end, start)

    def append(self, start: int, end: int, tokens: float, kind: str = "") -> None:
        tokens += self.separator(start)
        if self.start is None:
            self.start = start
        self.end = end
        self.used += tokens
        self.fresh = True
        self.lead = None
        if kind in ("code", "message"):                # whole code blocks: no overlap from inside
            self.atomic.extend((b.start, b.end) for b in self.doc.blocks_in(start, end)
                               if b.kind == "code" and start <= b.start and b.end <= end)

    def flush(self, allowed: float) -> None:
        self.spans.append((self.start, self.end))
        self.previous = (self.start, self.end, self.atomic)
        self.start, self.used, self.fresh, self.lead, self.atomic = None, 0.0, False, None, []
        self.take_overlap(allowed)

    def take_overlap(self, allowed: float) -> None:
        start, end, atomic = self.previous
        tail = self.tail(start, end, atomic, allowed)
        if tail is None:
            self.start, self.used, self.lead, self.atomic = None, 0.0, None, []
        else:
            self.start, self.end, self.used = tail[0], end, tail[1]
            self.lead = "overlap"
            self.atomic = [a for a in atomic if a[0] >= tail[0]]

    def make_room(self, tokens: float) -> None:
        """Make the current chunk able to take ``tokens`` more (``tokens`` <= budget)."""
        if self.fresh:
            self.flush(min(self.overlap, self.budget - tokens))
        elif self.lead == "overlap":
            self.take_overlap(self.budget - tokens)
        else:                                          # only the heading: it is in the prefix
            self.start, self.used, self.lead, self.atomic = None, 0.0, None, []

    def process(self, start: int, end: int, kind: str) -> None:
        tokens = self.doc.tokens(start, end)
        separator = self.separator(start)
        if self.used + separator + tokens <= self.budget:
            self.append(start, end, tokens, kind)
            return
        if tokens + separator <= self.budget:
            self.make_room(tokens + separator)
            self.append(start, end, tokens, kind)
            return
        if self.fresh and self.used >= self.budget / 2:
            self.flush(self.overlap)
        children = self.doc.children(start, end, kind)
        if children is None:
            self.fill(start, end, "word")
        else:
            self.doc.prime(children)
            for child in children:
                self.process(*child)

    def fill(self, start: int, end: int, level: str) -> None:
        """Cut a span with no structure left at its words (then at punctuation inside a word,
        then between characters), taking as much as fits into each chunk."""
        if level == "char":
            self.fill_characters(start, end)
            return
        doc = self.doc
        starts, ends, estimates = doc.pieces(start, end, level)
        total = list(accumulate(estimates, initial=0.0))
        i, n, stalled = 0, len(starts), False
        while i < n:
            separator = self.separator(starts[i])
            room = self.budget - self.used - separator
            # pieces i..j-1 fit by the estimates; an exact counter has the last word
            j = bisect_right(total, total[i] + room + 1e-9) - 1
            if doc.exact:
                found = self.fit(starts[i], ends, i, room, guess=max(i, j - 1))
                j, tokens = (found[0] + 1, found[1]) if found else (i, 0.0)
            else:
                tokens = total[j] - total[i]
            if j > i:
                self.append(starts[i], ends[j - 1], tokens)
                i, stalled = j, False
                continue
            piece = doc.tokens(starts[i], ends[i]) if doc.exact else estimates[i]
            if piece + separator > self.budget:
                if self.fresh and self.used >= self.budget / 2:
                    self.flush(self.overlap)
                self.fill(starts[i], ends[i], _FINER[level])
                i += 1
            elif stalled:                              # cannot happen; never loop on it
                if self.fresh:
                    self.flush(0)
                self.start, self.used, self.lead, self.atomic = None, 0.0, None, []
            else:
                self.make_room(piece + separator)
                stalled = True

    def fill_characters(self, start: int, end: int) -> None:
        doc = self.doc
        cuts = range(start + 1, end + 1)
        pos = start
        while pos < end:
            first = pos - start
            separator = self.separator(pos)
            found = self.fit(pos, cuts, first, self.budget - self.used - separator)
            if found is None:
                one = doc.tokens(pos, pos + 1)
                if one + separator <= self.budget:
                    self.make_room(one + separator)
                    continue
                # a single character over the whole budget: it has to go alone
                if self.fresh:
                    self.flush(0)
                self.start, self.used, self.lead, self.atomic = None, 0.0, None, []
                cut, tokens = pos + 1, one
            else:
                cut, tokens = cuts[found[0]], found[1]
                adjusted = doc.grapheme_cut(pos, cut)
                if adjusted != cut:
                    cut, tokens = adjusted, doc.tokens(pos, adjusted)
            self.append(pos, cut, tokens)
            self.chars_per_token = 0.5 * self.chars_per_token + 0.5 * (cut - pos) / max(tokens, 1.0)
            pos = cut
            if pos < end:
                # The rest of this word goes to the next chunk: two parts of one word do not
                # count as their sum (a word's pieces depend on all of it).
                self.flush(0)

    def fit(self, pos: int, cuts, first: int, room: float, guess: int | None = None) -> tuple[int, float] | None:
        """The furthest k such that content[pos:cuts[k]] fits in ``room`` tokens, with its
        count, or None: a galloping search from a guess (by default from the running
        characters-per-token ratio)."""
        if room <= 0:
            return None
        tokens = self.doc.tokens
        last = len(cuts) - 1
        known: dict[int, float] = {}

        def fits(k: int) -> bool:
            if k not in known:
                known[k] = tokens(pos, cuts[k])
            return known[k] <= room

        if guess is None:
            guess = bisect_right(cuts, pos + int(room * self.chars_per_token)) - 1
        guess = min(last, max(first, guess))
        if fits(guess):
            low, step = guess, 1
            while True:
                probe = low + step
                if probe >= last:
                    if fits(last):
                        return last, known[last]
                    high = last
                    break
                if fits(probe):
                    low, step = probe, step * 2
                else:
                    high = probe
                    break
        else:
            if guess == first:
                return None
            high, step = guess, 1
            while True:
                probe = high - step
                if probe <= first:
                    if not fits(first):
                        return None
                    low = first
                    break
                if fits(probe):
                    low = probe
                    break
                high, step = probe, step * 2
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        return low, known[low]

    def tail(self, start: int, end: int, atomic: list, allowed: float) -> tuple[int, float] | None:
        """Where the overlap copied from chunk [start, end) begins: the earliest word start
        whose tail fits in ``allowed`` tokens (a sentence or line start if one is close),
        never inside a code block taken whole."""
        if allowed < 1:
            return None
        content = self.doc.content
        window = max(start + 1, end - int(allowed * 8) - 8)
        words = list(_WORD.finditer(content, window, end))
        if words and words[0].start() == window and not content[window - 1].isspace():
            del words[0]                               # the window began inside a word
        if not words:
            return None
        estimates = _estimates([m.group() for m in words], self.doc.weight)
        suffix = list(accumulate(reversed(estimates)))[::-1]   # suffix[i]: words i.. to the end
        allowed_start = [not any(a < m.start() < b for a, b in atomic) for m in words]
        i = next((k for k, size in enumerate(suffix) if size <= allowed and allowed_start[k]), None)
        if i is None:
            return None
        for k in range(i, len(words)):
            if allowed_start[k] and _starts_sentence(content, words[k].start()):
                if suffix[k] >= allowed / 3:
                    i = k
                break
        tokens = self.doc.tokens(words[i].start(), end) if self.doc.exact else suffix[i]
        while tokens > allowed:                        # the estimate was low for this counter
            i += 1
            while i < len(words) and not allowed_start[i]:
                i += 1
            if i == len(words):
                return None
            tokens = self.doc.tokens(words[i].start(), end)
        return words[i].start(), tokens


def _skip_space(content: str, pos: int, end: int) -> int:
    while pos < end and content[pos].isspace():
        pos += 1
    return pos


def _starts_sentence(content: str, pos: int) -> bool:
    before = pos - 1
    while before >= 0 and content[before].isspace():
        if content[before] == "\n":
            return True
        before -= 1
    return before < 0 or content[before] in ".!?:;。！？"


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return a[:n]


# -- the entry point -----------------------------------------------------------------------------

def chunk_document(*, title: str, content: str, doc_type: str, max_tokens: int = DEFAULT_MAX_TOKENS,
                   overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
                   count_tokens: TokenCounter | None = None) -> list[Chunk]:
    """Cut a document into chunks to embed; see the module docstring for the rules.

    ``count_tokens(text) -> int`` counts tokens the way the embedding model will (default:
    ``estimate_tokens``). ``max_tokens`` bounds ``count_tokens(chunk.text)`` for every chunk;
    the context prefix takes at most a quarter of it (a longer title or heading path is
    shortened). ``overlap_tokens`` is at most half of what is left for content.
    """
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {MIN_MAX_TOKENS} (got {max_tokens})")
    if overlap_tokens < 0:
        raise ValueError(f"overlap_tokens must not be negative (got {overlap_tokens})")
    content = content or ""
    count = count_tokens or estimate_tokens
    title_line = " ".join((title or "").split())
    if not content.strip():
        if not title_line:
            return []
        text = _shorten(title_line, max_tokens, count)
        return [Chunk(0, text, 0, 0, None, count(text), "")]

    doc = _Document(content, count, count_tokens is not None, doc_type)
    prefixes = _Prefixes(title_line, max_tokens, count, doc.overhead)
    first = _skip_space(content, 0, len(content))
    bare_start = first if title_line and _opens_with(content, first, title_line) else None

    def budget(path: tuple[str, ...], reduction: float) -> float:
        return max(1.0, max_tokens - doc.overhead - prefixes.tokens(path) - reduction)

    counted: dict[tuple[int, int, tuple[str, ...]], tuple[str, int]] = {}

    def final(start: int, end: int, path: tuple[str, ...]) -> tuple[str, int]:
        """A chunk's text and its count, the number every chunk is checked against."""
        key = (start, end, path)
        if key not in counted:
            text = prefixes.text(path, start == bare_start) + content[start:end]
            counted[key] = (text, count(text))
        return counted[key]

    def over(spans: list[tuple[int, int, tuple[str, ...]]]) -> int:
        return max(final(*span)[1] for span in spans) - max_tokens

    def repair(start: int, end: int, path: tuple[str, ...], new: int) -> list[tuple[int, int, tuple[str, ...]]]:
        """The chunk [start, end), or, when its whole count is over (a counter that is not
        additive for this text, or a section whose languages mix), the same span packed again
        with a tighter budget. Its content before ``new`` repeats the previous chunk."""
        excess = final(start, end, path)[1] - max_tokens
        if excess <= 0 or end - start <= 1:
            return [(start, end, path)]
        reduction = float(excess)
        while True:
            size = budget(path, reduction)
            parts = _Packer(doc, size, min(overlap_tokens, int(size // 2))).pack_span(start, end, new)
            if parts != [(start, end)]:
                break
            if size <= 1:                      # nothing smaller to make (cannot happen with a
                return [(start, end, path)]    # counter that counts a character as a few tokens)
            reduction *= 2
        out = []
        for a, b in parts:
            out.extend(repair(a, b, path, max(a, new if not out else out[-1][1])))
        return out

    spans: list[tuple[int, int, tuple[str, ...]]] = []
    for kind, sections in _segments(doc, budget):
        if kind == "group":
            path = sections[0].path
            for section in sections[1:]:
                path = _common(path, section.path)
            group = [(sections[0].start, sections[-1].end, path)]
            if over(group) <= 0:
                spans.extend(group)
                continue
            # The counter is not additive for this text after all: pack its sections one by one.
        for section in sections:
            size = budget(section.path, 0.0)
            previous_end = 0
            for start, end in _Packer(doc, size, min(overlap_tokens, int(size // 2))).pack(section):
                spans.extend(repair(start, end, section.path, max(start, previous_end)))
                previous_end = end

    # A chunk split by the repair may end inside the overlap the next chunk starts with: its
    # last parts are then wholly inside that next chunk and add nothing.
    kept: list[tuple[int, int, tuple[str, ...]]] = []
    for span in spans:
        while kept and kept[-1][0] >= span[0] and kept[-1][1] <= span[1]:
            kept.pop()
        kept.append(span)

    chunks = []
    for index, (start, end, path) in enumerate(kept):
        text, tokens = final(start, end, path)
        chunks.append(Chunk(index, text, start, end, " > ".join(path) or None, tokens, content[start:end]))
    return chunks


def _segments(doc: _Document, budget):
    """Runs of whole sections that fit one chunk together ("group"), and sections that need
    chunks of their own ("split")."""
    group: list[_Section] = []
    used = 0.0
    path: tuple[str, ...] = ()
    for section in doc.sections:
        limit = budget(section.path, 0.0)
        if section.end - section.start > limit * 40:
            tokens = math.inf                   # far too long for one chunk: no need to count
        else:
            doc.enter(section)
            tokens = (doc.tokens(*section.head) if section.head else 0.0) + sum(
                doc.tokens(start, end) for start, end, _ in doc.parts(section)) + sum(
                doc.tokens(b.start, b.end) for b in section.blocks if b.kind == "break")
        if group:
            common = _common(path, section.path)
            if used + tokens <= budget(common, 0.0):
                group.append(section)
                used += tokens
                path = common
                continue
            yield "group", group
            group = []
        if tokens <= limit:
            group, used, path = [section], tokens, section.path
        else:
            yield "split", [section]
    if group:
        yield "group", group


class _Prefixes:
    """The context put before a chunk's content: title and heading path, at most a quarter
    of the chunk's tokens."""

    def __init__(self, title: str, max_tokens: int, count: TokenCounter, overhead: int):
        self.title = title
        self.limit = max_tokens // 4
        self.count = count
        self.overhead = overhead
        self.cache: dict[tuple[tuple[str, ...], bool], tuple[str, int]] = {}

    def _get(self, path: tuple[str, ...], with_title: bool) -> tuple[str, int]:
        key = (path, with_title)
        if key not in self.cache:
            lines = ([self.title] if self.title and with_title else []) + ([" > ".join(path)] if path else [])
            if not lines:
                self.cache[key] = ("", 0)
            else:
                body = _shorten("\n".join(lines), self.limit + self.overhead, self.count)
                text = body + "\n\n"
                self.cache[key] = (text, max(0, self.count(text) - self.overhead))
        return self.cache[key]

    def text(self, path: tuple[str, ...], bare: bool = False) -> str:
        return self._get(path, not bare)[0]

    def tokens(self, path: tuple[str, ...]) -> int:
        return self._get(path, True)[1]


def _shorten(text: str, limit: int, count: TokenCounter) -> str:
    """``text`` cut at a word (or, for one long word, a character) to count at most ``limit``."""
    if count(text) <= limit:
        return text
    words = [m.end() for m in _WORD.finditer(text)]
    cuts = words if len(words) > 1 else list(range(1, len(text) + 1))
    low, high = 0, len(cuts) - 1                    # largest cut whose text + "…" fits
    while low < high:
        middle = (low + high + 1) // 2
        if count(text[:cuts[middle]] + "…") <= limit:
            low = middle
        else:
            high = middle - 1
    shortened = text[:cuts[low]] + "…"
    while len(shortened) > 1 and count(shortened) > limit:
        shortened = shortened[:-2] + "…"
    return shortened


def _opens_with(content: str, first: int, title: str) -> bool:
    """Whether the content starts with the title (a post titled by its own first words)."""
    head = title.rstrip("…").rstrip(" .")
    if len(head) < 8:
        return False
    return " ".join(content[first:first + 2 * len(title) + 40].split()).startswith(head)
