"""core.strict_json: the one parser of request bodies, and core.text: the one rule for names."""
import json

import pytest

from core import strict_json
from core.errors import ValidationError
from core.text import check_name, unsafe_character


def code_of(raw) -> str:
    with pytest.raises(ValidationError) as raised:
        strict_json.loads(raw)
    return raised.value.code


@pytest.mark.parametrize("raw", [b'{"a": [1, 2.5, -0.0, 1e308, "x", null, true]}', b"[]", b"{}", b'"text"', b"3",
                                 b'{"emoji": "\\ud83d\\ude80", "raw": "\xf0\x9f\x9a\x80"}',
                                 b'{"escaped backslash then u": "\\\\ud800", "and NUL text": "\\\\u0000"}',
                                 b'{"brackets in strings": "[[[[{{{{", "quote": "\\"[[["}'])
def test_ordinary_json_reads_as_json_does(raw):
    assert strict_json.loads(raw) == json.loads(raw)


def test_utf16_bodies_still_parse():
    raw = json.dumps({"name": "Zoë"}).encode("utf-16")
    assert strict_json.loads(raw) == {"name": "Zoë"}


@pytest.mark.parametrize("raw, code", [
    (b"{", "invalid_json"), (b"", "invalid_json"), (b"\xff\xfe\xfd", "invalid_json"),
    (b'"\xed\xa0\x80"', "invalid_json"),  # a surrogate encoded in UTF-8 bytes: not UTF-8
    (b"NaN", "invalid_number"), (b'{"a": [Infinity]}', "invalid_number"), (b"-1e400", "invalid_number"),
    (b'"\\ud800"', "invalid_string"), (b'["ok", "\\udc00"]', "invalid_string"),
    (b'"\\ud800\\ud800"', "invalid_string"),  # two highs are no pair
    (b'"\\ude00\\ud83d"', "invalid_string"),  # low before high
    (b'"\\\\\\ud800"', "invalid_string"),  # an escaped backslash, then a real escape
    (b'{"k\\u0000": 1}', "invalid_string"), (b'"\\u0000"', "invalid_string"),
    (b"[" * 65 + b"]" * 65, "json_too_deep"), (b"[" * 5000 + b"]" * 5000, "json_too_deep"),
    (b"[" * 200_000 + b"]" * 200_000, "json_too_deep"),
])
def test_what_nothing_behind_the_parser_can_hold_is_refused(raw, code):
    assert code_of(raw) == code


def test_depth_counts_structure_not_brackets_in_strings():
    assert strict_json.loads(b"[" * 64 + b"]" * 64) is not None
    inside = json.dumps({"s": "[" * 500, "t": "\\" + '"' + "{" * 100})
    assert strict_json.loads(inside.encode())["s"] == "[" * 500


def test_a_bad_string_is_named_by_its_json_pointer():
    with pytest.raises(ValidationError) as raised:
        strict_json.loads(b'{"operations": [{"id": "a"}, {"m/x": {"t~y": ["ok", "\\ud800"]}}]}')
    assert raised.value.details == {"pointer": "/operations/1/m~1x/t~0y/1"}


@pytest.mark.parametrize("text, character", [
    ("a\x00", "U+0000"), ("a\x1b[31m", "U+001B"), ("\x9bx", "U+009B"), ("a\u2028b", "U+2028"),
    ("a\u061cb", "U+061C"), ("a\u200eb", "U+200E"), ("a\u202ab", "U+202A"), ("a\u202db", "U+202D"),
    ("a\u2068b", "U+2068"), ("a\ud800", "U+D800")])
def test_the_names_rule_names_the_character(text, character):
    assert unsafe_character(text) == character
    with pytest.raises(ValidationError) as raised:
        check_name(text, "name")
    assert raised.value.details == {"field": "name", "character": character}


@pytest.mark.parametrize("text", ["Acme", "a b", "👩\u200d💻", "می\u200cخواهم", "עברית", "x\u00a0y", "zero\u200bwidth"])
def test_the_names_rule_allows_every_script(text):
    assert unsafe_character(text) is None and check_name(text, "name") == text


def test_a_str_body_with_a_raw_lone_surrogate_is_refused_too():
    with pytest.raises(ValidationError) as raised:
        strict_json.loads('{"a": ["x", "b\ud800"]}')
    assert raised.value.code == "invalid_string" and raised.value.details == {"pointer": "/a/1"}
