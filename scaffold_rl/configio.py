"""Typed configuration: nested ``@dataclass`` trees loaded from YAML and dotted CLI overrides.

Every knob is declared once, with its type, default and ``metadata={"help": ...}``, on a
dataclass (as TRL does).  This module turns such a tree into a loader so that experiments
are reproducible from one YAML file plus a few ``key=value`` overrides, and so that typos
fail loudly *before* a long run starts instead of being silently ignored.

    cfg = load_config(RunConfig, "configs/demo.yaml", ["train.lr=1e-5", "eval.max_new_tokens=null"])
    save_config(cfg, run_dir / "config.yaml")   # exact, reloadable record of the run
    print(describe_config(RunConfig))           # ``--help-config``

Errors are :class:`ConfigError` and say where (``file:line`` or the override), what key,
what was expected, and the closest valid key.

A section class may declare ``__config_shorthand__ = "field"``: a scalar given for the whole section then
sets that one field (``reward=format_length`` in an override or ``reward: format_length`` in YAML).

Two more class attributes make unknown keys point somewhere useful instead of only to close spellings:

* ``__config_renamed__ = {"old": "new.path"}`` (or ``{"old": ("new.path", "why")}``) on a section: a key that
  moved or was renamed is an error naming its new key, relative to that section;
* ``__config_foreign_names__ = {"learning_rate": ("train.lr", "note")}`` on the root: another tool's name for
  one of our keys (TRL's, here), recognised at any depth.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePath
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

__all__ = ["ConfigError", "build_section", "config_error", "config_to_dict", "describe_config", "load_config", "save_config"]

T = TypeVar("T")

_NONE = type(None)
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
_NULL_SPELLINGS = frozenset({"null", "Null", "NULL", "~"})
_OVERRIDE_FORM = "expected KEY=VALUE, e.g. train.lr=1e-5, rollout.levels=[2,3,3] or eval.max_new_tokens=null"


class ConfigError(ValueError):
    """A configuration mistake the user can fix; the message names the place, key and remedy."""


# --------------------------------------------------------------------------- type helpers


def _is_dc_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


@functools.cache
def _fields(cls: type) -> dict[str, tuple[dataclasses.Field, Any]]:
    """Init-able fields of ``cls`` with resolved annotations.

    ``get_type_hints`` is needed because modules use ``from __future__ import annotations``,
    which leaves annotations as strings.
    """
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:  # NameError for forward refs to function-local classes
        raise TypeError(
            f"cannot resolve type annotations of {cls.__qualname__}: {e}; "
            "config dataclasses must be defined at module level"
        ) from e
    return {f.name: (f, hints.get(f.name, Any)) for f in dataclasses.fields(cls) if f.init}


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return None


def _strip_optional(tp: Any) -> Any:
    """``X | None`` -> ``X`` (other unions are returned unchanged, minus None)."""
    args = _union_args(tp)
    if args is None or _NONE not in args:
        return tp
    rest = tuple(a for a in args if a is not _NONE)
    return rest[0] if len(rest) == 1 else Union[rest]


def _section_type(tp: Any) -> type | None:
    """The dataclass behind a field that is a (possibly optional) nested section."""
    inner = _strip_optional(tp)
    return inner if _is_dc_type(inner) else None


def _is_textual(tp: Any) -> bool:
    """True when every non-None member is str-like, so an override value should stay raw text."""
    members = _union_args(tp) or (tp,)
    members = [m for m in members if m is not _NONE]
    if not members:
        return False
    for m in members:
        if get_origin(m) is Literal:
            if not all(isinstance(c, str) for c in get_args(m)):
                return False
        elif not (isinstance(m, type) and issubclass(m, (str, PurePath))):
            return False
    return True


def _type_name(tp: Any) -> str:
    if tp is _NONE:
        return "None"
    if tp is Any:
        return "Any"
    args = _union_args(tp)
    if args is not None:
        return " | ".join(_type_name(a) for a in args)
    origin = get_origin(tp)
    if origin is Literal:
        return f"Literal[{', '.join(repr(c) for c in get_args(tp))}]"
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(tp, "__name__", str(tp))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@functools.cache
def _all_paths(cls: type) -> tuple[str, ...]:
    """Every dotted key of the tree (sections included), for 'did you mean' across levels."""
    out: list[str] = []

    def walk(c: type, prefix: str, stack: frozenset[type]) -> None:
        for name, (_, tp) in _fields(c).items():
            key = _join(prefix, name)
            out.append(key)
            sect = _section_type(tp)
            if sect is not None and sect not in stack:  # guard self-referential configs
                walk(sect, key, stack | {sect})

    walk(cls, "", frozenset({cls}))
    return tuple(out)


def _renamed_msg(full: str, section: type | None, root: type) -> str | None:
    """The error for a key that moved (``__config_renamed__``) or is another tool's name for one of ours."""
    prefix, _, leaf = full.rpartition(".")
    renamed = getattr(section, "__config_renamed__", None) or {}
    if leaf in renamed:
        target = renamed[leaf]
        new, why = (target, "") if isinstance(target, str) else target
        return (f"'{full}' was renamed: use '{_join(prefix, new)}'" + (f" ({why})" if why else ""))
    foreign = getattr(root, "__config_foreign_names__", None) or {}
    if leaf in foreign:
        ours, note = foreign[leaf]
        return (f"unknown key '{full}': '{leaf}' is TRL's name; ours is '{ours}'" + (f" ({note})" if note else ""))
    return None


def _unknown_key_msg(full: str, level_names: Sequence[str], root: type, section: type | None = None) -> str:
    """A renamed or foreign key names its new home; else suggest siblings first, then keys anywhere in the tree
    (catches misplaced keys)."""
    moved = _renamed_msg(full, section, root)
    if moved:
        return moved
    prefix, _, leaf = full.rpartition(".")
    paths = _all_paths(root)
    by_leaf: dict[str, list[str]] = {}
    for p in paths:
        by_leaf.setdefault(p.rpartition(".")[2], []).append(p)
    candidates = [_join(prefix, m) for m in difflib.get_close_matches(leaf, list(level_names), n=3)]
    if not candidates:  # nothing close here: maybe the key belongs to another section
        for m in difflib.get_close_matches(leaf, list(by_leaf), n=3):
            candidates += by_leaf[m]
        candidates += difflib.get_close_matches(full, paths, n=3, cutoff=0.75)
    seen = list(dict.fromkeys(c for c in candidates if c != full))[:3]
    if seen:
        return f"unknown key '{full}'; did you mean {' or '.join(repr(s) for s in seen)}?"
    where = f"under '{prefix}'" if prefix else "at top level"
    return f"unknown key '{full}'; valid keys {where}: {', '.join(level_names)}"


# --------------------------------------------------------------------------- coercion


@dataclass
class _Ctx:
    """Where each raw value came from, so errors can point at a file line or an override."""

    root: type
    default_loc: str | None
    origins: dict[str, str]

    def where(self, key: str) -> str | None:
        k = key
        while k:
            if k in self.origins:
                return self.origins[k]
            cut = max(k.rfind("."), k.rfind("["))
            k = k[:cut] if cut > 0 else ""
        return self.default_loc

    def error(self, key: str, msg: str) -> ConfigError:
        loc = self.where(key)
        return ConfigError(f"{loc}: {msg}" if loc else msg)


def _short(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


def _bad_value(ctx: _Ctx, key: str, tp: Any, value: Any, hint: str = "") -> ConfigError:
    msg = (
        f"invalid value for '{key or '<root>'}': expected {_type_name(tp)}, "
        f"got {_short(value)} ({type(value).__name__})"
    )
    return ctx.error(key, msg + (f"; {hint}" if hint else ""))


def _coerce(value: Any, tp: Any, key: str, ctx: _Ctx) -> Any:
    """Validate ``value`` against annotation ``tp`` and convert it (str->float, list->tuple, ...)."""
    if tp is Any or tp is object:
        return value
    union = _union_args(tp)
    if union is not None:
        if value is None and _NONE in union:
            return None
        members = [a for a in union if a is not _NONE]
        if len(members) == 1:
            return _coerce(value, members[0], key, ctx)
        for m in members:
            try:
                return _coerce(value, m, key, ctx)
            except ConfigError:
                continue
        raise _bad_value(ctx, key, tp, value)
    if value is None and tp is not _NONE:
        hint = "this key is not optional; remove it to keep the default"
        raise _bad_value(ctx, key, tp, value, hint)

    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        for c in choices:
            if value == c and type(value) is type(c):  # type check: keep True from matching 1
                return c
        msg = f"invalid value {_short(value)} for '{key}': expected one of {', '.join(map(repr, choices))}"
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        raise ctx.error(key, msg + (f"; did you mean {close[0]!r}?" if close else ""))
    if _is_dc_type(tp):
        return _build(value, tp, key, ctx)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _bad_value(ctx, key, tp, value, "use true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _bad_value(ctx, key, tp, value)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads `1e-5` as a string
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _bad_value(ctx, key, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        hint = "quote it to pass it as a string" if isinstance(value, (int, float, bool)) else ""
        raise _bad_value(ctx, key, tp, value, hint)
    if isinstance(tp, type) and issubclass(tp, PurePath):
        if isinstance(value, (str, PurePath)):
            return tp(value)
        raise _bad_value(ctx, key, tp, value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        for member in tp:
            if value == member.value or value == member.name or value is member:
                return member
        msg = f"invalid value {_short(value)} for '{key}': expected one of {', '.join(repr(m.value) for m in tp)}"
        raise ctx.error(key, msg)

    if origin is list or tp is list:
        if not isinstance(value, (list, tuple)):
            raise _bad_value(ctx, key, tp, value, "write a list, e.g. [1, 2]")
        (item_tp,) = get_args(tp) or (Any,)
        return [_coerce(v, item_tp, f"{key}[{i}]", ctx) for i, v in enumerate(value)]
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise _bad_value(ctx, key, tp, value, "write a list, e.g. [1, 2]")
        targs = get_args(tp)
        if not targs:
            return tuple(value)
        if len(targs) == 2 and targs[1] is Ellipsis:
            return tuple(_coerce(v, targs[0], f"{key}[{i}]", ctx) for i, v in enumerate(value))
        if len(value) != len(targs):
            raise _bad_value(ctx, key, tp, value, f"expected exactly {len(targs)} items")
        return tuple(_coerce(v, t, f"{key}[{i}]", ctx) for i, (v, t) in enumerate(zip(value, targs)))
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _bad_value(ctx, key, tp, value, "write a mapping, e.g. {a: 1}")
        ktp, vtp = get_args(tp) or (Any, Any)
        return {
            _coerce(k, ktp, _join(key, str(k)), ctx): _coerce(v, vtp, _join(key, str(k)), ctx)
            for k, v in value.items()
        }
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _bad_value(ctx, key, tp, value)
    raise TypeError(f"configio: unsupported annotation {tp!r} on '{key}'")


def _build(value: Any, cls: type, key: str, ctx: _Ctx) -> Any:
    """Construct one dataclass section; ``__post_init__`` ValueErrors get the section's path."""
    shorthand = getattr(cls, "__config_shorthand__", None)
    if shorthand is not None and value is not None and not isinstance(value, Mapping):
        value = {shorthand: value}  # `reward: format_length` = `reward: {spec: format_length}`
        if key in ctx.origins:
            ctx.origins.setdefault(_join(key, shorthand), ctx.origins[key])
    if not isinstance(value, Mapping):
        raise ctx.error(
            key,
            f"section '{key or '<root>'}' must be a mapping of {cls.__name__} keys, got {_short(value)}",
        )
    fields = _fields(cls)
    kwargs: dict[str, Any] = {}
    for name, v in value.items():
        sub = _join(key, str(name))
        if not isinstance(name, str) or name not in fields:
            raise ctx.error(sub, _unknown_key_msg(sub, list(fields), ctx.root, cls))
        f, ftp = fields[name]
        if _is_dc_type(ftp) and isinstance(v, Mapping) and f.default_factory is not dataclasses.MISSING:
            v = _section_over_default(ftp, _plain(f.default_factory()), v)  # keeps the parent's defaults
        kwargs[name] = _coerce(v, ftp, sub, ctx)
    for name, (f, ftp) in fields.items():
        if name in kwargs or f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        sub = _join(key, name)
        if _is_dc_type(ftp):  # required section: build it from its own defaults
            kwargs[name] = _build({}, ftp, sub, ctx)
        else:
            raise ctx.error(
                key, f"missing required key '{sub}' ({_type_name(ftp)}); set it in the YAML file or pass {sub}=..."
            )
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except ValueError as e:
        what = f"section '{key}' ({cls.__name__})" if key else f"config ({cls.__name__})"
        raise ctx.error(key, f"invalid {what}: {e}") from e


# --------------------------------------------------------------------------- sources


def _record_marks(node: yaml.Node, prefix: str, origins: dict[str, str], fname: str) -> None:
    """Map each dotted key (and list item) to ``file:line`` using the composed node tree."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                continue
            key = _join(prefix, knode.value)
            loc = f"{fname}:{knode.start_mark.line + 1}"
            if knode.value in seen:  # PyYAML silently keeps the last one; that hides mistakes
                raise ConfigError(f"{loc}: duplicate key '{key}'")
            seen.add(knode.value)
            origins[key] = loc
            _record_marks(vnode, key, origins, fname)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}[{i}]"
            origins[key] = f"{fname}:{item.start_mark.line + 1}"
            _record_marks(item, key, origins, fname)


def _read_yaml(path: Path, origins: dict[str, str]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from e
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(e, 'problem', None) or e}") from e
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of config keys, got {type(data).__name__}")
    _record_marks(node, "", origins, str(path))
    return data


def _override_target(key: str, root: type, where: str) -> Any:
    """Type annotation addressed by a dotted override key; unknown keys fail here, early."""
    parts = key.split(".")
    tp: Any = root
    for i, part in enumerate(parts):
        inner = _strip_optional(tp)
        if _is_dc_type(inner):
            fields = _fields(inner)
            if part not in fields:
                raise ConfigError(f"{where}: {_unknown_key_msg('.'.join(parts[: i + 1]), list(fields), root, inner)}")
            tp = fields[part][1]
        elif get_origin(inner) is dict or inner is dict:
            tp = (get_args(inner) or (Any, Any))[1]
        elif inner is Any:
            tp = Any
        else:
            parent = ".".join(parts[:i])
            raise ConfigError(
                f"{where}: '{parent}' is a {_type_name(tp)} value, not a section; set it whole, e.g. {parent}=..."
            )
    return tp


def _parse_override_value(text: str, tp: Any, where: str) -> Any:
    """YAML-parse the value, but keep raw text for str-typed keys (``run_name=2024`` stays '2024')."""
    stripped = text.strip()
    if not stripped:
        return ""
    try:
        value = yaml.safe_load(stripped)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: cannot parse value {stripped!r} as YAML: {getattr(e, 'problem', e)}") from e
    if _is_textual(tp) and not isinstance(value, str):
        if value is not None or stripped not in _NULL_SPELLINGS:
            return stripped
    return value


def _apply_override(raw: dict[str, Any], item: str, ctx: _Ctx) -> None:
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError(f"invalid override {item!r}: {_OVERRIDE_FORM}")
    key, _, text = item.partition("=")
    key = key.strip()
    where = f"override {item!r}"
    if not key or not all(key.split(".")):
        raise ConfigError(f"{where}: empty key; {_OVERRIDE_FORM}")
    target = _override_target(key, ctx.root, where)
    value = _parse_override_value(text, target, where)
    shorthand = getattr(_section_type(target), "__config_shorthand__", None)
    if shorthand is not None and value is not None and not isinstance(value, Mapping):
        # a scalar for a section that declares a shorthand sets that one key (`reward=format_length` is
        # `reward.spec=format_length`), leaving the section's other keys as they are
        key = _join(key, shorthand)
        value = _parse_override_value(text, _override_target(key, ctx.root, where), where)
    parts = key.split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if not isinstance(nxt, dict):  # e.g. `eval: null` in the file; the override re-opens it
            sect = _section_type(_override_target(".".join(parts[: i + 1]), ctx.root, where))
            short = getattr(sect, "__config_shorthand__", None)
            nxt = node[part] = {short: nxt} if short is not None and nxt is not None else {}
        node = nxt
    node[parts[-1]] = value  # a whole-section value replaces that section, it is not merged
    for k in [k for k in ctx.origins if k.startswith((key + ".", key + "["))]:
        del ctx.origins[k]
    ctx.origins[key] = where


# --------------------------------------------------------------------------- public API


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = (),
                data: Mapping | None = None) -> T:
    """Build ``cls`` from its defaults, then the YAML file at ``path`` (or the nested mapping ``data``, read
    as that file would be), then ``overrides`` in order.

    Overrides are ``dotted.key=value`` strings with YAML-syntax values. Raises
    :class:`ConfigError` for unknown keys, wrong types and ``__post_init__`` failures.
    """
    if not _is_dc_type(cls):
        raise TypeError(f"load_config needs a dataclass type, got {cls!r}")
    if isinstance(overrides, str):
        raise TypeError("overrides must be a sequence of KEY=VALUE strings, not a single string")
    if path is not None and data is not None:
        raise TypeError("give a YAML path or a mapping, not both")
    default_loc = str(path) if path is not None else "config mapping" if data is not None else None
    ctx = _Ctx(root=cls, default_loc=default_loc, origins={})
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(f"the config must be a mapping of config keys, got {type(data).__name__}")
    raw = _read_yaml(Path(path), ctx.origins) if path is not None else _plain(data) if data is not None else {}
    for item in overrides:
        _apply_override(raw, item, ctx)
    obj = _build(raw, cls, "", ctx)
    # where each key came from, for checks that can only run later (names registered by plugins, say)
    object.__setattr__(obj, "_config_origins", ctx)
    return obj


def build_section(cls: type[T], value: Mapping, key: str, like: Any = None) -> T:
    """``cls`` (a dataclass) from a plain mapping that sits at ``key`` of a loaded config (a plugin's own options,
    say): the same checks and messages as :func:`load_config`, located in ``like``'s file when it has one."""
    src = getattr(like, "_config_origins", None)
    if isinstance(src, _Ctx):
        ctx = _Ctx(root=cls, default_loc=src.default_loc, origins=dict(src.origins))
    else:
        ctx = _Ctx(root=cls, default_loc=None, origins={})
    return _build(dict(value or {}), cls, key, ctx)


def config_error(obj: Any, key: str, msg: str) -> ConfigError:
    """A ConfigError about ``key`` of a loaded config, located like a load-time one (``file:line`` or the
    override) when ``obj`` came from :func:`load_config`."""
    ctx = getattr(obj, "_config_origins", None)
    return ctx.error(key, msg) if isinstance(ctx, _Ctx) else ConfigError(msg)


def _section_over_default(cls: type, default: Mapping, given: Mapping) -> dict:
    """The keys `given` for section `cls` over its parent's default values; only nested sections merge key by
    key (a dict-valued knob such as level_mix is replaced whole, as written)."""
    out = dict(default)
    fields = _fields(cls)
    for k, v in given.items():
        if k in fields and _is_dc_type(fields[k][1]) and isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            v = _section_over_default(fields[k][1], out[k], v)
        out[k] = v
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    return value


def config_to_dict(obj: Any) -> dict[str, Any]:
    """Plain, YAML-safe nested dict of a config instance (tuples -> lists, paths -> str)."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"config_to_dict needs a dataclass instance, got {obj!r}")
    return _plain(obj)


def save_config(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as YAML that :func:`load_config` reads back to an equal object."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(config_to_dict(obj), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return p


def _inline_yaml(value: Any) -> str:
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10**6, allow_unicode=True).strip()
    return text.removesuffix("\n...").strip()


def _format_default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return _inline_yaml(f.default)
    if f.default_factory is not dataclasses.MISSING:
        try:
            return _inline_yaml(f.default_factory())
        except Exception:  # a factory that cannot run here should not break --help-config
            return "<factory>"
    return "(required)"


def describe_config(cls: type) -> str:
    """Human-readable listing of every dotted key with type, default and help (``--help-config``)."""
    if not _is_dc_type(cls):
        raise TypeError(f"describe_config needs a dataclass type, got {cls!r}")
    lines = [f"{cls.__name__} keys (nest them in YAML, or override with dotted KEY=VALUE):"]

    def add_help(f: dataclasses.Field) -> None:
        text = f.metadata.get("help")
        if text:
            lines.extend(textwrap.wrap(str(text), width=88, initial_indent="    ", subsequent_indent="    "))

    def walk(c: type, prefix: str, stack: frozenset[type]) -> None:
        for name, (f, tp) in _fields(c).items():
            key = _join(prefix, name)
            sect = _section_type(tp)
            if sect is not None and sect not in stack:
                suffix = " = null" if f.default is None else ""
                lines.extend(["", f"{key}: {_type_name(tp)} section{suffix}"])
                add_help(f)
                walk(sect, key, stack | {sect})
            else:
                lines.append(f"{key}: {_type_name(tp)} = {_format_default(f)}")
                add_help(f)

    walk(cls, "", frozenset({cls}))
    return "\n".join(lines)
