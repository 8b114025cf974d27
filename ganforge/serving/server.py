"""The HTTP service of ``ganforge serve``, on the standard library's threading HTTP server.

Routes: ``GET /`` (the page), ``GET /classes`` (JSON), ``GET /sample`` (a PNG grid), and for a
super-resolution run ``POST /upscale`` (an image in, the upscaled PNG out).
A bad request gets status 400 and a JSON ``{"error": ...}``; nothing a client sends can stop
the server. Each request draws from its own seeded random generator, so concurrent requests
neither disturb each other nor change each other's images.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Iterable
from urllib.parse import urlsplit

from ganforge.artifacts.sampling import Sampler
from ganforge.errors import GanforgeError
from ganforge.imaging import grid_png, is_image_batch
from ganforge.interfaces import Dataset
from ganforge.serving.page import PageInfo, page_count, render_page
from ganforge.serving.query import BadRequest, SampleQuery, parse_sample_query
from ganforge.serving.upscale import Upscaler

ROUTES = ("/", "/classes", "/sample")
#: the longest request target (path and query) accepted; a sample query needs under 200 bytes.
MAX_TARGET = 4096
#: seconds a connection may stay silent before the server drops it (slow or stuck clients).
IDLE_TIMEOUT = 30


class SampleServer(ThreadingHTTPServer):
    """Serves one :class:`Sampler`, and ``POST /upscale`` with ``upscaler`` when given.
    ``log`` receives one line per request (None: silent)."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], sampler: Sampler, info: PageInfo, dataset: Dataset | None = None, log: Any = None,
        upscaler: Upscaler | None = None,
    ) -> None:  # fmt: skip
        super().__init__(address, _Handler)
        self.sampler = sampler
        self.upscaler = upscaler
        self.info = info
        self.dataset = dataset
        self.log = log
        self.render_lock = threading.Lock()  # a dataset's own picture code may not be thread-safe

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def serve_until_signalled(self, signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM)) -> signal.Signals:
        """Serve until one of ``signals`` arrives; returns it. Call from the main thread.

        The handlers are installed explicitly, whatever the process inherited: a shell starts
        background jobs with SIGINT ignored, and Python then leaves it ignored, so relying on
        KeyboardInterrupt would make Ctrl-C (or a test's SIGINT) do nothing. The requests are
        served by another thread; the handler only sets an event, and the previous handlers
        come back before returning.
        """
        received: list[signal.Signals] = []
        stop = threading.Event()

        def handle(number: int, frame: FrameType | None) -> None:
            received.append(signal.Signals(number))
            stop.set()

        previous = {sig: signal.signal(sig, handle) for sig in signals}
        loop = threading.Thread(target=self.serve_forever, name="ganforge-serve", daemon=True)
        loop.start()
        try:
            while not stop.wait(0.5):  # a timeout keeps the main thread responsive to signals everywhere
                if not loop.is_alive():
                    raise RuntimeError("the serving loop ended by itself")
        finally:
            self.shutdown()
            loop.join(timeout=10)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return received[0]

    def sample_png(self, query: SampleQuery) -> bytes:
        samples = self.sampler.sample(query.n, query.seed, query.label, query.truncation)
        if is_image_batch(samples.images):
            return grid_png(samples.images, samples.nrow)
        with self.render_lock:
            return grid_png(samples.images, samples.nrow, self.dataset)


class _Handler(BaseHTTPRequestHandler):
    server: SampleServer
    server_version = "ganforge"
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line, an unknown method, a
        request line or headers too long) as JSON like every other answer: 400 for what the client
        sent, 405 for a method, never a 5xx for a client's mistake."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not supported; use GET"
        elif code in (HTTPStatus.REQUEST_URI_TOO_LONG, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE):
            code, message = HTTPStatus.BAD_REQUEST, f"request too large: {message or HTTPStatus(code).phrase}"
        self.close_connection = True
        try:
            self._json(HTTPStatus(code), {"error": message or HTTPStatus(code).phrase}, {"Connection": "close"})
        except OSError:
            pass  # the client went away

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            if len(self.path) > MAX_TARGET:
                raise BadRequest(f"request too large: the URL has {len(self.path)} characters, more than {MAX_TARGET}")
            if self._has_body():
                self.close_connection = True  # the body was not read: the connection cannot carry another request
                raise BadRequest("GET requests take no body")
            if url.path == "/":
                self._page(url.query)
            elif url.path == "/classes":
                self._classes(url.query)
            elif url.path == "/sample":
                self._sample(url.query)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {url.path}; the routes are {', '.join(ROUTES)}", "routes": list(ROUTES)})
        except BadRequest as exc:
            self._json(HTTPStatus.BAD_REQUEST, exc.body())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request, not the server
            traceback.print_exc(file=sys.stderr)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(exc).__name__}: {exc}"})

    def _has_body(self) -> bool:
        length = self.headers.get("Content-Length", "0").strip() or "0"
        return not length.isdigit() or int(length) > 0 or "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def _refuse(self) -> None:
        self.close_connection = True  # a body, if any, is never read
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{self.command} is not supported; use GET"}, {"Allow": "GET, HEAD", "Connection": "close"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse
    do_HEAD = do_GET  # the same answer without its body (``_send``), so ``curl -I`` and health checks work

    def do_POST(self) -> None:
        upscaler = self.server.upscaler
        if urlsplit(self.path).path == "/upscale" and upscaler is None:
            self.close_connection = True  # the body is left unread
            error = "this run's generator does not upscale images (it takes no 'lr' input): /upscale is served for super-resolution runs only"
            self._json(HTTPStatus.NOT_FOUND, {"error": error}, {"Connection": "close"})
            return
        if urlsplit(self.path).path != "/upscale" or upscaler is None:
            self.close_connection = True  # the body, if any, is left unread
            self._refuse()
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > upscaler.max_bytes:
                self.close_connection = True
                raise BadRequest(f"the body is {length} bytes, more than the {upscaler.max_bytes} allowed; send a smaller image", max_bytes=upscaler.max_bytes)
            png = upscaler.png(self.rfile.read(length))
            self._send(HTTPStatus.OK, "image/png", png)
        except BadRequest as exc:
            self._json(HTTPStatus.BAD_REQUEST, exc.body())
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request, not the server
            traceback.print_exc(file=sys.stderr)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {type(exc).__name__}: {exc}"})

    # ---- routes -----------------------------------------------------------------------------
    def _page(self, query: str) -> None:
        try:
            parsed = parse_sample_query(query, self.server.sampler)
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, "text/html; charset=utf-8", render_page(self.server.info, None, str(exc)).encode())
            return
        if "n" not in parsed.given:
            parsed.n = page_count(len(self.server.sampler.class_names))
            parsed.given["n"] = str(parsed.n)
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", render_page(self.server.info, parsed).encode())

    def _classes(self, query: str) -> None:
        if query:
            raise BadRequest("/classes takes no parameters")
        sampler = self.server.sampler
        self._json(HTTPStatus.OK, {"conditional": sampler.conditional, "classes": sampler.class_names})

    def _sample(self, query: str) -> None:
        parsed = parse_sample_query(query, self.server.sampler)
        try:
            png = self.server.sample_png(parsed)
        except GanforgeError as exc:  # e.g. a truncation this generator's latent cannot meet
            raise BadRequest(str(exc)) from None
        self._send(HTTPStatus.OK, "image/png", png)

    # ---- responses ----------------------------------------------------------------------------
    def _json(self, status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, "application/json", json.dumps(body).encode(), headers)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")
