"""The README says which connectors sync today and which are only in the catalog, and cannot
drift from the registry: the summary in its opening and the table under "Connectors" are what
``render()`` makes of ``connectors/`` (issue #12: the opening promised Slack, Notion and HubSpot,
which do not sync). When this fails, paste the printed block into the README, or rewrite both blocks with
``python -m tests.docs.test_readme``."""
import re
from pathlib import Path

from connectors import registry

README = Path(__file__).resolve().parents[2] / "README.md"
METHODS = {"oauth_redirect": "OAuth", "api_key": "API key", "handle": "account handle", "webhook": "signed webhooks"}


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


# Well-known names to give as examples of what is only in the catalog (while it is).
EXAMPLES = ("Gong", "Fireflies", "LinkedIn", "Slack", "Notion", "HubSpot")


def render() -> dict[str, str]:
    classes = list(registry.connector_classes().values())
    # The custom webhook source last, in words: "GitHub, ... and custom webhooks".
    syncing = sorted((cls for cls in classes if cls.implemented), key=lambda cls: (not cls.syncs(),
                                                                                   cls.catalog.type == "webhook"))
    listed = [cls for cls in classes if not cls.implemented]
    names = ["custom webhooks" if cls.catalog.type == "webhook" else cls.catalog.display_name for cls in syncing
             if cls.syncs()]
    connect_only = [cls.catalog.display_name for cls in syncing if not cls.syncs()]
    listed_names = sorted(cls.catalog.display_name for cls in listed)
    examples = ([name for name in EXAMPLES if name in listed_names]
                + [name for name in listed_names if name not in EXAMPLES])[:3]
    also = f", and connects {_names(connect_only)} (its sync is to come)" if connect_only else ""
    summary = (f"It syncs {_names(names)} today{also}; the other {len(listed)} connectors in its catalog of "
               f"{len(classes)} ({', '.join(examples)}, ...) are listed but cannot be connected yet")
    rows = ["| connector | category | connects with | today | streams |", "| --- | --- | --- | --- | --- |"]
    for cls in syncing + listed:
        entry = cls.catalog
        today = ("**syncs**" if cls.syncs() else "connects (sync to come)" if cls.implemented else
                 "coming soon" if entry.availability == "coming_soon" else "catalog only")
        rows.append(f"| {entry.display_name} (`{entry.type}`) | {entry.category} | {METHODS[entry.auth_method]} "
                    f"| {today} | {', '.join(s.name for s in entry.streams)} |")
    return {"summary": summary, "table": "\n".join(rows), "capabilities": capabilities(syncing)}


def capabilities(syncing) -> str:
    """Per stream of each connector that syncs: what ``capabilities()`` reads off its declarations."""
    rows = ["| connector | stream | changes read as | deletions found by | readers (source access mode) "
            "| rate limits |", "| --- | --- | --- | --- | --- | --- |"]
    for cls in syncing:
        for index, row in enumerate(cls.capabilities()):
            name, limits = (cls.catalog.display_name, cls.rate_limits_in_words()) if index == 0 else ("", "")
            rows.append(f"| {name} | `{row['stream']}` | {row['changes']} | {row['deletions']} | {row['readers']} "
                        f"| {limits} |")
    return "\n".join(rows)


def between(text: str, name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->\n?(.*?)\n?<!-- {name}:end -->", text, re.S)
    assert found, f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> block"
    return found.group(1).strip()


def test_every_stream_that_syncs_says_what_it_can_do():
    """A connector that syncs has a capability row for each of its catalog streams."""
    for cls in registry.connector_classes().values():
        if cls.syncs():
            assert [row["stream"] for row in cls.capabilities()] == [s.name for s in cls.catalog.streams], cls


def test_the_readme_says_which_connectors_sync_today():
    text = README.read_text(encoding="utf-8")
    expected = render()
    for name in ("summary", "table", "capabilities"):
        assert " ".join(between(text, name).split()) == " ".join(expected[name].split()), (
            f"README.md's {name} is out of date; it should read:\n\n<!-- {name}:start -->\n{expected[name]}\n"
            f"<!-- {name}:end -->")


def test_the_opening_promises_nothing_that_does_not_sync():
    opening = README.read_text(encoding="utf-8").split("\n## ", 1)[0]
    listed = [cls.catalog.display_name for cls in registry.connector_classes().values() if not cls.implemented]
    # Catalog-only names may appear only in the summary, after "the other N connectors".
    promised = opening.split("the other", 1)[0]
    assert not [name for name in listed if re.search(rf"\b{re.escape(name)}\b", promised)], promised


def write() -> None:
    """Rewrite the README's generated blocks from the registry."""
    text = README.read_text(encoding="utf-8")
    for name, block in render().items():
        text = re.sub(rf"<!-- {name}:start -->\n?.*?\n?<!-- {name}:end -->",
                      lambda _: f"<!-- {name}:start -->\n{block}\n<!-- {name}:end -->", text, flags=re.S)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write()
