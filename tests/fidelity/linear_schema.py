"""Linear's GraphQL schema, read from the types ``@linear/sdk`` ships.

Linear publishes its schema through its SDK: the package's ``dist/index-*.d.mts`` holds
graphql-codegen's TypeScript rendering of every type of the API (``type Issue = Node & {
__typename?: "Issue"; ... }``, ``declare enum PaginationOrderBy``, ``type IssueCommentsArgs``,
input types, unions and the ``Scalars`` table). The package carries no SDL file, so this turns
that rendering back into SDL, one rule per codegen construct, and graphql-core builds a schema
from it: ``graphql_shape`` then validates our queries on it and checks each emulated answer.

* an object type has ``__typename``; ``Maybe<T>``/``InputMaybe<T>`` is nullable, anything else
  non-null; ``Array<T>`` a list; ``Scalars["X"]`` the scalar X;
* ``A & B & { ... }``: A and B are interfaces it implements;
* ``{Type}{Field}Args`` (``QueryIssuesArgs``, ``IssueCommentsArgs``): the field's arguments;
* an object type without ``__typename`` that is neither an interface nor arguments: an input;
* ``declare enum`` members by their string values (``createdAt``, as the API spells them).

Only the schema part of the file is read: it ends where the SDK's own operation fragments
begin (the first ``...Fragment`` type).
"""
from __future__ import annotations

import functools
import re

from graphql import build_schema

from . import descriptions

PACKAGE = descriptions.NODE_MODULES / "@linear" / "sdk"
_BLOCK = re.compile(r"^(?:declare )?(type|enum) (\w+)(?:<[^=]*>)? = ?(.*?)(?=^(?:/\*\*|(?:declare )?(?:type|enum) )|\Z)"
                    r"|^declare enum (\w+) \{(.*?)^\}", re.S | re.M)
_FIELD = re.compile(r"^  (\w+)(\??): (.+);$", re.M)
_ENUM_MEMBER = re.compile(r'^\s*\w+ = "([^"]+)",?$', re.M)
BUILT_IN = {"ID", "String", "Boolean", "Int", "Float"}


def types_file():
    if not PACKAGE.exists():
        raise descriptions.MissingDescription(f"{PACKAGE} is missing: {descriptions.INSTALL_HINT}")
    for path in sorted((PACKAGE / "dist").glob("index-*.d.mts")):
        text = path.read_text(encoding="utf-8")
        if "type Scalars = {" in text:
            return text
    raise descriptions.MissingDescription(f"{PACKAGE} has no generated schema types")


def _graphql_type(ts: str, nullable: bool = False) -> str:
    ts = ts.strip()
    for wrapper in ("InputMaybe<", "Maybe<"):
        if ts.startswith(wrapper) and ts.endswith(">"):
            return _graphql_type(ts[len(wrapper):-1], True)
    if ts.startswith("Array<") and ts.endswith(">"):
        inner = f"[{_graphql_type(ts[6:-1])}]"
    elif (scalar := re.fullmatch(r'Scalars\["(\w+)"\]', ts)) is not None:
        inner = scalar.group(1)
    elif re.fullmatch(r"\w+", ts):
        inner = ts
    else:
        raise ValueError(f"unexpected type {ts!r}")
    return inner if nullable else inner + "!"


def sdl(text: str) -> str:
    """The SDL of the schema the SDK's generated types describe."""
    text = text[:text.index("Fragment = {")]
    text = text[:text.rindex("\ntype ") + 1]
    blocks: dict[str, tuple[list[str], str]] = {}
    enums: dict[str, list[str]] = {}
    unions: dict[str, list[str]] = {}
    scalars: set[str] = set()
    for block in re.split(r"\n(?=(?:declare )?(?:type|enum) \w)", text):
        block = re.sub(r"/\*\*.*?\*/\s*", "", block, flags=re.S).strip()
        if (enum := re.match(r"(?:declare )?enum (\w+) \{", block)) is not None:
            enums[enum.group(1)] = _ENUM_MEMBER.findall(block)
            continue
        head = re.match(r"type (\w+)(<[^=]*>)? = (.*)", block, re.S)
        if head is None or head.group(2):
            continue                  # generics (Maybe, Exact, ...) and anything else
        name, body = head.group(1), head.group(3)
        if name == "Scalars":
            scalars = {s for s in re.findall(r"^  (\w+):", body, re.M)} - BUILT_IN
        elif re.fullmatch(r"[\w\s|]+;", body):
            unions[name] = [m.strip() for m in body.rstrip(";").split("|")]
        elif (shape := re.match(r"((?:\w+ & )*)\{(.*)\};?$", body, re.S)) is not None:
            blocks[name] = ([i.strip() for i in shape.group(1).split("&") if i.strip()], shape.group(2))
    interfaces = {i for parents, _ in blocks.values() for i in parents}
    out = [f"scalar {s}" for s in sorted(scalars)]
    out += [f"enum {n} {{ {' '.join(v)} }}" for n, v in enums.items() if v]
    out += [f"union {n} = {' | '.join(m)}" for n, m in unions.items()]
    for name, (parents, body) in blocks.items():
        if name.endswith("Args") and "__typename" not in body:
            continue
        fields = []
        for field, optional, ts in _FIELD.findall(body):
            if field == "__typename":
                continue
            args = blocks.get(f"{name}{field[0].upper()}{field[1:]}Args")
            declared = ""
            if args is not None and "__typename" not in args[1]:
                declared = "(" + ", ".join(f"{a}: {_graphql_type(t, bool(o))}"
                                           for a, o, t in _FIELD.findall(args[1])) + ")"
            fields.append(f"  {field}{declared}: {_graphql_type(ts, bool(optional))}")
        if not fields:
            continue
        kind = "interface" if name in interfaces else "type" if "__typename" in body else "input"
        implements = f" implements {' & '.join(parents)}" if parents else ""
        out.append(f"{kind} {name}{implements if kind != 'input' else ''} {{\n" + "\n".join(fields) + "\n}")
    return "\n".join(out) + "\n"


@functools.lru_cache(maxsize=None)
def linear_schema():
    return build_schema(sdl(types_file()), assume_valid_sdl=True)
