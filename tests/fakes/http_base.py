"""Server plumbing shared by the fake HTTP servers (stdlib only).

``FakeHTTPServerBase`` binds a threaded HTTP server on ``host:port`` and serves it from a daemon thread
(``start`` / ``stop``, ``url`` / ``port``, a context manager); ``FakeHandlerBase`` reads a request body,
asks the subclass for an answer and writes it as JSON; ``main_parser`` and ``serve_until_signalled``
are the standalone ``main()`` of a fake.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

__all__ = [
    "Answer",
    "FakeHTTPServerBase",
    "FakeHandlerBase",
    "ThreadedHTTPServer",
    "main_parser",
    "send_json",
    "serve_until_signalled",
]

Answer = tuple[int, Any, Mapping[str, str]]
"""(status, JSON body, extra headers) of one response."""

_F = TypeVar("_F", bound="FakeHTTPServerBase")


class ThreadedHTTPServer(ThreadingHTTPServer):
    """A thread per connection; ``fake`` is the server object the handlers answer for."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many concurrent clients connect at once in benchmarks
    fake: Any


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> None:
    """Write ``payload`` as a JSON response (then ``headers``); a client that already left closes the connection."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
        handler.close_connection = True


class FakeHandlerBase(BaseHTTPRequestHandler):
    """GET and POST go to ``answer(raw_body)``; its JSON answer is sent, None drops the connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the 40 ms Nagle/delayed-ACK stall
    content_type: ClassVar[str] = "application/json"
    server: ThreadedHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    do_POST = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access logs (they may hold tokens)
        pass

    def answer(self, raw: bytes) -> Answer | None:
        """The response to this request (``self.command``, ``self.path``, ``self.headers``, body ``raw``)."""
        raise NotImplementedError

    def bug_body(self, trace: str) -> Any:
        """The JSON body of the 500 sent when ``answer`` raised (a bug in the fake)."""
        return {"error": {"message": "fake server bug", "trace": trace}}

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            answer = self.answer(raw)
        except Exception:  # a bug in the fake: make it visible to the test
            answer = 500, self.bug_body(traceback.format_exc()), {}
        if answer is None:  # shutting down
            self.close_connection = True
            return
        status, payload, headers = answer
        send_json(self, status, payload, headers, self.content_type)


class FakeHTTPServerBase:
    """Serves ``handler_class`` on ``host:port`` (0: any free port) from a daemon thread; a context manager.

    ``_stopping`` is set once ``stop`` begins, so that sleeping handlers can give up.
    """

    handler_class: ClassVar[type[FakeHandlerBase]]
    thread_name: ClassVar[str] = "fake-http-server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self._port = host, port
        self._stopping = threading.Event()
        self._httpd: ThreadedHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self: _F) -> _F:
        """Bind and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        httpd = ThreadedHTTPServer((self.host, self._port), self.handler_class)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (``_on_stop`` wakes waiting handlers; sleeping ones are dropped)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        self._on_stop()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _on_stop(self) -> None:
        """Called once ``_stopping`` is set, before the server shuts down."""

    def __enter__(self: _F) -> _F:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._httpd is None:
            raise RuntimeError("not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"


def main_parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """A standalone fake's argument parser with ``--host`` and ``--port`` (the first line of ``doc`` describes it)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    return parser


def serve_until_signalled(server: FakeHTTPServerBase) -> int:
    """Run ``server`` until SIGTERM/SIGINT, printing its URL on stdout; returns the exit status 0."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(server.url, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0
