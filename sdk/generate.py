"""Regenerate the SDKs' types from the API's OpenAPI document.

    python sdk/generate.py          # from the repository root: rewrites both files
    python sdk/generate.py --check  # exit 1 when a committed file differs from a fresh one

The document is ``blueprints.api.openapi.build_openapi()`` (what ``/api/v1/openapi.json``
serves); the Python models come from datamodel-code-generator (pinned in sdk/python's ``test``
extra) and the TypeScript types from openapi-typescript (pinned in sdk/typescript's
package-lock.json). tests/sdk/test_generated.py holds the committed files to a fresh run, so
the server, the document and both SDKs cannot disagree.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SDK = Path(__file__).resolve().parent
ROOT = SDK.parent
PYTHON_MODELS = SDK / "python" / "src" / "tributary" / "_models.py"
TYPESCRIPT_SCHEMA = SDK / "typescript" / "src" / "schema.ts"
OPENAPI_TYPESCRIPT = SDK / "typescript" / "node_modules" / ".bin" / "openapi-typescript"

# Responses are read leniently (fields a newer server adds are ignored); values are typed as the
# document says (enums as Literal types), with the document's descriptions as docstrings.
DATAMODEL_CODEGEN_OPTIONS = [
    "--input-file-type", "openapi",
    "--output-model-type", "pydantic_v2.BaseModel",
    "--target-python-version", "3.11",
    "--formatters", "builtin",
    "--disable-timestamp",
    "--use-standard-collections",
    "--use-union-operator",
    "--use-double-quotes",
    "--extra-fields", "ignore",
    "--enum-field-as-literal", "all",
    "--use-schema-description",
    "--use-field-description",
    "--field-constraints",
    "--use-annotated",
    "--collapse-root-models",
    "--use-type-alias-type",
]

# A property with a default is optional in a request (the server fills it in), not required.
OPENAPI_TYPESCRIPT_OPTIONS = ["--default-non-nullable", "false"]


def document() -> dict:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from blueprints.api.openapi import build_openapi

    return build_openapi()


def render(doc: dict) -> dict[Path, str]:
    """The generated files for ``doc``, keyed by where they are committed."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "openapi.json"
        source.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        python, typescript = Path(tmp) / "models.py", Path(tmp) / "schema.ts"
        subprocess.run([str(Path(sys.executable).parent / "datamodel-codegen"), "--input", str(source),
                        "--output", str(python), *DATAMODEL_CODEGEN_OPTIONS],
                       check=True, capture_output=True, text=True)
        subprocess.run([str(OPENAPI_TYPESCRIPT), str(source), "--output", str(typescript), *OPENAPI_TYPESCRIPT_OPTIONS],
                       check=True, capture_output=True, text=True)
        # The generators name the input file; name the document instead (the path is temporary).
        models = python.read_text(encoding="utf-8").replace(
            f"#   filename:  {source.name}", "#   source:    GET /api/v1/openapi.json (build_openapi())")
        return {PYTHON_MODELS: models, TYPESCRIPT_SCHEMA: typescript.read_text(encoding="utf-8")}


def main(argv: list[str]) -> int:
    fresh = render(document())
    stale = [path for path, text in fresh.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python sdk/generate.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(fresh[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
