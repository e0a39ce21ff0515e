"""A Static that redraws only when what it shows changed, and asks for a layout pass only when its
height changed (a layout of the whole screen at 10 Hz is what made keys slow under a feed flood)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from rich.console import RenderableType
from textual.reactive import var
from textual.widgets import Static


class SnapshotPanel(Static):
    """Call :meth:`show` with a key that changes whenever the content would; ``build`` runs only then."""

    _shown_key: Hashable = object()

    def show(self, key: Hashable, build: Callable[[], RenderableType]) -> None:
        if key == self._shown_key:
            return
        self._shown_key = key
        old_height = self.content_region.height
        self.update(build(), layout=False)
        region = self.content_region
        if not region.width or self.get_content_height(region.size, self.app.size, region.width) != old_height:
            self.refresh(layout=True)

    def forget(self) -> None:
        """Make the next :meth:`show` redraw (after a resize or a style change)."""
        self._shown_key = object()


class FrameLine(SnapshotPanel):
    """A line drawn from the current frame and the width: redrawn when either changes (``_show``)."""

    frame: var[Any] = var(None, init=False)  # a widgets.common.Frame (not imported: common imports panels)

    def watch_frame(self) -> None:
        self._show()

    def on_resize(self) -> None:
        self._show()

    def _show(self) -> None:
        raise NotImplementedError
