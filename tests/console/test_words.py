"""The console's words for stored codes: every value the domain declares has words of its own, so
a new status cannot reach a page as a raw code (the API keeps the codes)."""
import pytest

from blueprints.console.words import DECLARED, WORDS, words


@pytest.mark.parametrize("kind", sorted(DECLARED))
def test_every_declared_value_has_words(kind):
    assert set(WORDS[kind]) == set(DECLARED[kind])
    assert all("_" not in said and said.strip() for said in WORDS[kind].values())


def test_a_value_no_kind_lists_yet_still_reads_as_words():
    assert words("skipped_locked", "run") == "skipped"
    assert words("some_new_state", "run") == "some new state"
    assert words(None, "run") == ""
