"""Fault suite, serving: `ganforge serve` as a real process on 127.0.0.1 under 24 concurrent
clients sending a few hundred good and bad requests (raw sockets too): no 5xx, every bad request
a 4xx with a JSON error, oversized requests capped, memory bounded, and still answering after."""

from __future__ import annotations

import json
import random
import signal
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .serve_support import ServeProcess
from .use_plugin import train_unconditional

CLIENTS = 24
ROUNDS = 14  # requests per client: 24 x 14 = 336 requests

GOOD = ["/sample?n=1", "/sample?n=4&seed=3", "/sample?n=2&truncation=0.7", "/classes", "/"]
BAD_QUERIES = [
    "/sample?n=0", "/sample?n=257", "/sample?n=abc", "/sample?n=1e9", "/sample?seed=-1", "/sample?seed=99999999999999999999999",
    "/sample?truncation=0.01", "/sample?truncation=nan", "/sample?truncation=inf", "/sample?class=Sneaker", "/sample?colour=red",
    "/sample?n=1&n=2", "/sample?" + "&".join(f"p{i}=1" for i in range(30)), "/classes?x=1", "/sample?n=%ff%fe",
    "/sample?" + "n=1&" + "x" * 5000,
]  # fmt: skip
BAD_ROUTES = ["/nope", "/sample/", "/../../etc/passwd", "/%00"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> ServeProcess:
    run = train_unconditional(tmp_path_factory.mktemp("faults-serve"))
    process = ServeProcess(run, "--quiet")
    yield process
    process.kill()


def request(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str, bytes]:
    req = urllib.request.Request(url, method=method, data=body)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def raw(url: str, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection; what came back before the server closed it."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_a_bad_page_query_is_a_400_page(service: ServeProcess) -> None:
    status, content_type, body = request(service.url + "?n=0")
    assert (status, content_type) == (400, "text/html; charset=utf-8") and b"must be from 1 to 256" in body


def test_serve_under_load_answers_every_request_without_5xx(service: ServeProcess) -> None:
    url = service.url.rstrip("/")
    plan = [(kind, target) for kind, targets in (("good", GOOD), ("bad", BAD_QUERIES), ("route", BAD_ROUTES)) for target in targets]
    rng = random.Random(0)
    jobs = [rng.choice(plan) for _ in range(CLIENTS * ROUNDS)]
    jobs += [("method", m) for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW")]
    before = rss_kib(service.process.pid)

    def one(job: tuple[str, str]) -> tuple[str, str, int, str, bytes]:
        kind, target = job
        if kind == "method":
            return (kind, target, *request(url + "/sample", method=target, body=b"x" * 1000))
        return (kind, target, *request(url + target))

    start = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, jobs))
    elapsed = time.monotonic() - start
    assert elapsed < 240, elapsed
    assert not [r for r in results if r[2] >= 500], [r[:3] for r in results if r[2] >= 500]
    for kind, target, status, content_type, body in results:
        if kind == "good":
            assert status == 200, (target, status, body[:200])
        else:
            expected = {"bad": 400, "route": 404, "method": 405}[kind]
            assert (status, content_type) == (expected, "application/json"), (target, status, content_type, body[:200])
            assert json.loads(body)["error"], target
    assert rss_kib(service.process.pid) - before < 300 * 1024  # bounded: no request's size reaches memory
    assert request(url + "/sample?n=4&seed=1")[0] == 200  # still answering


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),  # request line over the stdlib's 64 KiB
        (b"GET /classes HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", b"400"),  # too many headers
        (b"GARBAGE\r\n\r\n", b""),  # no HTTP version: answered as HTTP/0.9, a body without a status line
        (b"GET /classes HTTP/9.9\r\n\r\n", b""),
        (b"POST /sample HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 10000, b"405"),  # a huge body is never read
        (b"GET /sample HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", b"400"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40), b""),  # a TLS hello on the plain port
    ],
    ids=["long-line", "many-headers", "garbage", "bad-version", "huge-body", "get-with-body", "tls-hello"],
)
def test_raw_malformed_requests_get_a_json_4xx(service: ServeProcess, data: bytes, status: bytes) -> None:
    answer = raw(service.url, data)
    if not status:
        assert json.loads(answer)["error"], answer[:300]
    else:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == status and b"application/json" in head, answer[:300]
        assert json.loads(body)["error"], answer[:300]
    assert request(service.url + "classes")[0] == 200


def test_a_silent_connection_does_not_block_others(service: ServeProcess) -> None:
    host, port = urlsplit(service.url).hostname, urlsplit(service.url).port
    idle = [socket.create_connection((host, port), timeout=30) for _ in range(30)]
    try:
        assert request(service.url + "sample?n=2")[0] == 200
    finally:
        for connection in idle:
            connection.close()


def test_the_server_stops_cleanly_after_the_load(service: ServeProcess) -> None:
    assert service.stop(signal.SIGTERM) == 0
    assert "Traceback" not in service.stderr and "stopped (SIGTERM)" in service.stderr
