"""YAML text to a validated pydantic model, with errors that name the line.

Installers edit configs by hand on a laptop and flash them to a roof: an
error must say which file, which line and which field, in one sentence::

    edge.yaml:14: buses[0].devices[1].unit: unit 1 is already used by 'main-incomer' on bus 'plant-room'

This module parses text (it does not open files) with ruamel.yaml, which
keeps the line of every mapping key and sequence item, then maps each
pydantic error location back to the nearest line it can find.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from greenwire.shared.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


MAX_VALUES: Final = 100_000
"""Values a config may hold once YAML aliases are expanded (a big site has a few thousand)."""
MAX_DEPTH: Final = 64
"""How deeply mappings and lists may nest (a config needs about 6)."""


class _TooBig(Exception):
    """The document expands beyond MAX_VALUES or nests beyond MAX_DEPTH."""


def _plain(node: Any, budget: list[int], depth: int = 0) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (pydantic strictness needs them).

    Aliases are expanded here, so ``budget`` (values left) stops a "billion laughs"
    document, a few lines that would expand to 10^9 values, before it takes the
    gateway's memory.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(f"the document expands to more than {MAX_VALUES:,} values (YAML aliases?)")
    if depth > MAX_DEPTH:
        raise _TooBig(f"the document nests more than {MAX_DEPTH} levels deep")
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v, budget, depth + 1) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v, budget, depth + 1) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


class LocatedValueError(ValueError):
    """A model validator's error that knows which nested field it is about.

    Raise it from a validator that checks several items together (two devices
    with one unit id) so the message points at the offending item's line::

        raise LocatedValueError("unit 1 is already used", loc=("devices", 1, "unit"))

    ``loc`` is relative to the model that raises it.
    """

    def __init__(self, message: str, *, loc: Sequence[int | str]) -> None:
        super().__init__(message)
        self.loc = tuple(loc)


def _locate(
    root: Any, loc: Sequence[int | str]
) -> tuple[int | None, int | None, tuple[int | str, ...]]:
    """1-based line and column of the deepest node of ``loc``, and ``loc`` as the file spells it.

    Parts that are not keys of the file (a discriminated union's tag, as in
    ``buses[0].tcp``) are left out of the returned location.
    """
    node, line, column = root, None, None
    spelled: list[int | str] = []
    found = True
    for part in loc:
        if found and isinstance(node, CommentedMap) and part in node:
            line, column = (x + 1 for x in node.lc.key(part))
            node = node[part]
        elif (
            found
            and isinstance(node, CommentedSeq)
            and isinstance(part, int)
            and 0 <= part < len(node)
        ):
            line, column = (x + 1 for x in node.lc.item(part))
            node = node[part]
        elif found and isinstance(node, CommentedMap) and isinstance(part, str):
            continue  # a union tag
        else:
            found = False
        spelled.append(part)
    if line is None and isinstance(root, CommentedMap | CommentedSeq):
        line = root.lc.line + 1
    return line, column, tuple(spelled)


def format_loc(loc: Sequence[int | str]) -> str:
    """``('buses', 0, 'devices')`` as ``buses[0].devices``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _spurious(error: Any) -> bool:
    """pydantic also reports a non-empty tuple with a bad item as "too short" (after the item
    is dropped); the item's own error says what is wrong, so that one is left out."""
    if error["type"] != "too_short":
        return False
    given = error.get("input")
    minimum = (error.get("ctx") or {}).get("min_length")
    return isinstance(given, list | tuple) and isinstance(minimum, int) and len(given) >= minimum


def _close(word: str, choices: Sequence[str]) -> str:
    """ "; did you mean 'x'?" when one of ``choices`` is close to ``word``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _suggest(model: type[BaseModel], key: str) -> str:
    """ "; did you mean 'x'?" when a known key of the config is close to a misspelt one."""
    import difflib

    names: set[str] = set()
    schema = model.model_json_schema()
    for definition in [schema, *schema.get("$defs", {}).values()]:
        names.update(definition.get("properties", {}))
    close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _yaml_hint(problem: str, text: str, line: int | None) -> str:
    """What a person should do about a YAML parser's complaint, when it is one of the usual ones."""
    if "'\\t'" in problem or "\t" in problem:
        return " (YAML indents with spaces only: replace the tab with spaces)"
    if "block end" in problem or "block mapping" in problem or "block sequence" in problem:
        return (" (check the indentation: keys of one mapping start in the same column, and list items "
                "under their key line up)")
    if "mapping values are not allowed" in problem:
        return " (a value that contains ': ' needs quotes, or a line above is indented wrongly)"
    if "could not find expected ':'" in problem:
        return " (a key needs ': ' after it; check the line above too)"
    return ""


def parse_yaml(text: str, *, source: str = "<config>") -> Any:
    """Parse YAML text keeping line information, or raise ``ConfigError``."""
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}{_yaml_hint(problem, text, line)}", path=source, line=line,
                          column=column) from exc
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=source) from exc
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", path=source) from None
    except ValueError as exc:
        # e.g. an integer of more than 4300 digits (Python's int conversion limit)
        raise ConfigError(f"invalid YAML: {exc}", path=source) from exc


def read_config(path: Path) -> str:
    """A config file's text, or a ``ConfigError`` naming the file and why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc


def load_model(text: str, model: type[M], *, source: str = "<config>", context: Any = None) -> M:
    """Validate YAML ``text`` into ``model``; the first error becomes a ``ConfigError`` with its line.

    All errors are listed in the message when there are several, first one first, each with its
    own line. A model may also check its raw data for what its own validation cannot reach while
    other fields are wrong (a classmethod ``raw_problems(data, context)`` returning ``LocatedValueError``s
    or ``(loc, model, ValidationError)`` of a part validated on its own): a file with several
    kinds of mistakes then shows them all in one run.
    """
    document = parse_yaml(text, source=source)
    if document is None:
        raise ConfigError("the file is empty", path=source)
    if not isinstance(document, CommentedMap):
        raise ConfigError("the top level must be a mapping of keys to values", path=source, line=1)
    try:
        plain = _plain(document, [MAX_VALUES])
    except _TooBig as exc:
        raise ConfigError(str(exc), path=source) from None
    try:
        return model.model_validate(plain, context=context)
    except ValidationError as exc:
        found = _problems(exc, document, model, ())
        raw = getattr(model, "raw_problems", None)
        for extra in raw(plain, context) if raw is not None else []:
            if isinstance(extra, LocatedValueError):
                line, column, located = _locate(document, extra.loc)
                found.append((line, column, f"{format_loc(located)}: {extra}"))
            else:
                base, part_model, part_exc = extra
                found += _problems(part_exc, document, part_model, base)
        # Once each, in the order of the file.
        problems = sorted(dict.fromkeys(found), key=lambda p: (p[0] is None, p[0] or 0, p[1] or 0))
        first_line, first_column = problems[0][0], problems[0][1]
        texts = [f"{'line ' + str(line) + ': ' if line is not None else ''}{text_}" for line, _, text_ in problems]
        if len(texts) == 1:
            raise ConfigError(problems[0][2], path=source, line=first_line, column=first_column) from None
        summary = f"{len(texts)} problems:\n  " + "\n  ".join(texts)
        raise ConfigError(summary, path=source, line=first_line, column=first_column) from None


def _problems(exc: ValidationError, document: Any, model: type[BaseModel],
              base: tuple[int | str, ...]) -> list[tuple[int | None, int | None, str]]:
    """Each error of ``exc`` (raised validating the part of ``document`` at ``base`` as ``model``) as
    (line, column, "where: what")."""
    out: list[tuple[int | None, int | None, str]] = []
    for error in exc.errors(include_url=False):
        if _spurious(error):
            continue
        loc = base + tuple(error["loc"])
        context = error.get("ctx") or {}
        cause = context.get("error")
        if isinstance(cause, LocatedValueError):
            loc += cause.loc
        tag_hint = ""
        if "key" in context and "choices" in context:
            # A union's tag that names no variant: point at the tag's own key, suggest a variant.
            loc += (context["key"],)
            given = error.get("input")
            value = given.get(context["key"]) if isinstance(given, dict) else None
            tag_hint = _close(str(value), str(context["choices"]).split()) if value is not None else ""
        missing = error["type"] == "missing" and bool(loc) and isinstance(loc[-1], str)
        # A missing key is not in the file: locate the mapping it belongs in, then name it
        # (looked for in the file, it would pass for a union's tag and be left out).
        line, column, located = _locate(document, loc[:-1] if missing else loc)
        loc = (*located, loc[-1]) if missing else located
        message = (
            f"required key '{loc[-1]}' is missing"
            if missing
            else error["msg"].removeprefix("Value error, ") + tag_hint
        )
        if error["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            message = f"unknown key '{loc[-1]}'{_suggest(model, loc[-1])}"
        where = format_loc(loc)
        out.append((line, column, f"{where + ': ' if where else ''}{message}"))
    return out


def checked_url(value: str, schemes: tuple[str, ...], example: str) -> str:
    """``value`` if it is a URL with one of ``schemes``, a host and a valid port, else ``ValueError``
    saying what was expected (``example``); for config validators."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"expected {example}, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port in {value!r}") from exc
    return value


def relative_to_config(value: Path, context: dict[str, Any] | None) -> Path:
    """``value`` resolved against the directory of the config file being validated (the
    ``base_dir`` in the validation context); absolute paths and configs read from text stay as given."""
    base = (context or {}).get("base_dir")
    return Path(base) / value if base is not None and not value.is_absolute() else value
