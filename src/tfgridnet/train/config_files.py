"""Reading a training config: a YAML file or a shipped recipe, ``-o section.key=value`` overrides,
paths resolved, then validated into :class:`~tfgridnet.train.config.Config` with every mistake
listed by its key path (:class:`~tfgridnet.train.config.ConfigError`).

Relative paths in a config file resolve against the file's folder; relative paths given with
``-o`` resolve against the current directory (where the user typed them).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tfgridnet.text import plural
from tfgridnet.train.config import PATH_KEYS, Config, ConfigError

__all__ = ["load_config", "config_from_dict", "apply_overrides", "recipe_names", "recipe_text"]


def _fields_at(loc: tuple[Any, ...]) -> list[str] | None:
    """Allowed keys of the section that ``loc`` points into (for 'unknown key' messages)."""
    cls: type[BaseModel] = Config
    for part in loc[:-1]:
        field = cls.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        cls = annotation
    return [info.alias or name for name, info in cls.model_fields.items()]


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid config ({plural(exc.error_count(), 'problem')}):"]
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        path = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = _fields_at(loc)
            hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
            lines.append(f"  {path}: unknown key{hint}")
            continue
        message = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {path}: {message}{shown}")
    return "\n".join(lines)


def _resolve_path(value: Any, base: Path) -> Any:
    if value is None or value == "":
        return None if value == "" else value
    path = Path(os.path.expanduser(str(value)))
    return str(path if path.is_absolute() else (base / path).resolve())


def _resolve_paths(raw: dict[str, Any], base: Path, only: set[tuple[str, str]] | None = None
                   ) -> None:
    for section, key in PATH_KEYS:
        if only is not None and (section, key) not in only:
            continue
        block = raw.get(section)
        if isinstance(block, dict) and key in block:
            block[key] = _resolve_path(block[key], base)


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...],
                    cwd: Path | None = None) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a raw config dict in place."""
    cwd = Path.cwd() if cwd is None else cwd
    touched_paths: set[tuple[str, str]] = set()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value, e.g. optim.lr=1e-3")
        key, _, text = item.partition("=")
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise ConfigError(f"override {item!r}: empty key part in {key!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({exc})") from exc
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {'.'.join(parts[:depth + 1])} is a value, "
                                  "not a section")
            node = child
        node[parts[-1]] = value
        if len(parts) == 2 and (parts[0], parts[1]) in PATH_KEYS:
            touched_paths.add((parts[0], parts[1]))
    _resolve_paths(raw, cwd, only=touched_paths)
    return raw


def config_from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    """Validate a raw dict; raise :class:`ConfigError` listing every bad key path."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def recipe_names() -> list[str]:
    """Names of the recipes shipped in the package (``tfgridnet/configs/*.yaml``)."""
    folder = resources.files("tfgridnet") / "configs"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def recipe_text(name: str) -> str:
    """The YAML text of a shipped recipe, comments included (``tfgridnet config show NAME``)."""
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    if stem not in recipe_names():
        raise ConfigError(f"{name}: no such recipe; shipped recipes: {', '.join(recipe_names())}")
    return (resources.files("tfgridnet") / "configs" / f"{stem}.yaml").read_text(encoding="utf-8")


def load_config(path: str | os.PathLike | Path, overrides: list[str] | tuple[str, ...] = ()
                ) -> Config:
    """Read a YAML config file, or a shipped recipe by name; resolve paths, override, validate.

    Relative paths in a file resolve against its folder; in a recipe given by name (``demo``,
    ``seed``...) against the current folder, since the recipe's own folder is inside the package.
    """
    path = Path(path)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read as YAML ({exc})") from exc
        base = path.resolve().parent
    elif path.suffix in ("", ".yaml") and path.parent == Path(".") and \
            path.name.removesuffix(".yaml") in recipe_names():
        text, base = recipe_text(path.name), Path.cwd()
    else:
        raise ConfigError(f"{path}: config file not found (nor a shipped recipe: "
                          f"{', '.join(recipe_names())})")
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: cannot read as YAML ({exc})") from exc
    if raw is None:
        raise ConfigError(f"{path}: config file is empty; expected sections such as model:, "
                          "data:, trainer:")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (model:, data:, ...), "
                          f"got {type(raw).__name__}")
    _resolve_paths(raw, base)
    apply_overrides(raw, list(overrides))
    return config_from_dict(raw, source=str(path))
