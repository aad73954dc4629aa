"""The SDKs' types are what the generators make of the API's OpenAPI document today: the committed
sdk/python/src/tributary/_models.py and sdk/typescript/src/schema.ts equal a fresh run of
sdk/generate.py over build_openapi(). When this fails, run `python sdk/generate.py` and commit."""
import importlib.util
from pathlib import Path

import pytest

GENERATE = Path(__file__).resolve().parents[2] / "sdk" / "generate.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("sdk_generate", GENERATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_committed_sdk_types_are_generated_from_the_document():
    generate = load_generator()
    fresh = generate.render(generate.document())
    assert set(fresh) == {generate.PYTHON_MODELS, generate.TYPESCRIPT_SCHEMA}
    for path, text in fresh.items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python sdk/generate.py"
