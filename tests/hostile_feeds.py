"""Hostile feeds for the reliability tests: a raw loopback HTTP server whose routes can misbehave
at any point of an exchange, the bodies that attack a feed parser, and the list of cases with
what each must end as.

    with HostileFarm(hosts=4) as farm:
        install(farm)                       # the good feed and every hostile route
        farm.url("/bomb", host=2)           # http://127.0.0.3:<port>/bomb
        farm.hits("/bomb"), farm.sent("/bomb")

Every address of the farm (127.0.0.1, 127.0.0.2, …) is a separate host to the fetcher's
one-request-per-host gate, so slow cases run side by side as they would on the open web.
Big bodies are generated while they are sent; nothing here holds more than a few MB.
"""

from __future__ import annotations

import html
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import TracebackType

PASSWD_MARKERS = ("root:x:0:0", "/bin/bash", "/usr/sbin/nologin", "daemon:x:")
CORPUS_FEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds"
HOSTS = 16  # addresses in the farm; cases share them round-robin

# --- the server ----------------------------------------------------------------------------------


@dataclass
class Request:
    """What a client sent (the request head only)."""

    path: str
    headers: dict[str, str]
    host: str  # the farm address that received it


class Exchange:
    """One request and its connection, for a route to answer (or not) as it pleases."""

    def __init__(self, farm: HostileFarm, request: Request, sock: socket.socket) -> None:
        self.farm = farm
        self.request = request
        self._sock = sock

    def write(self, data: bytes) -> bool:
        """Send bytes; False once the client has gone."""
        try:
            self._sock.sendall(data)
        except OSError:
            return False
        self.farm._count_sent(self.request.path, len(data))
        return True

    def wait(self, seconds: float | None = None) -> bool:
        """Sleep, waking early when the farm stops; True when it is stopping."""
        return self.farm.stopping.wait(seconds)

    def reply(
        self,
        status: int = 200,
        body: bytes | Iterable[bytes] = b"",
        headers: dict[str, str] | None = None,
        *,
        length: bool = True,
    ) -> None:
        """A whole response; an iterable body is streamed (and close-delimited)."""
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Whatever')}", "Connection: close"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if isinstance(body, bytes) and length:
            head.append(f"Content-Length: {len(body)}")
        if not self.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1")):
            return
        for chunk in [body] if isinstance(body, bytes) else body:
            if self.farm.stopping.is_set() or not self.write(chunk):
                return


Route = Callable[[Exchange], None]
_REASONS = {200: "OK", 301: "Moved", 302: "Found", 307: "Temporary", 308: "Permanent", 404: "No"}


class HostileFarm:
    """Loopback HTTP/1.1 servers on 127.0.0.1…127.0.0.N, one port, routes shared by all."""

    def __init__(self, hosts: int = 1) -> None:
        self.stopping = threading.Event()
        self.requests: list[Request] = []
        self._routes: dict[str, Route] = {}
        self._sent: dict[str, int] = {}
        self._lock = threading.Lock()
        self._servers: list[_Server] = []
        port = 0
        for index in range(hosts):
            server = _Server((f"127.0.0.{index + 1}", port), _make_handler(self))
            port = server.server_address[1]  # the same port on every address
            self._servers.append(server)
        self.port = port
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in self._servers
        ]

    def route(self, path: str, handler: Route) -> None:
        """Answer requests for `path` with `handler`."""
        self._routes[path] = handler

    def url(self, path: str, *, host: int = 0) -> str:
        """The URL of `path` on the farm's `host`-th address."""
        return f"http://127.0.0.{host + 1}:{self.port}{path}"

    def hits(self, path: str) -> int:
        """Requests that reached `path` (on any address)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def sent(self, path: str) -> int:
        """Bytes written in answer to requests for `path`."""
        with self._lock:
            return self._sent.get(path, 0)

    def _count_sent(self, path: str, size: int) -> None:
        with self._lock:
            self._sent[path] = self._sent.get(path, 0) + size

    def _handle(self, request: Request, sock: socket.socket) -> None:
        with self._lock:
            self.requests.append(request)
        exchange = Exchange(self, request, sock)
        handler = self._routes.get(request.path)
        if handler is None:
            exchange.reply(404, b"not found", {"Content-Type": "text/plain"})
        else:
            handler(exchange)

    def __enter__(self) -> HostileFarm:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up on a hostile reply is the point


def _make_handler(farm: HostileFarm) -> type[socketserver.BaseRequestHandler]:
    class _Handler(socketserver.StreamRequestHandler):
        timeout = 30  # a client that sends nothing does not hold a thread for ever

        def handle(self) -> None:
            line = self.rfile.readline(8192).decode("latin-1")
            parts = line.split()
            if len(parts) < 2:
                return
            headers: dict[str, str] = {}
            for _ in range(100):
                raw = self.rfile.readline(8192).decode("latin-1").strip()
                if not raw:
                    break
                name, _, value = raw.partition(":")
                headers[name.strip().lower()] = value.strip()
            host = self.connection.getsockname()[0]
            farm._handle(Request(parts[1], headers, host), self.connection)

    return _Handler


# --- routes --------------------------------------------------------------------------------------

RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}


def serve(body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Route:
    """A plain response."""
    return lambda exchange: exchange.reply(status, body, RSS_TYPE if headers is None else headers)


def redirect(location: str, status: int = 302) -> Route:
    """A redirect; `{port}` in `location` becomes the farm's port."""
    return lambda exchange: exchange.reply(
        status, b"", {"Location": location.replace("{port}", str(exchange.farm.port))}
    )


def never_answer() -> Route:
    """Accept, read the request, then say nothing until the farm stops."""
    return lambda exchange: exchange.wait()


def trickle_body(interval: float = 1.0) -> Route:
    """Headers at once, then a byte of body every `interval` seconds, for ever."""

    def handle(exchange: Exchange) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n"
        if not exchange.write(head + b"\r\n<"):
            return
        while not exchange.wait(interval) and exchange.write(b"r"):
            pass

    return handle


def trickle_headers(interval: float = 1.0) -> Route:
    """The status line, then one byte of an endless header every `interval` seconds."""

    def handle(exchange: Exchange) -> None:
        if not exchange.write(b"HTTP/1.1 200 OK\r\nX-Slow: "):
            return
        while not exchange.wait(interval) and exchange.write(b"a"):
            pass

    return handle


def endless(total: int, *, chunk: int = 256 * 1024) -> Route:
    """`total` bytes of a never-closing RSS document, generated as sent, close-delimited."""
    item = b"<item><title>Flood</title><description>more and more</description></item>"

    def body() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>Flood</title>'
        block = item * (chunk // len(item))
        for _ in range(total // len(block)):
            yield block

    return lambda exchange: exchange.reply(200, body(), RSS_TYPE, length=False)


def declared_huge(size: int) -> Route:
    """An honest Content-Length over the cap, then the body streamed."""

    def handle(exchange: Exchange) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {size}\r\n"
        if not exchange.write(head.encode() + b"\r\n"):
            return
        block = b"x" * 65536
        for _ in range(size // len(block)):
            if exchange.farm.stopping.is_set() or not exchange.write(block):
                return

    return handle


def gzip_bomb(*, encoded: bool, size: int = 1 << 30) -> Route:
    """`size` bytes of zeros as one gzip member (about 1 MB), with or without Content-Encoding."""
    headers = {"Content-Type": "application/rss+xml"}
    if encoded:
        headers["Content-Encoding"] = "gzip"
    return lambda exchange: exchange.reply(200, gzip_bomb_chunks(size), headers, length=False)


def gzip_bomb_chunks(size: int) -> Iterator[bytes]:
    """A valid gzip member of `size` zero bytes, streamed: header, the same deflate block over
    and over (a full flush makes each block stand alone), an empty final block, CRC and size."""
    block = _zero_block()
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    crc = 0
    for _ in range(size // _MIB):
        yield block
        crc = zlib.crc32(_ZEROS, crc)  # only reached by a client that reads the whole bomb
    yield b"\x03\x00"  # an empty final block
    yield struct.pack("<II", crc, size & 0xFFFFFFFF)


_MIB = 1 << 20
_ZEROS = bytes(_MIB)


@lru_cache(maxsize=1)
def _zero_block() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)


# --- bodies --------------------------------------------------------------------------------------

STORIES = [
    "Heavy rain flooded the river valley overnight, and rescue teams evacuated three villages "
    "before dawn. Farmers fear the harvest is lost after a wet summer. The weather service "
    "expects more storms this week and has asked people near the river to stay away from the "
    "banks. Volunteers filled sandbags in the market square until late in the evening, and the "
    "mayor thanked them on the radio. Schools in the valley will stay closed until Thursday.",
    "The central bank left interest rates unchanged on Thursday, citing stubborn inflation in "
    "services. Markets had priced in a cut, and the currency rose sharply after the decision. "
    "The governor said the bank would wait for more evidence that wage growth was slowing "
    "before it moved. Two members of the committee voted for a cut, one more than last month. "
    "Economists now expect the first cut in the spring, a quarter later than they had thought.",
    "A new library opened in the old railway station, with a café, a music room and space for "
    "forty thousand books. Volunteers spent two years restoring the building's iron roof and "
    "its clock, which had stopped in the nineteen-sixties. The council paid for half of the "
    "work and a local foundation for the rest. On the first morning more than a thousand "
    "people came, and the children's corner ran out of chairs before lunch time.",
    "Engineers finished testing the new tram line on Sunday, a month ahead of the schedule set "
    "when work began three years ago. Passenger services start next week, with a tram every "
    "six minutes at peak times. The line links the university with the hospital and the main "
    "station, and the operator expects thirty thousand trips a day. Shops along the route, "
    "which lost trade during the works, will get a year of reduced business rates.",
    "The city orchestra announced a season of free concerts in parks across the region, paid "
    "for by a bequest from a former violinist. The first concert, on the lawn behind the "
    "museum, will feature music by local composers and a choir of two hundred schoolchildren. "
    "Organisers asked people to bring blankets and to leave their cars at home, because the "
    "nearby car parks will be closed for the evening. Rain dates have been set for each one.",
]
GOOD_TITLES = [f"Good story {n}: {text.split(',')[0][:40]}" for n, text in enumerate(STORIES)]


HOSTILE_STORIES = [
    "A ferry company added a night crossing to the islands for the summer, after bookings rose "
    "by a fifth on last year. The new boat carries four hundred passengers and sixty cars.",
    "The football club sold its training ground to a developer and will move to a new site "
    "north of the ring road, where it plans six pitches and a small stadium for the youth teams.",
    "Beekeepers reported a good spring after three poor years; the warm April let colonies "
    "grow early, and the association expects a record honey harvest if August stays dry.",
    "A survey of cyclists found that most would ride more if the city painted fewer lanes and "
    "built more separated ones, and that the bridge over the canal is the worst spot in town.",
    "The museum reopened its dinosaur hall after a two-year refit that replaced the plaster "
    "casts with scans, and added a room where children can dig for fossils in a sand pit.",
]


def story(n: int, case: str) -> str:
    """A story of a hostile feed's own: never a near-duplicate of the good feed's stories."""
    return f"As the {case} feed reports, {HOSTILE_STORIES[n][0].lower()}{HOSTILE_STORIES[n][1:]}"


def rss(items: Iterable[str], *, head: str = "", title: str = "Hostile News") -> bytes:
    """An RSS 2.0 document around `items`, with `head` between the declaration and the root."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0"><channel>'
        f"<title>{title}</title><link>/</link>{''.join(items)}</channel></rss>"
    ).encode()


def item(title: str, *, guid: str, text: str, link: str | None = None, raw: bool = False) -> str:
    """An RSS item; `raw` puts title and text in unescaped (for entity references)."""
    if not raw:
        title, text = html.escape(title), html.escape(text)
    link_xml = f"<link>{html.escape(link)}</link>" if link else ""
    return (
        f'<item><title>{title}</title><guid isPermaLink="false">{guid}</guid>{link_xml}'
        f"<description>{text}</description><pubDate>Mon, 27 May 2024 10:00:00 GMT</pubDate></item>"
    )


def good_feed() -> bytes:
    """Five full-text stories: no article page is needed, every one must be stored."""
    return rss(
        item(title, guid=f"good-{n}", text=text)
        for n, (title, text) in enumerate(zip(GOOD_TITLES, STORIES, strict=True))
    )


def billion_laughs() -> bytes:
    """Ten levels of ten-fold entity nesting (10^9 'lol's), declared on one line."""
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    head = f"<!DOCTYPE rss [{''.join(levels)}]>"
    return rss(
        [item("&lol9;", guid="laughs", text="&lol9; " + story(0, "laughs"), raw=True)], head=head
    )


def quadratic_blowup() -> bytes:
    """One 50 KB entity referenced 3,000 times (150 MB once expanded), hidden behind a comment
    that fools feedparser's own DOCTYPE clean-up."""
    head = f'<!DOCTYPE rss [ <!-- <x --> <!ENTITY a "{"A" * 50_000}"> ]>'
    return rss([item("Blowup", guid="quad", text="&a;" * 3000, raw=True)], head=head)


def external_entities() -> bytes:
    """XXE three ways: a general entity, the same behind a comment, a parameter entity."""
    general = '<!ENTITY x SYSTEM "file:///etc/passwd">'
    head = f'<!DOCTYPE rss [ <!-- <y --> {general} <!ENTITY % p SYSTEM "file:///etc/passwd"> %p; ]>'
    return rss([item("Leak &x;", guid="xxe", text=f"&x; {story(1, 'xxe')}", raw=True)], head=head)


def external_entity_plain() -> bytes:
    """XXE as the textbook writes it, one declaration per line."""
    head = '\n<!DOCTYPE rss [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
    return rss([item("Leak &x;", guid="xxe2", text=f"&x; {story(2, 'xxe2')}", raw=True)], head=head)


def html_page() -> bytes:
    """An HTML page, the kind a site serves at its old feed URL."""
    return (
        b"<!doctype html><html><head><title>Welcome</title></head><body><h1>Our news</h1>"
        b"<p>We have moved our feed. Please visit our home page.</p>"
        b"<script>document.write('<rss>')</script></body></html>"
    )


def invalid_characters() -> bytes:
    """Control characters, NUL, U+FFFE, a lone surrogate, and bytes that are not UTF-8."""
    dirty = story(3, "dirty").replace("tram", "tr\x00am", 1).replace("week", "we\x0bek\x1b", 1)
    body = rss([item("Trams \x01 \ufffe on time", guid="dirty", text=dirty)])
    return body.replace(b"Passenger", b"Pa\xff\xfess\xed\xa0\x80enger", 1)


def bad_char_refs() -> bytes:
    """References to lone surrogates, a noncharacter and past U+10FFFF, in guid, title and text
    (feedparser turned the first into text no database accepts, the last into a crash)."""
    refs = "&#xD800;&#56320;&#xFFFE;&#x110000;&#99999999999999999999;"
    text = f"{refs} {html.escape(story(0, 'references'))}"
    return rss([item(f"Refs {refs}", guid=f"refs{refs}", text=text, raw=True)])


def json_surrogates() -> bytes:
    """A JSON Feed whose strings hold lone surrogate escapes (and one valid pair, an emoji)."""
    text = story(1, "JSON").replace(" ", " \\ud800 ", 3)
    return (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "S\\udc00 \\ud83d\\ude00",'
        ' "items": [{"id": "j\\ud800", "url": "http://127.0.0.1/j\\udfff", "title": "J\\ud800",'
        f' "content_text": "{text}"}}]}}'
    ).encode()


def json_nested(depth: int = 100_000) -> bytes:
    """A JSON Feed nested `depth` arrays deep (Python's JSON decoder recurses)."""
    head = b'{"version": "https://jsonfeed.org/version/1.1", "items": '
    return head + b"[" * depth + b"]" * depth + b"}"


def huge_title(size: int = 9 * 1024 * 1024) -> bytes:
    """One entry whose title is `size` bytes (under the 10 MB body cap), and a real story."""
    return rss(
        [item("Headline " + "very " * (size // 5), guid="long-title", text=story(4, "long title"))]
    )


def flood(count: int = 100_000) -> bytes:
    """`count` small entries, each with just enough text to be stored (about 8.5 MB)."""
    return rss(
        f"<item><description>Flood entry {n} says hello to all of its readers.</description></item>"
        for n in range(count)
    )


def escaped_markup(fragment: str, count: int = 400_000) -> bytes:
    """Well-formed XML whose text is `fragment` repeated: 'a < b' or an unclosed '<script x'.
    Escaped, it passes any tag budget; cleaning it once rescanned the text for every '<'."""
    text = story(2, "markup") + " " + html.escape(fragment) * count
    return rss([item("Markup", guid="markup", text=text, raw=True)])


def dense_markup(size: int = 9 * 1024 * 1024) -> bytes:
    """A description of `size` bytes of unclosed paragraph tags: 9 MB of this cost feedparser
    two minutes and 1.2 GB before the markup budget."""
    return rss([f"<item><guid>dense</guid><description>{'<p>' * (size // 3)}</description></item>"])


def giant_entry(chars: int = 2_000_000) -> bytes:
    """A well-formed feed with one entry of `chars` characters and a normal one."""
    words = ("The committee met again. " * (chars // 25))[:chars]
    return rss(
        [
            item("Giant", guid="giant", text=words),
            item("Normal beside the giant", guid="beside-giant", text=story(0, "giant")),
        ]
    )


def giant_fields(size: int = 2 * 1024 * 1024) -> bytes:
    """One entry with a 2 MB guid, a 2 MB link and a 2 MB date; its text is a real story."""
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        + b"<guid>" + b"g" * size + b"</guid>"
        + b"<link>http://127.0.0.1/" + b"l" * size + b"</link>"
        + b"<pubDate>Mon, 27 May 2024 " + b"9" * size + b"</pubDate>"
        + b"<title>Fields</title><description>" + story(1, "fields").encode() + b"</description>"
        + b"</item></channel></rss>"
    )  # fmt: skip


def teaser_feed(page_path: str, *, guid: str) -> bytes:
    """A teaser whose article page is at `page_path` on the same host."""
    return rss([item("Teaser", guid=guid, text="A short teaser of the story …", link=page_path)])


def dense_page(size: int = 4 * 1024 * 1024) -> bytes:
    """An article page of `size` bytes of tiny paragraphs (trafilatura: minutes, 800 MB)."""
    return (
        b"<!doctype html><html><head><title>Dense</title></head><body><article>"
        + b"<p>word</p>" * (size // 11)
        + b"</article></body></html>"
    )


def xxe_page() -> bytes:
    """An XHTML article page that declares an external entity and uses it in its text."""
    text = html.escape(story(2, "page"))
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Page</title></head><body>'
        f"<article><h1>Page</h1><p>&x;</p><p>{text}</p><p>{text}</p></article></body></html>"
    ).encode()


# --- the cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A hostile feed, how to serve it, and what its `fetches` row must say."""

    name: str
    routes: dict[str, Route]  # path -> route; the first path is the feed URL
    error: str | None = None  # a substring of fetches.error (None: the fetch must succeed)
    parse_error: str | None = None  # a substring of fetches.parse_error (a bozo parse)
    slow: bool = False  # bounded by the fetch deadline or by parsing megabytes
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The feed's path."""
        return next(iter(self.routes))


def cases(*, include_corpus: bool = True) -> list[Case]:
    """Every hostile feed, in the order of docs/reliability.md's table."""
    found = [
        Case("gzip bomb (Content-Encoding: gzip)", {"/bomb": gzip_bomb(encoded=True)}, "cap"),
        Case("gzip bomb (no Content-Encoding)", {"/bomb-raw": gzip_bomb(encoded=False)}, "gzip"),
        Case("500 MB body, no length", {"/endless": endless(500 * _MIB)}, "cap"),
        Case("500 MB Content-Length", {"/declared": declared_huge(500 * _MIB)}, "Content-Length"),
        Case("accepts, never answers", {"/silent": never_answer()}, "Timeout", slow=True),
        Case("body trickled 1 byte/s", {"/drip": trickle_body()}, "deadline", slow=True),
        Case("headers trickled 1 byte/s", {"/drip-head": trickle_headers()}, "deadline", slow=True),
        Case("redirect loop", {"/loop": redirect("/loop")}, "more than 5 redirects"),
        Case(
            "redirect chain of 20",
            {
                "/chain": redirect("/chain1"),
                **{f"/chain{n}": redirect(f"/chain{n + 1}") for n in range(1, 20)},
            },
            "more than 5 redirects",
        ),  # fmt: skip
        Case(
            "redirect to 169.254.169.254",
            {"/steal": redirect("http://169.254.169.254/latest/meta-data/")},
            "cloud metadata",
        ),
        Case(
            "redirect to [::ffff:169.254.169.254]",
            {"/steal6": redirect("http://[::ffff:169.254.169.254]/latest/meta-data/")},
            "cloud metadata",
        ),
        Case(
            "redirect to 2852039166 (decimal IP)",
            {"/steal-int": redirect("http://2852039166/latest/meta-data/")},
            "cloud metadata",
        ),
        Case("redirect to file://", {"/file": redirect("file:///etc/passwd")}, "scheme 'file'"),
        Case(
            "redirect to gopher://",
            {"/gopher": redirect("gopher://127.0.0.1:{port}/_GET%20/")},
            "scheme 'gopher'",
        ),
        Case("billion laughs", {"/laughs": serve(billion_laughs())}, parse_error="entity"),
        Case("quadratic blowup", {"/quadratic": serve(quadratic_blowup())}, parse_error="entity"),
        Case("external entities (XXE)", {"/xxe": serve(external_entities())}, parse_error="entity"),
        Case(
            "external entity, textbook",
            {"/xxe-plain": serve(external_entity_plain())},
            parse_error="entity",
        ),
        Case("HTML as application/rss+xml", {"/html": serve(html_page())}, "not a feed"),
        Case(
            "invalid XML characters", {"/dirty": serve(invalid_characters())}, parse_error="token"
        ),
        Case("character references to non-characters", {"/refs": serve(bad_char_refs())}),
        Case("JSON Feed with lone surrogates", {"/json-surrogates": serve(json_surrogates(), {})}),
        Case("JSON nested 100,000 deep", {"/json-deep": serve(json_nested(), {})}, "invalid JSON"),
        Case("9 MB title", {"/long-title": serve(huge_title())}, slow=True),
        Case("100,000 entries", {"/flood": serve(flood())}, slow=True, notes={"cut": 99_000}),
        Case("9 MB of unclosed tags", {"/dense": serve(dense_markup())}, "too costly to parse"),
        Case(
            "escaped 'a < b' ×400,000",
            {"/stray-lt": serve(escaped_markup("a < b "))},
            notes={"too_long": "markup"},
        ),
        Case(
            "escaped '<script x' ×400,000",
            {"/scripts": serve(escaped_markup("<script x "))},
            slow=True,
        ),
        Case("2 MB entry", {"/giant": serve(giant_entry())}, notes={"too_long": "giant"}),
        Case("2 MB guid, link and date", {"/fields": serve(giant_fields())}),
        Case(
            "teaser → 4 MB page of tags",
            {
                "/teaser-dense": serve(teaser_feed("/dense-page", guid="t-dense")),
                "/dense-page": serve(dense_page(), {"Content-Type": "text/html"}),
            },
        ),  # fmt: skip
        Case(
            "teaser → XHTML page with XXE",
            {
                "/teaser-xxe": serve(teaser_feed("/xxe-page", guid="t-xxe")),
                "/xxe-page": serve(xxe_page(), {"Content-Type": "text/html; charset=utf-8"}),
            },
        ),  # fmt: skip
    ]
    real = CORPUS_FEEDS / "node-feedparser" / "invalid-characters-gzipped.xml"
    if include_corpus and real.is_file():
        found.append(
            Case(
                "real feed: invalid characters, gzipped, no Content-Encoding",
                {"/real-dirty": serve(real.read_bytes())},
            )
        )
    return found


def install(farm: HostileFarm, found: list[Case]) -> dict[str, str]:
    """Serve the good feed and every case; return name -> feed URL (each case its own host)."""
    farm.route("/good", serve(good_feed()))
    urls = {"good": farm.url("/good")}
    for index, case in enumerate(found, start=1):
        for path, route in case.routes.items():
            farm.route(path, route)
        urls[case.name] = farm.url(case.path, host=index % HOSTS)
    return urls


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` passes."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
