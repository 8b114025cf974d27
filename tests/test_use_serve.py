"""``ganforge serve``: the HTTP service, over real HTTP on a free loopback port."""

from __future__ import annotations

import io
import json
import signal
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest
from PIL import Image

from ganforge.artifacts.loading import load_trained
from ganforge.artifacts.sampling import sampler_for
from ganforge.cli.serve import page_info
from ganforge.plugins import Plugins, set_plugins
from ganforge.serving import SampleServer

from .serve_support import ServeProcess
from .use_plugin import CLASS_NAMES, install, train_conditional, train_unconditional


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("use-serve")
    return {"cond": train_conditional(root), "plain": train_unconditional(root)}


@pytest.fixture(scope="module")
def server(trained: dict[str, Path]) -> Iterator[str]:
    set_plugins(install(Plugins.create()))
    loaded = load_trained(trained["cond"], device="cpu")
    sampler = sampler_for(loaded)
    service = SampleServer(("127.0.0.1", 0), sampler, page_info(loaded, sampler.class_names), loaded.experiment.dataset)
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    yield service.url
    service.shutdown()
    service.server_close()
    thread.join(timeout=5)


def get(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def png(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def test_page_shows_a_grid_and_a_form(server: str) -> None:
    status, kind, body = get(server)
    page = body.decode()
    assert status == 200 and kind.startswith("text/html")
    assert '<img src="/sample?n=12"' in page and "<form" in page  # four rows of the three classes
    assert all(f">{i}: {name}</option>" in page for i, name in enumerate(CLASS_NAMES))
    status, _, body = get(server + "?class=Sneaker&n=4&seed=9")
    page = body.decode()
    assert status == 200 and '<img src="/sample?class=Sneaker&amp;n=4&amp;seed=9"' in page
    assert '<option value="Sneaker" selected>' in page and 'value="9"' in page
    status, _, body = get(server + "?n=abc")
    assert status == 400 and "a whole number from 1 to 256, got &#x27;abc&#x27;" in body.decode()


def test_classes_as_json(server: str) -> None:
    status, kind, body = get(server + "classes")
    assert (status, kind) == (200, "application/json")
    assert json.loads(body) == {"conditional": True, "classes": list(CLASS_NAMES)}


def test_sample_returns_a_png_grid(server: str) -> None:
    status, kind, body = get(server + "sample?class=Sneaker&n=16&seed=3&truncation=0.7")
    assert (status, kind) == (200, "image/png")
    image = png(body)
    assert (image.size, image.mode) == ((4 * 30 + 2, 4 * 30 + 2), "L")
    assert get(server + "sample?class=Sneaker&n=16&seed=3&truncation=0.7")[2] == body
    assert get(server + "sample?class=1&n=16&seed=3&truncation=0.7")[2] == body
    assert get(server + "sample?class=Sneaker&n=16&seed=4&truncation=0.7")[2] != body
    assert get(server + "sample?class=Bag&n=16&seed=3&truncation=0.7")[2] != body
    assert png(get(server + "sample")[2]).size == (3 * 30 + 2, 6 * 30 + 2)  # 16 samples, one class per column
    assert png(get(server + "sample?n=256&truncation=")[2]).size == (3 * 30 + 2, 86 * 30 + 2)


@pytest.mark.parametrize(
    ("query", "message", "extra"),
    [
        ("class=Sandal", "unknown class 'Sandal'; valid classes (name or index): T-shirt/top, Sneaker, Bag", {"classes": list(CLASS_NAMES)}),
        ("class=7", "unknown class '7'", {"classes": list(CLASS_NAMES)}),
        ("n=0", "'n' must be from 1 to 256, got 0", {}),
        ("n=257", "'n' must be from 1 to 256, got 257", {}),
        ("n=-3", "'n' must be from 1 to 256, got -3", {}),
        ("n=abc", "'n' is the number of samples: a whole number from 1 to 256, got 'abc'", {}),
        ("n=2.5", "a whole number from 1 to 256, got '2.5'", {}),
        ("seed=x", "'seed' is the seed of the latents: a whole number", {}),
        ("seed=-1", "'seed' must be from 0 to", {}),
        ("truncation=abc", "'truncation' is the latent threshold: a number of at least 0.05 such as 0.7, got 'abc'", {}),
        ("truncation=-1", "got '-1'", {}),
        ("truncation=nan", "got 'nan'", {}),
        ("truncation=0.001", "got '0.001'", {}),
        ("count=4", "unknown parameter 'count'; the parameters are class, n, seed, truncation", {"parameters": ["class", "n", "seed", "truncation"]}),
        ("n=2&n=3", "parameter 'n' is given 2 times; give it once", {}),
        ("bogus", "unknown parameter 'bogus'", {}),
        ("&".join(["seed=1"] * 30), "too many parameters (more than 20)", {}),
    ],
)
def test_bad_input_is_a_400_with_a_json_error(server: str, query: str, message: str, extra: dict[str, Any]) -> None:
    status, kind, body = get(server + "sample?" + query)
    assert (status, kind) == (400, "application/json")
    answer = json.loads(body)
    assert message in answer["error"]
    for key, value in extra.items():
        assert answer[key] == value


def test_other_paths_and_methods(server: str) -> None:
    status, kind, body = get(server + "nothing")
    assert (status, kind) == (404, "application/json") and "the routes are /, /classes, /sample" in json.loads(body)["error"]
    status, kind, body = get(server + "sample", method="POST")
    assert (status, kind) == (405, "application/json") and "use GET" in json.loads(body)["error"]
    status, kind, body = get(server + "upscale", method="POST")  # this run is no super-resolution run
    assert (status, kind) == (404, "application/json") and "served for super-resolution runs only" in json.loads(body)["error"]
    assert get(server + "classes?x=1")[0] == 400
    assert get(server, method="HEAD")[:2] == (200, "text/html; charset=utf-8") and get(server, method="HEAD")[2] == b""
    assert get(server + "classes", method="HEAD")[:2] == (200, "application/json")


def test_concurrent_requests_get_their_own_images(server: str) -> None:
    seeds = list(range(12))
    expected = {seed: get(server + f"sample?n=32&seed={seed}")[2] for seed in seeds}
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda seed: get(server + f"sample?n=32&seed={seed}"), seeds * 2))
    assert all(status == 200 for status, _, _ in answers)
    assert [body for _, _, body in answers] == [expected[s] for s in seeds * 2]
    assert len(set(expected.values())) == len(seeds)
    assert get(server + "classes")[0] == 200  # still serving after every bad request above


def test_unconditional_service_refuses_a_class(trained: dict[str, Path]) -> None:
    loaded = load_trained(trained["plain"], device="cpu")
    sampler = sampler_for(loaded)
    service = SampleServer(("127.0.0.1", 0), sampler, page_info(loaded, sampler.class_names))
    thread = threading.Thread(target=service.serve_forever, daemon=True)
    thread.start()
    try:
        assert json.loads(get(service.url + "classes")[2]) == {"conditional": False, "classes": []}
        status, _, body = get(service.url + "sample?class=Sneaker")
        assert status == 400 and "not class-conditional" in json.loads(body)["error"]
        assert "<select" not in get(service.url)[2].decode()
    finally:
        service.shutdown()
        service.server_close()


def test_the_command_serves_until_interrupted(trained: dict[str, Path]) -> None:
    service = ServeProcess(trained["plain"])
    try:
        status, kind, body = get(service.url + "sample?n=4&seed=1")
        assert (status, kind) == (200, "image/png") and png(body).size == (62, 62)
        assert service.stop(signal.SIGINT) == 0
        assert "GET /sample?n=4&seed=1" in service.stderr and "stopped (SIGINT)" in service.stderr
    finally:
        service.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_command_stops_even_when_the_signal_was_ignored_by_its_parent(trained: dict[str, Path], sig: signal.Signals) -> None:
    """A shell starts background jobs with SIGINT ignored; the server installs its own handlers."""

    def ignore_both() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    service = ServeProcess(trained["plain"], "--quiet", preexec_fn=ignore_both)
    try:
        assert get(service.url + "classes")[0] == 200
        assert service.stop(sig) == 0
        assert f"stopped ({sig.name})" in service.stderr
    finally:
        service.kill()


def test_busy_port_is_explained(trained: dict[str, Path]) -> None:
    import socket

    from .conftest import invoke

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", str(trained["plain"]), "--port", str(port), "--device", "cpu")
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr and "pick another --port" in result.stderr
    unknown = invoke("serve", str(trained["plain"]), "--host", "192.0.2.1", "--port", "0", "--device", "cpu")
    assert unknown.exit_code == 2 and "cannot listen on 192.0.2.1:0" in unknown.stderr and "check --host" in unknown.stderr
    assert "Examples:" in invoke("serve", "--help").stdout
