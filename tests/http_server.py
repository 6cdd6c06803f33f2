"""A real threaded HTTP server on 127.0.0.1 with scripted replies per path, for fetch tests.

    with ScriptedServer() as server:
        server.route("/feed", Reply(503), Reply(503), Reply(200, body=xml))  # then the last repeats
        server.route("/moved", redirect(301, "/feed"))
        server.route("/etag", conditional(xml, etag='"v1"', last_modified="Mon, 01 Jan 2024 …"))
        server.url("/feed")  # http://127.0.0.1:<port>/feed
        server.hits("/feed"), server.requests  # what the client sent (a POST's body too)

A route is a list of `Reply`s served in order (the last one repeats) or a callable
`(Request) -> Reply`. Delays wait on an event, so stopping the server never waits on them.
"""

from __future__ import annotations

import gzip
import html
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    encoding: str | None = None  # 'gzip' or 'deflate': compress the body and say so
    chunk_size: int = 64 * 1024
    chunk_delay: float = 0.0  # seconds between body chunks (a dripping server)
    content_length: bool = True  # False: close-delimited body


@dataclass
class Request:
    """What the client sent."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""  # what a POST sent


Handler = Callable[[Request], Reply]


def redirect(status: int, location: str) -> Reply:
    """A redirect to `location` (relative to the server or absolute)."""
    return Reply(status, headers={"Location": location})


def conditional(
    body: bytes | str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    content_type: str = "application/rss+xml; charset=utf-8",
) -> Handler:
    """200 with validators, or 304 when the request's validators match (as a real server does)."""

    def handle(request: Request) -> Reply:
        headers = {"Content-Type": content_type}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        inm = request.headers.get("if-none-match")
        ims = request.headers.get("if-modified-since")
        if (etag and inm == etag) or (not inm and last_modified and ims == last_modified):
            return Reply(304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
        return Reply(200, body=body, headers=headers)

    return handle


class ScriptedServer:
    """A loopback HTTP/1.1 server whose replies are scripted per path."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._routes: dict[str, list[Reply] | Handler] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._httpd = _Server((host, 0), _make_handler(self))
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- scripting -------------------------------------------------------------------------------

    def route(self, path: str, *replies: Reply | Handler) -> ScriptedServer:
        """Serve `replies` in order at `path` (the last repeats), or one handler for all."""
        if len(replies) == 1 and callable(replies[0]):
            self._routes[path] = replies[0]
        else:
            self._routes[path] = [r for r in replies if isinstance(r, Reply)]
        self._served[path] = 0
        return self

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on this server."""
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        """How many requests reached `path`."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def requests_to(self, path: str) -> list[Request]:
        """The requests that reached `path`, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _reply_for(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            route = self._routes.get(request.path)
            if route is None:
                return Reply(404, body=b"not found", headers={"Content-Type": "text/plain"})
            if callable(route):
                handler = route
            else:
                index = min(self._served[request.path], len(route) - 1)
                self._served[request.path] += 1
                return route[index]
        return handler(request)

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up on a slow or huge reply is what the tests provoke; stay quiet.
        pass


def _encode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(Request("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))

        def do_POST(self) -> None:  # noqa: N802
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = self.rfile.read(int(headers.get("content-length") or 0))
            self._answer(Request("POST", self.path, headers, body))

        def _answer(self, request: Request) -> None:
            reply = server._reply_for(request)
            if reply.delay and server.stopping.wait(reply.delay):
                return
            raw = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
            body = _encode(raw, reply.encoding)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.encoding:
                    self.send_header("Content-Encoding", reply.encoding)
                if reply.status in (204, 304):
                    body = b""
                elif reply.content_length:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                for start in range(0, len(body), reply.chunk_size):
                    if reply.chunk_delay and server.stopping.wait(reply.chunk_delay):
                        return
                    self.wfile.write(body[start : start + reply.chunk_size])
                    self.wfile.flush()
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return _Handler


def article_page(title: str, paragraphs: list[str], *, canonical: str | None = None) -> str:
    """A news article page as outlets serve it: navigation, the article, a footer."""
    head = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'{head}</head><body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>'
        f"<article><h1>{html.escape(title)}</h1>{body}</article>"
        "<footer>© Loopback News. All rights reserved.</footer></body></html>"
    )
