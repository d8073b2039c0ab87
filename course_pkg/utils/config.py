"""One config type for every run: a typed dataclass, read like a mapping, stored as JSON.

Every run is a :class:`Config`: the sinusoid's :class:`~course_pkg.algorithms.training.MetaConfig`,
the few-shot :class:`~course_pkg.experiments.fewshot.config.FewShotConfig`, the RL
:class:`~course_pkg.experiments.rl.RLConfig`. Fields are typed and checked when a config is
built (the error names the field); :meth:`Config.from_dict` refuses unknown keys;
:meth:`Config.to_dict` is the dict stored with a checkpoint, the cache key of
:func:`course_pkg.checkpoints.load_or_train`. A config reads as a mapping of its set fields
(``cfg["inner_lr"]``, ``{**cfg}``, ``cfg.get(...)``) and by attribute; :meth:`Config.replace`
returns a changed copy. A field left at ``None`` is unset (not stored) unless the class sets
``KEEP_NONE``; ``REQUIRED`` names the fields that must be set.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, TypeVar

C = TypeVar("C", bound="Config")

_SIMPLE = {int: (int,), float: (int, float), str: (str,), bool: (bool,), list: (list, tuple),
           dict: (dict, Mapping), tuple: (list, tuple)}


def _allowed(tp: Any) -> tuple[type, ...] | None:
    """The runtime types a field annotated ``tp`` accepts (None: not checked)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        out: list[type] = []
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            got = _allowed(arg)
            if got is None:
                return None
            out.extend(got)
        return tuple(out)
    base = origin or tp
    if isinstance(base, type) and issubclass(base, Config):
        return (base, Mapping)
    return _SIMPLE.get(base)


def plain(value: Any) -> Any:
    """JSON-ready copy of ``value``: configs → dicts, other mappings → dicts, tuples → lists."""
    if isinstance(value, Config):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True, eq=False)
class Config(Mapping[str, Any]):
    """Base of the course's run configs (see the module docstring)."""

    #: Store fields whose value is ``None`` too (else ``None`` means "not set").
    KEEP_NONE: ClassVar[bool] = False
    #: Fields that must be set.
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        missing = [name for name in self.REQUIRED if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {type(self).__name__} needs {', '.join(missing)}")
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            allowed = _allowed(hints[f.name])
            if allowed is None:
                continue
            if bool in (type(value),) and bool not in allowed:  # True is an int; not a count
                allowed = ()
            if not isinstance(value, allowed):
                raise TypeError(f"{type(self).__name__}.{f.name} must be {hints[f.name]}, got "
                                f"{value!r} ({type(value).__name__})")
            nested = [t for t in allowed if isinstance(t, type) and issubclass(t, Config)]
            if nested and not isinstance(value, Config):
                object.__setattr__(self, f.name, nested[0].from_dict(value))

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """The config with ``data``'s keys; unknown keys raise a ``KeyError`` naming them."""
        if isinstance(data, cls):
            return data
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise KeyError(f"{cls.__name__} has no field(s) {unknown}; its fields are "
                           f"{sorted(names)}")
        return cls(**dict(data))

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (unknown names raise a ``KeyError``)."""
        return type(self).from_dict({**self.to_dict(), **changes})

    # ------------------------------------------------------------------ storing
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict stored with a checkpoint (the cache key)."""
        return {k: plain(v) for k, v in self._set_items()}

    def key(self) -> str:
        """The canonical JSON text of :meth:`to_dict` (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    # ------------------------------------------------------------------ mapping view
    def _set_items(self) -> Iterator[tuple[str, Any]]:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None or self.KEEP_NONE:
                yield f.name, value

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(key)
        value = getattr(self, key)
        if value is None and not self.KEEP_NONE:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._set_items())

    def __len__(self) -> int:
        return sum(1 for _ in self._set_items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.to_dict() == plain(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  (a mapping, compared by value)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._set_items())
        return f"{type(self).__name__}({inner})"
