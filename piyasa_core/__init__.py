"""piyasa core: the headless engine, store, LLM and Telegram layers (never imports the UI)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("piyasa")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
