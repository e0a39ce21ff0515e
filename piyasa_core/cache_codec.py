"""What the cache may hold, and how it travels through Redis (JSON, never pickle).

Cacheable values are plain immutable data:

* ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes`` (exact types, no subclasses);
* ``tuple`` and ``frozenset`` of cacheable values;
* ``types.MappingProxyType`` (a read-only mapping) with cacheable keys and values - the
  mapping behind the proxy must not be mutated afterwards;
* timezone-aware ``datetime`` (naive ones are refused);
* instances of *registered* frozen dataclasses whose fields are cacheable (recursively).
  Only registered classes can be rebuilt from Redis, so they are the only ones accepted
  at all: a value is either cacheable in both layers or refused up front.

Everything else - ORM objects (anything with ``_sa_instance_state``), lists, dicts, sets,
naive datetimes, unregistered classes - raises ``TypeError`` naming the offending path.

Wire format (UTF-8 JSON after a ``pc1:`` version prefix): JSON scalars stand for
themselves, a JSON array is a tuple (lists are never cached, so this is unambiguous), and
every other value is a one-key object: ``{"b": base64}`` bytes, ``{"fs": [...]}``
frozenset, ``{"m": [[k, v], ...]}`` mapping, ``{"dt": iso}`` aware UTC datetime (decoded
through :func:`piyasa_core.timeutil.as_utc`), ``{"dc": "module.Class", "f": {...}}``
dataclass. Decoding only instantiates classes on the allow-list built by :func:`register`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import weakref
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

from piyasa_core.engine import types as engine_types
from piyasa_core.timeutil import as_utc

__all__ = ["CodecError", "check_value", "decode", "encode", "register", "registered"]

PREFIX = b"pc1:"
_SCALARS = (type(None), bool, int, float, str)
_REGISTRY: dict[str, type] = {}
_T = TypeVar("_T", bound=type)


class CodecError(ValueError):
    """Bytes read back from Redis that are not a value this codec wrote."""


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register(cls: _T) -> _T:
    """Put a frozen dataclass on the allow-list (usable as a class decorator)."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{_path(cls)} is not frozen: only frozen dataclasses can be cached")
    if any(not f.init for f in dataclasses.fields(cls)):
        raise TypeError(f"{_path(cls)} has init=False fields and cannot be rebuilt")
    _REGISTRY[_path(cls)] = cls
    return cls


def registered() -> frozenset[str]:
    """Dotted paths of the classes the codec will rebuild."""
    return frozenset(_REGISTRY)


# Frozen dataclass instances already checked (they cannot change, so once is enough). A history
# tuple of 50 lines is re-cached on every send; re-walking every field each time was the hot spot.
_CHECKED: "weakref.WeakSet[Any]" = weakref.WeakSet()


def check_value(value: Any, where: str = "value") -> None:
    """Raise ``TypeError`` unless ``value`` is plain immutable data (see the module doc)."""
    kind = type(value)
    if kind in _SCALARS or kind is bytes:
        return
    if hasattr(value, "_sa_instance_state"):
        raise TypeError(f"{where}: {kind.__name__} is an ORM object; cache a frozen dataclass "
                        "built from it instead (ORM objects detach and go stale)")
    if kind is tuple or kind is frozenset:
        for index, item in enumerate(value):
            check_value(item, f"{where}[{index}]")
        return
    if kind is MappingProxyType:
        for key, item in value.items():
            check_value(key, f"{where} key {key!r}")
            check_value(item, f"{where}[{key!r}]")
        return
    if kind is datetime:
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise TypeError(f"{where}: naive datetime {value!r}; cache aware UTC datetimes "
                            "(piyasa_core.timeutil.as_utc) or epoch floats")
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if _REGISTRY.get(_path(kind)) is not kind:
            raise TypeError(f"{where}: {_path(kind)} is not a registered cacheable dataclass "
                            "(piyasa_core.cache_codec.register)")
        try:
            if value in _CHECKED:
                return
        except TypeError:  # unhashable field values: check every time
            pass
        for f in dataclasses.fields(value):
            check_value(getattr(value, f.name), f"{where}.{f.name}")
        try:
            _CHECKED.add(value)
        except TypeError:
            pass
        return
    if kind in (list, dict, set, bytearray):
        raise TypeError(f"{where}: {kind.__name__} is mutable; use tuple, frozenset or "
                        "types.MappingProxyType")
    raise TypeError(f"{where}: {_path(kind)} is not plain immutable data")


def _to_json(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple:
        return [_to_json(item) for item in value]
    if kind is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    if kind is frozenset:
        return {"fs": [_to_json(item) for item in value]}
    if kind is MappingProxyType:
        return {"m": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if kind is datetime:
        return {"dt": as_utc(value).isoformat()}
    return {"dc": _path(kind),
            "f": {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}}


def _from_json(data: Any) -> Any:
    if isinstance(data, list):
        return tuple(_from_json(item) for item in data)
    if not isinstance(data, dict):
        return data
    if "dc" in data:
        cls = _REGISTRY.get(data["dc"])
        if cls is None:
            raise CodecError(f"class {data['dc']!r} is not on the cache allow-list")
        return cls(**{name: _from_json(item) for name, item in data["f"].items()})
    if "b" in data:
        return base64.b64decode(data["b"])
    if "fs" in data:
        return frozenset(_from_json(item) for item in data["fs"])
    if "m" in data:
        return MappingProxyType({_from_json(k): _from_json(v) for k, v in data["m"]})
    if "dt" in data:
        return as_utc(data["dt"])
    raise CodecError(f"unknown tag in {sorted(data)!r}")


def encode(value: Any) -> bytes:
    """Check ``value`` and turn it into bytes for Redis."""
    check_value(value)
    text = json.dumps(_to_json(value), ensure_ascii=False, separators=(",", ":"))
    return PREFIX + text.encode("utf-8")


def decode(payload: bytes | str) -> Any:
    """Rebuild a value from bytes :func:`encode` wrote (``CodecError`` on anything else)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if not payload.startswith(PREFIX):
        raise CodecError("payload lacks the cache codec prefix")
    try:
        return _from_json(json.loads(payload[len(PREFIX):].decode("utf-8")))
    except CodecError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise CodecError(f"corrupt cache payload: {exc}") from exc


for _cls in (engine_types.Stance, engine_types.Holding, engine_types.BotProfile,
             engine_types.ChatInfo, engine_types.HistoryLine, engine_types.Quote,
             engine_types.MarketSnapshot, engine_types.Turn):
    register(_cls)
