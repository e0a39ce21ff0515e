"""Shared by the benchmark tests: the report's top-level keys and the JSON Schema validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

import piyasa_core.bench

REPORT_KEYS = {"schema", "run", "totals", "pace", "latency", "capacity", "tokens", "cache", "errors", "restarts",
               "duplicates", "quality", "people", "criteria", "passed", "samples"}
SCHEMA_PATH = Path(piyasa_core.bench.__file__).with_name("schema.json")


def validate_report(report: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when ``report`` does not match schema.json."""
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def criteria(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["criteria"]}
