"""Image batches decoded in a background thread while the forward pass runs."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from ganforge.errors import GanforgeError
from ganforge_builtins.data.image_files import prefetched


def test_prefetched_keeps_order_and_values() -> None:
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))
    assert list(prefetched(iter([]))) == []


def test_the_next_batch_is_produced_while_the_current_one_is_used() -> None:
    made: list[int] = []
    second = threading.Event()

    def batches() -> Iterator[int]:
        for i in range(3):
            made.append(i)
            if i == 1:
                second.set()
            yield i

    stream = prefetched(batches(), depth=2)
    assert next(stream) == 0
    # the consumer holds batch 0 ("the forward pass"); the producer has gone on to batch 1
    assert second.wait(timeout=10) and 1 in made
    assert list(stream) == [1, 2]


def test_an_error_in_the_producer_is_raised_at_its_batch() -> None:
    def batches() -> Iterator[int]:
        yield 0
        raise GanforgeError("folder: images differ in size")

    stream = prefetched(batches())
    assert next(stream) == 0
    with pytest.raises(GanforgeError, match="differ in size"):
        next(stream)


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    produced: list[int] = []

    def batches() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i

    stream = prefetched(batches(), depth=2)
    assert next(stream) == 0
    stream.close()
    for thread in threading.enumerate():
        if thread.name == "ganforge-prefetch":
            thread.join(timeout=5)
            assert not thread.is_alive()
    assert len(produced) < 10
