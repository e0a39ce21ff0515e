"""Typed runtime settings: ints, floats, bools and strings in their own columns."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from piyasa_core.store.models import Setting

SettingValue = int | float | bool | str


def _kind(value: SettingValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    raise TypeError(f"settings hold int, float, bool or str, not {type(value).__name__}")


def set_setting(session: Session, key: str, value: SettingValue) -> None:
    """Insert or replace a setting, keeping its Python type."""
    kind = _kind(value)
    row = session.get(Setting, key) or Setting(key=key)
    row.kind = kind
    row.int_value = value if kind == "int" else None  # type: ignore[assignment]
    row.float_value = value if kind == "float" else None  # type: ignore[assignment]
    row.bool_value = value if kind == "bool" else None  # type: ignore[assignment]
    row.text_value = value if kind == "str" else None  # type: ignore[assignment]
    session.add(row)


def get_setting(session: Session, key: str, default: SettingValue | None = None) -> SettingValue | None:
    """The stored value with its type, or ``default``."""
    row = session.get(Setting, key)
    if row is None:
        return default
    return {"int": row.int_value, "float": row.float_value, "bool": row.bool_value,
            "str": row.text_value}[row.kind]


def all_settings(session: Session) -> dict[str, SettingValue | None]:
    """Every setting, typed."""
    return {row.key: get_setting(session, row.key) for row in session.scalars(select(Setting))}
