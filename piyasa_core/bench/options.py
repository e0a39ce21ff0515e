"""What a benchmark run is asked to do, validated the same way for the CLI, the TUI and the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piyasa_core.config.schema import parse_duration
from piyasa_core.errors import PiyasaError

FORMATS = ("json", "md", "html", "csv")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_DURATION = 7 * 86400.0


class BenchInputError(PiyasaError, ValueError):
    """A bad benchmark option (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class BenchOptions:
    duration: float  # simulated seconds
    time_scale: float
    sample_every: float  # simulated seconds
    out_dir: Path  # runs go to <out_dir>/<run id>/; the timeline lives in <out_dir>
    formats: tuple[str, ...] = FORMATS
    start_at: str = "10:00"  # simulated time of day the run starts at ("" → now)
    trigger: str = "cli"
    warmup: float = 60.0  # simulated seconds the workers run before the measured window opens
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def real_seconds(self) -> float:
        return self.duration / self.time_scale


def _number(where: str, value: object, *, positive: bool = True) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BenchInputError(f"{where}: {value!r} is not a number") from None
    if positive and not number > 0:
        raise BenchInputError(f"{where}: {value!r} must be greater than 0")
    return number


def _duration(where: str, value: object, *, allow_zero: bool = False) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise BenchInputError(f"{where}: {value!r}: {exc}") from None
    if not (0 <= seconds if allow_zero else 0 < seconds) or seconds > MAX_DURATION:
        raise BenchInputError(f"{where}: {value!r} must be {'0 or more' if allow_zero else 'more than 0'} "
                              "and at most 7 days")
    return seconds


def parse_duration_text(name: str, value: object) -> float:
    """A duration for a field called ``name`` (the TUI's dialog), or :class:`BenchInputError`."""
    return _duration(name, value)


def parse_formats(where: str, value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if items is None:
        raise BenchInputError(f"{where}: {value!r} is not a list of formats ({', '.join(FORMATS)})")
    names = [str(i).strip().lower() for i in items if str(i).strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise BenchInputError(f"{where}: unknown format {', '.join(map(repr, unknown)) or repr(value)}; "
                              f"choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


def api_label(key: str) -> str:
    return f'benchmark field "{key}"'


def resolve_options(config: Any, given: dict[str, Any], *, trigger: str,
                    label: Callable[[str], str] = api_label) -> BenchOptions:
    """`[benchmark]` defaults overridden by ``given`` (CLI flags or the API's JSON body); every bad
    value raises :class:`BenchInputError` naming the option (``label(key)``) and the value."""
    bench = config.settings.benchmark
    known = {"duration", "time_scale", "sample_every", "out", "out_dir", "format", "formats", "start_at", "warmup",
             "action"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise BenchInputError(f"benchmark: unknown option {', '.join(map(repr, unknown))}; "
                              f"known: duration, time_scale, sample_every, out, formats, start_at, warmup")
    duration = _duration(label("duration"), given["duration"]) if given.get("duration") is not None \
        else bench.duration
    scale = _number(label("time_scale"), given["time_scale"]) if given.get("time_scale") is not None \
        else bench.time_scale
    if scale > 10000:
        raise BenchInputError(f"{label('time_scale')}: {scale:g} is above the limit of 10000")
    every = _duration(label("sample_every"), given["sample_every"]) if given.get("sample_every") is not None \
        else bench.sample_every
    if every > duration:
        raise BenchInputError(f"{label('sample_every')}: {every:g} s is longer than the run ({duration:g} s)")
    raw_out = given.get("out") or given.get("out_dir")
    out = Path(str(raw_out)).expanduser() if raw_out else (Path(bench.out_dir) if bench.out_dir
                                                             else config.data_dir / "bench")
    if out.exists() and not out.is_dir():
        raise BenchInputError(f"{label('out')}: {str(out)!r} exists and is not a directory")
    fmt = given.get("formats", given.get("format"))
    formats = parse_formats(label("formats"), fmt) if fmt is not None else FORMATS
    start_at = str(given["start_at"]) if given.get("start_at") is not None else bench.start_at
    if start_at and not _CLOCK.match(start_at):
        raise BenchInputError(f"{label('start_at')}: {start_at!r} is not a time like 10:00 (or empty for now)")
    warmup = _duration(label("warmup"), given["warmup"], allow_zero=True) if given.get("warmup") is not None \
        else bench.warmup
    return BenchOptions(duration=duration, time_scale=scale, sample_every=every, out_dir=out, formats=formats,
                        start_at=start_at, trigger=trigger, warmup=warmup)
