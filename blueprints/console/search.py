"""The Search page: the federated query (knowledge.search) over the workspace's documents, with
filters as form controls, a highlighted passage per result and, on request, why they rank so.

The form is a plain GET, so a search is a link; htmx submits the same form, as soon as a filter or
"Why these results" changes, and swaps only the results (the page pushes the URL). The
query-string names are the query API's own, so a field named by a ValidationError's
``details.field`` is the form control of that name; its message is put in the form's words.

Results are grouped by parent (``metadata.group``: the comments of one issue under one heading),
weak matches are marked as such, and "More results" appends the next page (a link to it without
JavaScript).
"""
import re
from datetime import datetime, timezone

from flask import current_app, g, render_template, request, url_for
from markupsafe import Markup, escape

from connections import service as connections
from connectors import registry
from core.errors import NotFound, ValidationError
from core.extensions import htmx
from knowledge import stores
from knowledge import search as knowledge_search

from . import bp
from .session import login_required

PIPELINE = "pipeline"
EXCERPT_CHARS = 420  # of a result's passage shown (the passage is a whole chunk)
FILTER_FIELDS = ("sources", "types", "authors", "date_after", "date_before", "vector_store_id")
QUERY_STRING_NAMES = {"q", "limit", "offset", "include_reasoning", *FILTER_FIELDS}
MORE_TARGET = "search-more"  # the "More results" item, which the next page replaces
# The control each query field is typed in (an error's label links to it).
FIELD_INPUTS = {"query": "search-q", "sources": "search-sources", "types": "search-types",
                "authors": "search-authors", "date_after": "search-after", "date_before": "search-before",
                "vector_store_id": "search-store", "limit": "search-limit", "include_reasoning": "search-why",
                "offset": "search-limit"}
FIELD_LABELS = {"query": "Search", "sources": "Sources", "types": "Types", "authors": "Authors",
                "date_after": "Dated on or after", "date_before": "Dated on or before",
                "vector_store_id": "Vector store", "limit": "Results", "include_reasoning": "Why these results",
                "offset": "Results"}
# A refused query's message in the form's words: (field, code) -> message. Any other message gets
# the query API's field names replaced by the labels of their controls.
FORM_MESSAGES = {
    ("query", "query_required"): "Type something to search for.",
    ("query", "query_too_long"): f"Search is at most {knowledge_search.MAX_QUERY_CHARS:,} characters long.",
    ("limit", "invalid_field"): f"Results must be a whole number from 1 to {knowledge_search.MAX_LIMIT}.",
    ("offset", "invalid_field"): f"Results go no further than the first {knowledge_search.MAX_RESULTS}.",
    ("date_after", "invalid_field"): "“Dated on or after” must be a date, such as 2026-01-31.",
    ("date_before", "invalid_field"): "“Dated on or before” must be a date, such as 2026-01-31.",
    ("date_after", "invalid_date_range"): "“Dated on or after” must not be later than “Dated on or before”.",
    ("vector_store_id", "vector_store_not_found"): "That vector store does not exist (any more): choose another.",
    ("vector_store_id", "not_found"): "That vector store does not exist (any more): choose another.",
}

# In text that is already HTML-escaped: an entity (skipped whole, so a query word never matches
# inside "&lt;"), or a run of what separates two words of a phrase.
_ENTITY = r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);"
_SEPARATOR = rf"(?:[^\w&]|{_ENTITY})+"
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)


# -- the form -----------------------------------------------------------------------------------

def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _form(args) -> dict:
    """The form's values as typed (re-rendered into the controls), and the page's offset."""
    return {"q": (args.get("q") or "").strip(), "sources": args.getlist("sources"),
            "types": (args.get("types") or "").strip(), "authors": (args.get("authors") or "").strip(),
            "date_after": (args.get("date_after") or "").strip(),
            "date_before": (args.get("date_before") or "").strip(),
            "vector_store_id": args.get("vector_store_id") or "", "limit": (args.get("limit") or "").strip(),
            "offset": (args.get("offset") or "").strip(),
            "include_reasoning": bool(args.get("include_reasoning"))}


def _whole_number(text: str):
    """A number goes in as one; anything else as typed, so parse() words the error."""
    return int(text) if re.fullmatch(r"[+-]?\d{1,6}", text) else text


def in_form_words(error) -> str:
    """The message of a refused query, in the words of the form's own labels."""
    field = error.details.get("field")
    message = FORM_MESSAGES.get((field, error.code))
    if message:
        return message
    if field in ("sources", "types", "authors"):
        return f"“{FIELD_LABELS[field]}” takes at most {knowledge_search.MAX_FILTER_VALUES} values."
    message = error.message
    for name, label in FIELD_LABELS.items():
        message = re.sub(rf"\b{name}\b", f"“{label}”", message)
    return message


def _body(form: dict) -> dict:
    """The form as a query request for ``knowledge.search.parse`` (empty controls left out)."""
    body = {"query": form["q"], "include_reasoning": form["include_reasoning"]}
    lists = {"sources": [s for s in form["sources"] if s.strip()], "types": _comma_list(form["types"]),
             "authors": _comma_list(form["authors"])}
    body.update({name: values for name, values in lists.items() if values})
    for name in ("date_after", "date_before", "vector_store_id"):
        if form[name]:
            body[name] = form[name]
    if form["limit"]:
        body["limit"] = _whole_number(form["limit"])
    if form["offset"]:
        body["offset"] = _whole_number(form["offset"])
    return body


def _active_filters(form: dict) -> bool:
    return any(form[name] for name in FILTER_FIELDS)


def _groups(shown: list[dict]) -> list[dict]:
    """Results by parent, in the order of each parent's best result: the parent itself (or the
    best of its results) heads the group, the others follow it under one title."""
    groups: dict[str, list[dict]] = {}
    for result in shown:
        groups.setdefault(result["group"], []).append(result)
    out = []
    for key, members in groups.items():
        head = next((m for m in members if m["url"] and m["url"] == key), members[0])
        out.append({"key": key, "head": head, "more": [m for m in members if m is not head],
                    "weak": all(m["weak"] for m in members)})
    return out


def _source_options(form: dict) -> list[dict]:
    """The workspace's connected source types, then pipeline, then any chosen in the URL besides."""
    seen, options = set(), []

    def add(value, label):
        if value not in seen:
            seen.add(value)
            options.append({"value": value, "label": label, "checked": value in form["sources"]})

    for connector_type in sorted(connections.connector_types_in_use(g.actor), key=lambda t: _source_label(t).lower()):
        add(connector_type, _source_label(connector_type))
    add(PIPELINE, "Pipeline")
    for value in form["sources"]:
        add(value, _source_label(value))
    return options


# -- a result as shown --------------------------------------------------------------------------

def _source_label(source: str) -> str:
    if source == PIPELINE:
        return "Pipeline"
    cls = registry.connector_classes().get(source)
    return cls.catalog.display_name if cls else source


def highlight(text: str, words) -> Markup:
    """``text`` HTML-escaped, then each of ``words`` (matched terms, lower case; a phrase is
    words separated by spaces) wrapped in <mark> wherever it occurs as whole words, any case.

    Escaping comes first, so nothing in the text can become markup; the marks are the only tags.
    """
    escaped = str(escape(text))
    words = sorted({w for w in words or () if w and w.strip()}, key=len, reverse=True)
    if not words:
        return Markup(escaped)
    alternatives = "|".join(_SEPARATOR.join(re.escape(str(escape(part))) for part in word.split())
                            for word in words)
    pattern = re.compile(rf"(?P<entity>{_ENTITY})|(?<!\w)(?P<word>{alternatives})(?!\w)", re.IGNORECASE)

    def mark(match):
        return match.group(0) if match.group("entity") else f"<mark>{match.group('word')}</mark>"

    # Neighbouring words read as one marked phrase ("<mark>database connections</mark>").
    return Markup(re.sub(r"</mark>(\s+)<mark>", r"\1", pattern.sub(mark, escaped)))


def excerpt(content: str, words, size: int = EXCERPT_CHARS) -> str:
    """About ``size`` characters of ``content`` (whitespace collapsed) from a little before the
    first matched word, cut at word boundaries, with an ellipsis where text was left out."""
    text = " ".join((content or "").split())
    if len(text) <= size:
        return text
    lower = text.lower()
    found = [m.start() for w in words or () for m in [re.search(rf"(?<!\w){re.escape(w)}(?!\w)", lower)] if m]
    start = max(0, min(found) - size // 4) if found else 0
    if start:
        start = text.rfind(" ", 0, start) + 1
    end = start + size
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def _date(metadata: dict) -> datetime | None:
    value = metadata.get("updated_at") or metadata.get("created_at")
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def _shown(result: dict) -> dict:
    """What the results list draws for one result of ``run_query``."""
    metadata = result.get("metadata") or {}
    ranking = metadata.get("ranking") or {}
    words = ranking.get("matched_terms") or []
    url = result.get("url") or metadata.get("url")
    moment = _date(metadata)
    return {"id": result["id"], "source": result["source"], "source_label": _source_label(result["source"]),
            "is_pipeline": result["source"] == PIPELINE,
            "title": highlight(metadata.get("title") or metadata.get("external_id") or "Untitled", words),
            # Only web links: a pipeline may send any string as a record's url (javascript:...).
            "url": url if url and _SAFE_URL.match(url) else None,
            "author": metadata.get("author"), "type": result.get("source_type") or metadata.get("type"),
            "date": moment, "date_label": f"{moment.day} {moment:%b %Y}" if moment else None,
            "score": result.get("score"), "snippet": highlight(excerpt(result.get("content") or "", words), words),
            "weak": bool(ranking.get("weak_match")), "group": metadata.get("group") or result["id"],
            "why": knowledge_search.explain(result)}


def _backlog_notes(store_list: list[dict], chosen: str) -> list[dict]:
    """Per store with chunks (of documents the member may read) waiting to be embedded, only the
    chosen store if one is; none while embedding is unavailable (the page's notice says why)."""
    return [{"store": s, "waiting": s["embedding_backlog"]} for s in store_list
            if s["embedding_backlog"] and s["semantic_search"].get("available", True)
            and (not chosen or s["id"] == chosen)]


# -- the page -----------------------------------------------------------------------------------

@bp.get("/search")
@login_required
def search():
    """The Search page; for htmx, the results fragment alone (or the next page's results)."""
    form = _form(request.args)
    store_list = stores.list_stores(g.actor)
    answer, more, error, status = None, False, None, 200
    if form["q"]:
        try:
            answer, more = knowledge_search.run_query_page(g.actor, knowledge_search.parse(_body(form)),
                                                           via="console")
        except ValidationError as exc:
            error, status = exc, exc.status
        except NotFound as exc:  # a vector store of another workspace, or deleted since
            exc.details.setdefault("field", "vector_store_id")
            error, status = exc, exc.status
    shown = [_shown(r) for r in answer["results"]] if answer else []
    offset = int(form["offset"]) if form["offset"].isdigit() and not error else 0
    page_size = int(form["limit"]) if form["limit"].isdigit() and not error else knowledge_search.DEFAULT_LIMIT
    error_field = error.details.get("field") if error else None
    has_connections = bool(connections.connector_types_in_use(g.actor))
    context = {"form": form, "error": error, "error_field": error_field,
               "error_message": in_form_words(error) if error else None,
               "field_labels": FIELD_LABELS, "field_inputs": FIELD_INPUTS, "stores": store_list,
               "filters_active": _active_filters(form),
               "backlog_notes": _backlog_notes(store_list, form["vector_store_id"]),
               "answer": answer, "results": shown, "groups": _groups(shown), "offset": offset,
               "all_weak": bool(shown) and all(r["weak"] for r in shown),
               "names_a_number": any(character.isdigit() for character in form["q"]),
               "more_url": _canonical_url(request.args, offset=offset + page_size) if more else None,
               "more_target": MORE_TARGET, "has_connections": has_connections,
               "has_documents": any(s["document_count"] for s in store_list)}
    # A history restore after a cache miss wants the whole page back.
    fragment = htmx and not htmx.history_restore_request
    if fragment and htmx.target == MORE_TARGET:
        body = render_template("search/_more.html", **context)  # the next page, appended in place
    elif fragment:
        body = render_template("search/_results.html", **context)
    else:
        body = render_template("search/index.html", source_options=_source_options(form),
                               max_limit=knowledge_search.MAX_LIMIT, default_limit=knowledge_search.DEFAULT_LIMIT,
                               **context)
    response = current_app.make_response((body, status))
    response.vary.add("HX-Request")
    if fragment and htmx.target != MORE_TARGET:
        # The address pushed to history without the form's empty controls: a shorter link.
        response.headers["HX-Push-Url"] = _canonical_url(request.args)
    return response


def _canonical_url(args, **replace) -> str:
    kept: dict[str, list[str]] = {}
    for name, value in args.items(multi=True):
        if name in QUERY_STRING_NAMES and name not in replace and value.strip():
            kept.setdefault(name, []).append(value)
    kept.update({name: [str(value)] for name, value in replace.items() if value})
    return url_for("console.search", **kept)
