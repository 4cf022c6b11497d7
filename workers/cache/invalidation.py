"""Keeping every process's in-process tier coherent: one pub/sub channel for cache events.

A write publishes the key; every other process drops its copy. The promotion job publishes
"hot set changed"; every process re-reads the hot set. A listener that loses its connection
clears its whole in-process tier when it comes back, since it may have missed invalidations.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import msgpack
import redis

from workers import keys as cache_keys

log = logging.getLogger(__name__)

#: How long the listener blocks for a message before checking whether it should stop.
POLL_S = 0.2
#: Pause before listening again after a Redis error.
RETRY_S = 0.5
#: Longest wait for the subscription to be confirmed at start.
SUBSCRIBE_TIMEOUT_S = 5.0


class EventKind(StrEnum):
    INVALIDATE = "inv"
    HOT_SET = "hot"


def event_message(kind: EventKind, origin: str, keys: list[str]) -> bytes:
    return msgpack.packb({"t": kind.value, "o": origin, "k": keys})


Publisher = redis.Redis | redis.client.Pipeline


def publish_invalidation(client: Publisher, origin: str, keys: list[str]) -> None:
    client.publish(
        cache_keys.CACHE_EVENTS_CHANNEL, event_message(EventKind.INVALIDATE, origin, keys)
    )


def publish_hot_set(client: Publisher, origin: str) -> None:
    client.publish(cache_keys.CACHE_EVENTS_CHANNEL, event_message(EventKind.HOT_SET, origin, []))


def parse_event(data: Any) -> tuple[EventKind, str, list[str]] | None:
    """(kind, origin, keys) of a channel message; None for anything we did not send."""
    try:
        body = msgpack.unpackb(data, raw=False)
        return EventKind(body["t"]), str(body["o"]), [str(k) for k in body["k"]]
    except Exception:  # a foreign publisher on our channel must not kill the listener
        return None


class EventListener:
    """A daemon thread that applies cache events to this process (started on creation)."""

    def __init__(
        self,
        client: redis.Redis,
        origin: str,
        on_invalidate: Callable[[list[str]], None],
        on_hot_set: Callable[[], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        self._origin = origin
        self._on_invalidate = on_invalidate
        self._on_hot_set = on_hot_set
        self._on_reconnect = on_reconnect
        self._stop = threading.Event()
        self._pubsub = client.pubsub()
        self._pubsub.subscribe(cache_keys.CACHE_EVENTS_CHANNEL)
        self._wait_subscribed()
        self._thread = threading.Thread(target=self._run, name="cache-events", daemon=True)
        self._thread.start()

    def _wait_subscribed(self) -> None:
        """Block until Redis confirms, so a write right after start is not missed."""
        remaining = int(SUBSCRIBE_TIMEOUT_S / POLL_S)
        while remaining > 0:
            message = self._pubsub.get_message(timeout=POLL_S)
            if message and message["type"] == "subscribe":
                return
            remaining -= 1

    def _run(self) -> None:
        broken = False
        while not self._stop.is_set():
            try:
                message = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
            except (redis.RedisError, OSError, ValueError) as exc:
                if self._stop.is_set():
                    return
                if not broken:
                    log.warning("cache event listener lost Redis: %s", exc)
                broken = True
                self._stop.wait(RETRY_S)
                continue
            if broken:
                broken = False
                self._on_reconnect()
            if message and message["type"] == "message":
                self._handle(message["data"])

    def _handle(self, data: Any) -> None:
        event = parse_event(data)
        if event is None:
            return
        kind, origin, keys = event
        if kind is EventKind.INVALIDATE and origin != self._origin:
            self._on_invalidate(keys)
        elif kind is EventKind.HOT_SET:
            try:
                self._on_hot_set()
            except redis.RedisError as exc:
                log.warning("cache hot set refresh failed: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * POLL_S + 1)
        with contextlib.suppress(redis.RedisError):
            self._pubsub.close()
