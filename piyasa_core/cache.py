"""Two-level cache for the workers (DESIGN.md section 9): L1 per process, L2 Redis.

L1 is a ``cachetools.TTLCache`` (LRU eviction + TTL, clock injectable); L2 is an optional
``redis.asyncio.Redis`` client (owned by the caller, never closed here). Both layers hold
plain immutable data only, checked on every ``set`` (see :mod:`piyasa_core.cache_codec`);
L2 payloads are JSON, never pickle. Any L2 failure - connection refused, timeout, corrupt
payload - is counted in ``stats.l2_errors``, logged at most once a minute, and the call
carries on with L1 / the loader. After a failure L2 is skipped for ``l2_retry_after``
seconds so a dead Redis costs one failed attempt per period, not one per lookup.

Cross-worker invalidation (chat history) uses versioned namespaces:

* Redis holds one counter per namespace, ``{prefix}:ver:{namespace}``. It is seeded with the
  wall clock in milliseconds the first time it is needed (``SET NX``), so a Redis restart or
  an evicted counter starts far above every version handed out before and can never bring
  an old version - and its stale L1 entries - back. ``bump`` is an ``INCR``.
* Versioned entries live under ``{namespace}@{version}:{key}``; a bump makes every worker's
  next lookup use a new key and miss, old entries simply age out.
* Each worker keeps the namespace version in a separate small L1 map for ``version_ttl``
  seconds (default 0.5), so a history read costs no Redis round trip for the version on
  most reads, and staleness after another worker's bump is bounded by ``version_ttl``.
* ``await cache.start()`` additionally subscribes to ``{prefix}:invalidate``; ``bump``
  publishes ``"{namespace} {version}"`` there and every subscribed worker installs the new
  version at once (typically a millisecond or two). Pub/sub is fire-and-forget, so the
  short TTL stays as the safety net; after a (re)subscribe all cached versions are dropped.
* Callers bump *after* the new message is committed to the database, otherwise a worker
  could load the old history under the new version.
* If the ``INCR`` fails (Redis down), ``bump`` drops this worker's L1 entries of the
  namespace so at least the sender reads fresh data; other workers cannot be told.

Without L2 the versions are per-process counters and everything stays local.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache

from piyasa_core.cache_codec import CodecError, check_value, decode, encode

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["Cache", "CacheStats"]

log = logging.getLogger(__name__)
_MISSING: Any = object()
_LOG_EVERY = 60.0


class KindStats:
    """Lookups, loads and their cost for one kind of entry (the key's first part: ``history``,
    ``market``, ``system-prompt``): what the benchmark reports the cache saved."""

    __slots__ = ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "loads", "load_seconds", "l2_seconds")
    FIELDS = __slots__

    def __init__(self) -> None:
        self.l1_hits = self.l1_misses = self.l2_hits = self.l2_misses = self.loads = 0
        self.load_seconds = 0.0  # time spent in loaders (a database read for history)
        self.l2_seconds = 0.0  # time spent asking Redis after L1 misses


def kind_of(key: str) -> str:
    """The kind of a cache key: its part before the first ``:``."""
    return key.split(":", 1)[0]


class CacheStats:
    """Per-layer lookup counters of one process (feeds the TUI, metrics and the benchmark).

    ``l1_*`` count every lookup, ``l2_*`` only lookups that reached Redis after an L1 miss;
    ``l2_errors`` counts failed (or skipped, while backing off) Redis operations of any kind
    - those lookups are neither L2 hits nor L2 misses. ``kinds`` splits lookups and loads by the
    kind of entry, with the time loaders and Redis took.
    """

    __slots__ = ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors",
                 "loads", "invalidations_received", "kinds")
    COUNTERS = ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors", "loads", "invalidations_received")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.l1_hits = self.l1_misses = self.l2_hits = self.l2_misses = self.l2_errors = 0
        self.loads = 0  # loader calls made by get_or_load*
        self.invalidations_received = 0  # pub/sub messages applied
        self.kinds: dict[str, KindStats] = {}

    def kind(self, key: str) -> KindStats:
        name = kind_of(key)
        stats = self.kinds.get(name)
        if stats is None:
            stats = self.kinds[name] = KindStats()
        return stats

    def hit_rate(self, layer: str) -> float | None:
        """Hits / (hits + misses) of ``"l1"``, ``"l2"`` or ``"any"`` (served from either
        layer, per lookup); ``None`` before the first lookup of that layer."""
        if layer == "l1":
            hits, total = self.l1_hits, self.l1_hits + self.l1_misses
        elif layer == "l2":
            hits, total = self.l2_hits, self.l2_hits + self.l2_misses
        elif layer == "any":
            hits, total = self.l1_hits + self.l2_hits, self.l1_hits + self.l1_misses
        else:
            raise ValueError(f"unknown cache layer {layer!r} (l1, l2 or any)")
        return hits / total if total else None

    def as_dict(self) -> dict[str, int | float | None]:
        """Flat counters (``<kind>.<field>`` for the per-kind ones) and the hit rates."""
        data: dict[str, int | float | None] = {name: getattr(self, name) for name in self.COUNTERS}
        for layer in ("l1", "l2", "any"):
            data[f"{layer}_hit_rate"] = self.hit_rate(layer)
        for name, stats in sorted(self.kinds.items()):
            for field in KindStats.FIELDS:
                data[f"{name}.{field}"] = getattr(stats, field)
        return data

    def __repr__(self) -> str:
        return f"CacheStats({self.as_dict()})"


class _Entry:
    __slots__ = ("value", "expires")

    def __init__(self, value: Any, expires: float | None) -> None:
        self.value, self.expires = value, expires


class Cache:
    """L1 (LRU + TTL, per process) in front of an optional L2 (Redis, shared)."""

    def __init__(self, *, l1_max_items: int, l1_ttl: float, l2: redis.asyncio.Redis | None,
                 l2_ttl: float, prefix: str = "piyasa", clock: Callable[[], float] = time.monotonic,
                 version_ttl: float = 0.5, version_max_items: int = 4096,
                 l2_retry_after: float = 1.0) -> None:
        if l1_max_items < 1 or l1_ttl <= 0 or l2_ttl <= 0 or version_ttl <= 0:
            raise ValueError("cache sizes and TTLs must be positive")
        self._clock = clock
        self._l1: TTLCache[str, _Entry] = TTLCache(l1_max_items, l1_ttl, timer=clock)
        self._versions: TTLCache[str, int] = TTLCache(version_max_items, version_ttl, timer=clock)
        self._local_versions: dict[str, int] = {}
        self._l1_ttl, self._l2_ttl = l1_ttl, l2_ttl
        self._l2 = l2
        self._prefix = prefix
        self.channel = f"{prefix}:invalidate"
        self._retry_after = l2_retry_after
        self._l2_down_until = float("-inf")
        self._last_log = float("-inf")
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.stats = CacheStats()

    @property
    def l2_configured(self) -> bool:
        return self._l2 is not None

    @property
    def subscribed(self) -> bool:
        """True while the pub/sub listener holds a live subscription."""
        return self._subscribed.is_set()

    # ---- plain keys ----------------------------------------------------------------------

    async def get(self, key: str) -> Any | None:
        """The cached value or ``None`` (a cached ``None`` looks like a miss here)."""
        value = await self._lookup(key)
        return None if value is _MISSING else value

    async def set(self, key: str, value: Any, *, ttl: float | None = None, checked: bool = False) -> None:
        """Store in both layers; ``ttl`` overrides both layers' TTL (L1 never exceeds l1_ttl).

        ``checked=True`` skips the plain-data check when the caller built ``value`` only from parts
        that already passed it (the engine's write-through of a history tuple plus one new line)."""
        if not checked:
            check_value(value)
        self._l1_put(key, value, ttl)
        if self._l2_ready():
            try:
                await self._l2.set(self._l2_key(key), encode(value),  # type: ignore[union-attr]
                                   px=max(1, int((ttl or self._l2_ttl) * 1000)))
            except Exception as exc:  # noqa: BLE001 - L2 must never break the caller
                self._l2_failed("set", exc)

    async def get_or_load(self, key: str, loader: Callable[[], Awaitable[Any]], *,
                          ttl: float | None = None) -> Any:
        """Cached value, else ``await loader()`` stored in both layers (``None`` is cached too)."""
        value = await self._lookup(key)
        if value is _MISSING:
            self.stats.loads += 1
            kind = self.stats.kind(key)
            started = time.perf_counter()
            value = await loader()
            kind.loads += 1
            kind.load_seconds += time.perf_counter() - started
            await self.set(key, value, ttl=ttl)
        return value

    async def delete(self, key: str) -> None:
        self._l1.pop(key, None)
        if self._l2_ready():
            try:
                await self._l2.delete(self._l2_key(key))  # type: ignore[union-attr]
            except Exception as exc:  # noqa: BLE001
                self._l2_failed("delete", exc)

    def clear_l1(self) -> None:
        """Forget everything this process holds (L2 is untouched)."""
        self._l1.clear()
        self._versions.clear()

    # ---- versioned namespaces -------------------------------------------------------------

    async def version(self, namespace: str) -> int:
        """Current version of ``namespace`` (L1 for ``version_ttl`` seconds, else Redis)."""
        cached = self._versions.get(namespace)
        if cached is not None:
            return cached
        if not self._l2_ready():
            current = self._local_versions.get(namespace, 0)
            if self._l2 is None:
                return current  # purely local: nothing to cache
            self._versions[namespace] = current  # L2 down: retry Redis after version_ttl
            return current
        try:
            counter = self._version_key(namespace)
            raw = await self._l2.get(counter)  # type: ignore[union-attr]
            if raw is None:  # first use, or the counter was lost: seed it above any old one
                pipe = self._l2.pipeline(transaction=False)  # type: ignore[union-attr]
                pipe.set(counter, time.time_ns() // 1_000_000, nx=True)
                pipe.get(counter)
                raw = (await pipe.execute())[1]
            current = int(raw)
        except Exception as exc:  # noqa: BLE001
            self._l2_failed("version", exc)
            current = self._local_versions.get(namespace, 0)
        self._remember_version(namespace, current)
        return current

    async def bump(self, namespace: str) -> int:
        """Invalidate ``namespace`` for every worker; returns the new version."""
        if self._l2 is None:
            current = self._local_versions.get(namespace, 0) + 1
            self._local_versions[namespace] = current
            return current
        if self._l2_ready():
            try:
                counter = self._version_key(namespace)
                pipe = self._l2.pipeline(transaction=False)
                pipe.set(counter, time.time_ns() // 1_000_000, nx=True)
                pipe.incr(counter)
                current = int((await pipe.execute())[1])
                self._remember_version(namespace, current)
                await self._l2.publish(self.channel, f"{namespace} {current}")
                return current
            except Exception as exc:  # noqa: BLE001
                self._l2_failed("bump", exc)
        # Redis unreachable: other workers cannot be told; make sure this one reads fresh data.
        marker = f"{namespace}@"
        for key in [k for k in list(self._l1.keys()) if k.startswith(marker)]:
            self._l1.pop(key, None)
        return self._versions.get(namespace) or self._local_versions.get(namespace, 0)

    async def get_versioned(self, namespace: str, key: str) -> Any | None:
        return await self.get(self._versioned_key(namespace, key, await self.version(namespace)))

    async def set_versioned(self, namespace: str, key: str, value: Any, *,
                            ttl: float | None = None, checked: bool = False) -> None:
        full = self._versioned_key(namespace, key, await self.version(namespace))
        await self.set(full, value, ttl=ttl, checked=checked)

    async def get_or_load_versioned(self, namespace: str, key: str,
                                    loader: Callable[[], Awaitable[Any]], *,
                                    ttl: float | None = None) -> Any:
        full = self._versioned_key(namespace, key, await self.version(namespace))
        return await self.get_or_load(full, loader, ttl=ttl)

    # ---- pub/sub listener -----------------------------------------------------------------

    async def start(self, *, timeout: float = 2.0) -> bool:
        """Start the invalidation listener (no-op without L2); True once subscribed.

        Returns False if no subscription came up within ``timeout``; the listener keeps
        retrying in the background and ``version_ttl`` bounds staleness meanwhile.
        """
        if self._l2 is None:
            return False
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name=f"cache-listener:{self._prefix}")
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        """Stop the listener (the L2 client belongs to the caller and stays open)."""
        task, self._listener = self._listener, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._subscribed.clear()

    async def __aenter__(self) -> Cache:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._l2.pubsub(ignore_subscribe_messages=True)  # type: ignore[union-attr]
            try:
                await pubsub.subscribe(self.channel)
                self._versions.clear()  # anything published while we were away is lost
                self._subscribed.set()
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._on_invalidate(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                self._l2_failed("subscribe", exc, backoff=False)
            finally:
                self._subscribed.clear()
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _on_invalidate(self, data: bytes | str) -> None:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        namespace, _, version = text.rpartition(" ")
        self.stats.invalidations_received += 1
        try:
            self._remember_version(namespace, int(version))
        except ValueError:
            self._versions.pop(text, None)

    # ---- internals ------------------------------------------------------------------------

    async def _lookup(self, key: str) -> Any:
        entry = self._l1.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= self._clock():
            self._l1.pop(key, None)
            entry = None
        kind = self.stats.kind(key)
        if entry is not None:
            self.stats.l1_hits += 1
            kind.l1_hits += 1
            return entry.value
        self.stats.l1_misses += 1
        kind.l1_misses += 1
        if self._l2 is None:
            return _MISSING
        if not self._l2_ready():
            self.stats.l2_errors += 1
            return _MISSING
        started = time.perf_counter()
        try:
            raw = await self._l2.get(self._l2_key(key))
            if raw is None:
                self.stats.l2_misses += 1
                kind.l2_misses += 1
                return _MISSING
            value = decode(raw)
        except CodecError as exc:
            self._l2_failed("decode", exc, backoff=False)
            return _MISSING
        except Exception as exc:  # noqa: BLE001
            self._l2_failed("get", exc)
            return _MISSING
        finally:
            kind.l2_seconds += time.perf_counter() - started
        self.stats.l2_hits += 1
        kind.l2_hits += 1
        self._l1_put(key, value, None)
        return value

    def _l1_put(self, key: str, value: Any, ttl: float | None) -> None:
        expires = self._clock() + ttl if ttl is not None and ttl < self._l1_ttl else None
        self._l1[key] = _Entry(value, expires)

    def _remember_version(self, namespace: str, version: int) -> None:
        # Never go back within a process: a late GET must not undo a newer pub/sub version.
        known = max(version, self._local_versions.get(namespace, version))
        self._local_versions[namespace] = known
        self._versions[namespace] = known

    def _l2_ready(self) -> bool:
        return self._l2 is not None and self._clock() >= self._l2_down_until

    def _l2_failed(self, operation: str, exc: Exception, *, backoff: bool = True) -> None:
        self.stats.l2_errors += 1
        now = self._clock()
        if backoff and self._retry_after > 0:
            self._l2_down_until = now + self._retry_after
        if now - self._last_log >= _LOG_EVERY:
            self._last_log = now
            log.warning("cache L2 (Redis) %s failed, falling back to L1/loader: %s: %s "
                        "(%d L2 errors so far; logged at most once a minute)",
                        operation, type(exc).__name__, exc, self.stats.l2_errors)

    def _l2_key(self, key: str) -> str:
        return f"{self._prefix}:c:{key}"

    def _version_key(self, namespace: str) -> str:
        return f"{self._prefix}:ver:{namespace}"

    @staticmethod
    def _versioned_key(namespace: str, key: str, version: int) -> str:
        return f"{namespace}@{version}:{key}"
