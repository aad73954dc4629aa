"""sdk/python/README.md's examples run as they are, in order, in one namespace and one event loop
(top-level ``await``, as in ``python -m asyncio``), against a live server with the provider
sandbox and a sync worker; what they print is what their comments say."""
import ast
import asyncio
import re
from pathlib import Path

import pytest

from tests.running import run as run_async

README = Path(__file__).resolve().parents[2] / "sdk" / "python" / "README.md"


def examples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def promised(code: str) -> list[str]:
    """What an example's ``print(...)  # output (remark)`` comments say it prints, in order
    (``conn_...`` stands for any id)."""
    return [comment.partition(" (")[0] for line in code.splitlines()
            if line.lstrip().startswith("print(") and (comment := line.partition("  # ")[2])]


async def run_examples(blocks: list[str]) -> None:
    namespace: dict = {}
    for number, code in enumerate(blocks, 1):
        compiled = compile(code, f"README.md example {number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(compiled, namespace)  # noqa: S307 (the README's own examples)
        if asyncio.iscoroutine(result):
            await result
    await namespace["client"].aclose()


@pytest.mark.slow
def test_the_readme_examples_run_and_print_what_they_say(live, keys, github_token, few_streams, sync_worker,
                                                         monkeypatch, capsys):
    monkeypatch.setenv("TRIBUTARY_API_KEY", keys.admin)
    monkeypatch.setenv("TRIBUTARY_BASE_URL", live)
    monkeypatch.setenv("GITHUB_TOKEN", github_token)
    monkeypatch.setenv("PIPEDRIVE_API_KEY", "sandbox-pipedrive-key")
    blocks = examples()
    assert len(blocks) >= 10
    run_async(lambda: run_examples(blocks))
    printed = capsys.readouterr().out.splitlines()
    expected = [comment for code in blocks for comment in promised(code)]
    assert expected, "no example says what it prints"
    lines = iter(printed)
    for comment in expected:  # each promised output appears, in order
        pattern = re.escape(comment).replace(r"conn_\.\.\.", r"conn_[a-z0-9]+")
        assert any(re.fullmatch(pattern, line) for line in lines), (comment, printed)
