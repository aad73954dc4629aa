"""Checking a GraphQL answer against the query that asked for it and the provider's published
schema (GitHub: ``@octokit/graphql-schema``'s schema.graphql; Linear: the types ``@linear/sdk``
ships, see linear_schema.py): every selected field present under its response key and nothing
else, each value of the field's type (non-null, lists, objects, enums, and the providers'
scalars: DateTime and URI strings among them). ``schema`` defaults to GitHub's."""
from __future__ import annotations

import functools

from graphql import (GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType,
                     GraphQLScalarType, build_schema, parse, validate)
from graphql.language import FieldNode, InlineFragmentNode, OperationDefinitionNode

from . import descriptions
from .validation import FORMATS

SCHEMA_FILE = descriptions.NODE_MODULES / "@octokit" / "graphql-schema" / "schema.graphql"


@functools.lru_cache(maxsize=None)
def github_schema():
    if not SCHEMA_FILE.exists():
        raise descriptions.MissingDescription(f"{SCHEMA_FILE} is missing: {descriptions.INSTALL_HINT}")
    # GitHub's SDL defines two EnterpriseOwnerInfo fields twice (identically): skip the SDL
    # validation that refuses that, not the schema.
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"), assume_valid_sdl=True)


def query_errors(query: str, schema=None) -> list[str]:
    """Why ``query`` is not a valid operation on the schema (empty when it is)."""
    return [error.message for error in validate(schema or github_schema(), parse(query))]


def answer_problems(query: str, data, schema=None) -> list[str]:
    """Why ``data`` (an answer's ``data``) is not what the provider would answer to ``query``."""
    schema = schema or github_schema()
    operation = next(d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode))
    root = {"query": schema.query_type, "mutation": schema.mutation_type}[operation.operation.value]
    found: list[str] = []
    _object(schema, root, operation.selection_set, data, "data", found)
    return found


def _fields(selection_set):
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set)


def _object(schema, type_, selection_set, value, where, found):
    if not isinstance(value, dict):
        found.append(f"{where}: {value!r} is not an object")
        return
    wanted = {}
    for node in _fields(selection_set):
        wanted[(node.alias or node.name).value] = node
    for key in value.keys() - wanted.keys():
        found.append(f"{where}.{key}: not selected by the query")
    for key, node in wanted.items():
        if key not in value:
            found.append(f"{where}.{key}: selected but missing")
            continue
        name = node.name.value
        if name == "__typename":
            continue
        field = type_.fields.get(name)
        if field is None:
            found.append(f"{where}.{key}: {type_.name} has no field {name}")
            continue
        _value(schema, field.type, node, value[key], f"{where}.{key}", found)


def _value(schema, type_, node, value, where, found):
    if isinstance(type_, GraphQLNonNull):
        if value is None:
            found.append(f"{where}: null where the schema says {type_}")
            return
        type_ = type_.of_type
    if value is None:
        return
    if isinstance(type_, GraphQLList):
        if not isinstance(value, list):
            found.append(f"{where}: {value!r} is not a list")
            return
        for index, item in enumerate(value):
            _value(schema, type_.of_type, node, item, f"{where}[{index}]", found)
    elif isinstance(type_, GraphQLEnumType):
        if value not in type_.values:
            found.append(f"{where}: {value!r} is not a {type_.name}")
    elif isinstance(type_, GraphQLScalarType):
        if not _scalar_ok(type_.name, value):
            found.append(f"{where}: {value!r} is not a {type_.name}")
    elif isinstance(type_, GraphQLObjectType):
        _object(schema, type_, node.selection_set, value, where, found)
    else:       # interfaces and unions: the fields asked for, read on the object as it is
        if node.selection_set is not None and isinstance(value, dict):
            possible = schema.get_possible_types(type_)
            by_name = {t.name: t for t in possible}
            concrete = by_name.get(value.get("__typename")) or possible[0]
            _object(schema, concrete, node.selection_set, value, where, found)


def _scalar_ok(name: str, value) -> bool:
    if name == "Int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "Float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "Boolean":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if name in ("DateTime", "PreciseDateTime"):       # GitHub's, and Linear's DateTime
        return FORMATS.conforms(value, "date-time")
    if name == "URI":
        return FORMATS.conforms(value, "uri")
    return True         # String, ID, HTML, GitObjectID, ...: strings
