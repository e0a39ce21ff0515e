"""Cache hit rates: L1 and L2, per worker and in total ("L2 not configured" when there is no Redis)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import var

from piyasa_tui.widgets.common import Frame, count, hit_rate, percent
from piyasa_tui.widgets.panel import SnapshotPanel


class CachePanel(SnapshotPanel):
    frame: var[Frame | None] = var(None, init=False)
    compact: var[bool] = var(False)  # no border (short terminals)

    def on_mount(self) -> None:
        self.border_title = "Cache"

    def watch_frame(self) -> None:
        self._show()

    def watch_compact(self) -> None:
        self._show()

    def _show(self) -> None:
        frame = self.frame
        content = Text() if frame is None else self.build(frame, compact=self.compact)
        self.show(content, lambda: content)

    @staticmethod
    def build(frame: Frame, *, compact: bool) -> Text:
        snap = frame.snapshot
        totals = snap.cache_totals or {}
        text = Text()
        if compact:
            text.append("Cache ", "bold")
        else:
            text.append("total ", "bold")

        def layer(name: str, rate: float | None, hits: int, misses: int) -> None:
            text.append(f"{name} ")
            text.append(percent(rate), "bold green" if rate is not None else "dim")
            if hits + misses:
                text.append(f" ({count(hits)}/{count(hits + misses)})", "dim")

        layer("L1", totals.get("l1_hit_rate"), int(totals.get("l1_hits", 0) or 0), int(totals.get("l1_misses", 0) or 0))
        text.append(" · " if compact else "   ", "dim")
        if snap.l2_configured:
            layer("L2", totals.get("l2_hit_rate"), int(totals.get("l2_hits", 0) or 0), int(totals.get("l2_misses", 0) or 0))
            errors = int(totals.get("l2_errors", 0) or 0)
            if errors:
                text.append(f" {errors} errors", "yellow")
        else:
            text.append("L2 not configured", "yellow")
        workers = sorted(snap.workers, key=lambda w: w.worker_id)
        if workers:
            text.append("\n")
            text.append("L1/L2 " if snap.l2_configured else "L1 ", "dim")
            for i, w in enumerate(workers):
                if i:
                    text.append("  ")
                text.append(f"w{w.worker_id} ", "bold")
                text.append(percent(hit_rate(w.cache, "l1")))
                if snap.l2_configured:
                    text.append("/" + percent(hit_rate(w.cache, "l2")), "dim")
        return text
