"""The Celery router: every agent task's queue is chosen here, by strategy, in Redis.

Celery calls the router for every publish (API, CLI, Flower, user code). An agent task gets
its queue from a Lua decision that picks among the type's live targets and counts the pick
in flight atomically. A producer reserves decisions in small adaptive batches (see
:mod:`workers.routing.reservations`), so a burst of publishes shares one round trip while a
lone publish makes exactly one decision; unused reservations go back within ``max_age_s``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from workers import keys
from workers.errors import BackendUnavailable
from workers.routing.config import RoutingConfig
from workers.routing.decision import (
    SINGLE_TARGET,
    AffinityOutcome,
    Decision,
    Status,
    decide,
    group_of,
    reserve,
)
from workers.routing.plan import Plan, call_options, make_plan
from workers.routing.reservations import Book, Leftovers
from workers.routing.targets import configure_groups
from workers.settings import Settings

#: Name of the agent task (published by name with kwargs agent_type, prompt, options).
AGENT_TASK = "infra_mind.agent"
#: Scheduler jobs go to the maintenance queue.
MAINTENANCE_PREFIX = "scheduler."
#: Stats name of publishes that named their queue themselves (e.g. Celery retries).
EXPLICIT = "explicit"
#: At most one "no live target" warning per group in this many seconds.
FALLBACK_WARN_EVERY_S = 60.0

log = logging.getLogger(__name__)

ClientFactory = Callable[[], redis.Redis]
Route = dict[str, str]


def _explicit_queue(options: Mapping[str, Any] | None) -> str | None:
    if not options:
        return None
    queue = options.get("queue")
    if queue is not None:
        return str(getattr(queue, "name", queue)) or None
    return options.get("routing_key") or None


class Router:
    """Celery ``task_routes`` callable; also reachable as a plain object for its decisions.

    Thread-safe; fork-safe (a child process starts with a new client and no reservations).
    """

    def __init__(
        self,
        settings: Settings,
        client_factory: ClientFactory,
        config: RoutingConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.config = config or RoutingConfig.from_settings(settings)
        for name in settings.agents:
            make_plan(settings, name)  # unknown default strategies and bad weights fail here
        self._factory = client_factory
        self._clock = clock
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pid: int | None = None
        self._client: redis.Redis | None = None
        self._plans: dict[tuple[str, str | None], Plan] = {}
        self._books: dict[tuple[str, str], tuple[Book, threading.Lock]] = {}
        self._configured: set[str] = set()
        self._warned: dict[str, float] = {}
        self._janitor_wake = threading.Event()
        self._janitor_pid: int | None = None
        self._closed = False
        atexit.register(self.close)

    # -- Celery entry point -------------------------------------------------------------

    def __call__(
        self,
        name: str,
        args: Any,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any] | None,
        task: Any = None,
        **kw: Any,
    ) -> Route | None:
        if name == AGENT_TASK:
            queue = self._route(kwargs, options)
            return {"queue": queue, "routing_key": queue}
        if name.startswith(MAINTENANCE_PREFIX):
            return {"queue": keys.MAINTENANCE_QUEUE, "routing_key": keys.MAINTENANCE_QUEUE}
        return None

    def route_agent(
        self, kwargs: Mapping[str, Any] | None, options: Mapping[str, Any] | None = None
    ) -> Decision:
        """Decide the queue of one agent task; raises before anything is published on bad
        input (``UnknownAgent``, ``UnknownName``, ``InvalidInput``) or without Redis."""
        self._route(kwargs, options)
        decision = self.last_decision()
        assert decision is not None
        return decision

    def last_decision(self) -> Decision | None:
        """The decision of this thread's latest agent publish (says when it fell back)."""
        made = getattr(self._local, "made", None)
        if made is None:
            return None
        group, name, queue, fallback, affinity = made
        status = Status.FALLBACK if fallback else Status.OK
        return Decision(group, name, (queue,), status, AffinityOutcome(affinity))

    def _route(self, kwargs: Mapping[str, Any] | None, options: Mapping[str, Any] | None) -> str:
        agent_type, strategy, affinity_key = call_options(kwargs)
        plan = self._plans.get((agent_type, strategy)) or self.plan(agent_type, strategy)
        explicit = _explicit_queue(options)
        client = self._client_for_process(plan.agent_type)
        name, affinity = plan.strategy, ""
        try:
            if explicit is not None:
                group = group_of(plan.agent_type, explicit)
                reserve(client, group, explicit, 1, name=EXPLICIT)
                made = (group, EXPLICIT, explicit, False, "")
            elif plan.single_queue is not None:
                queue = self._single(client, plan, plan.single_queue)
                made = (plan.group, SINGLE_TARGET, queue, False, "")
            elif affinity_key is not None:
                decision = decide(
                    client,
                    plan.group,
                    plan.strategy,
                    plan.fallback_queue,
                    affinity_key=affinity_key,
                    affinity_factor=self.config.affinity_factor,
                )
                affinity = decision.affinity.value
                made = (plan.group, name, decision.queue, decision.fallback, affinity)
            else:
                queue, fallback = self._batched(client, plan)
                made = (plan.group, name, queue, fallback, "")
        except redis.RedisError as exc:
            raise BackendUnavailable(f"routing needs Redis, which failed: {exc}") from None
        self._local.made = made
        if made[3]:
            self._warn_fallback(plan)
        return made[2]

    def _warn_fallback(self, plan: Plan) -> None:
        now = self._clock()
        if now - self._warned.get(plan.group, -FALLBACK_WARN_EVERY_S) >= FALLBACK_WARN_EVERY_S:
            self._warned[plan.group] = now
            log.warning(
                "no live %s target for agent type %s: tasks wait in %s until an instance starts",
                plan.level.value, plan.agent_type, plan.fallback_queue,
            )  # fmt: skip

    def plan(self, agent_type: str, strategy: str | None = None) -> Plan:
        cached = self._plans.get((agent_type, strategy))
        if cached is None:
            cached = make_plan(self.settings, agent_type, strategy)
            self._plans[(agent_type, strategy)] = cached
        return cached

    # -- process state --------------------------------------------------------------------

    def _client_for_process(self, agent_type: str) -> redis.Redis:
        pid = os.getpid()
        if pid != self._pid:
            with self._lock:
                if pid != self._pid:
                    # A forked child must not use the parent's sockets or reservations.
                    self._client = self._factory()
                    self._books = {}
                    self._configured = set()
                    self._janitor_wake = threading.Event()
                    self._pid = pid
        client = self._client
        assert client is not None
        if agent_type not in self._configured:
            try:
                configure_groups(client, self.settings, self.config, [agent_type])
            except redis.RedisError as exc:
                raise BackendUnavailable(f"routing needs Redis, which failed: {exc}") from None
            self._configured.add(agent_type)
        return client

    def _book(self, group: str, name: str) -> tuple[Book, threading.Lock]:
        entry = self._books.get((group, name))
        if entry is None:
            with self._lock:
                entry = self._books.get((group, name))
                if entry is None:
                    book = Book(self.config.batch_max, self.config.batch_max_age_s)
                    entry = (book, threading.Lock())
                    self._books[(group, name)] = entry
        return entry

    # -- the two reserving paths ----------------------------------------------------------

    def _single(self, client: redis.Redis, plan: Plan, queue: str) -> str:
        book, lock = self._book(plan.group, SINGLE_TARGET)
        with lock:
            now = self._clock()
            if book.take(now) is None:
                left, size = book.next_batch(now)
                reserve(client, plan.group, queue, size, left.fallback + len(left.queues))
                book.fill((queue,) * size, False, now)
                self._after_fill(book)
        return queue

    def _batched(self, client: redis.Redis, plan: Plan) -> tuple[str, bool]:
        book, lock = self._book(plan.group, plan.strategy)
        with lock:
            now = self._clock()
            queue = book.take(now)
            if queue is None:
                left, size = book.next_batch(now)
                made = decide(
                    client,
                    plan.group,
                    plan.strategy,
                    plan.fallback_queue,
                    count=size,
                    returns=left.queues,
                    fallback_returns=left.fallback,
                )
                queue = book.fill(made.picks, made.fallback, now)
                self._after_fill(book)
            return queue, book.fallback

    # -- handing back unused reservations -------------------------------------------------

    def _after_fill(self, book: Book) -> None:
        if book.remaining and not self._closed:
            self._janitor_wake.set()
            if self._janitor_pid != os.getpid():
                self._janitor_pid = os.getpid()
                threading.Thread(
                    target=self._janitor, name="routing-reservations", daemon=True
                ).start()

    def _janitor(self) -> None:
        pid = os.getpid()
        while not self._closed and self._pid == pid:
            self._janitor_wake.wait()
            time.sleep(self.config.batch_max_age_s)
            self._janitor_wake.clear()
            if self.release(stale_only=True):
                self._janitor_wake.set()  # something is still reserved: look again later

    def release(self, *, stale_only: bool = False) -> int:
        """Hand back reserved picks (only stale ones with ``stale_only``); returns how many
        are still held. Called by the background sweep and at exit."""
        if self._pid != os.getpid() or self._client is None:
            return 0
        held = 0
        for (group, name), (book, lock) in list(self._books.items()):
            with lock:
                left = book.settle(self._clock(), force=not stale_only)
                if left:
                    self._hand_back(group, name, left)
                held += book.remaining
        return held

    def _hand_back(self, group: str, name: str, left: Leftovers) -> None:
        client = self._client
        assert client is not None
        try:
            if name == SINGLE_TARGET:
                reserve(client, group, left.queues[0], 0, len(left.queues))
                return
            fallback = next(
                (p.fallback_queue for p in self._plans.values() if p.group == group), ""
            )
            decide(
                client,
                group,
                name,
                fallback,
                count=0,
                returns=left.queues,
                fallback_returns=left.fallback,
            )
        except redis.RedisError:
            pass  # reconcile repairs the counters if they cannot be handed back now

    def close(self) -> None:
        """Hand back every reservation and stop the background sweep (at exit)."""
        self._closed = True
        self._janitor_wake.set()
        self.release()


def make_router(
    settings: Settings, client_factory: ClientFactory, config: RoutingConfig | None = None
) -> Router:
    """The router to put in ``app.conf.task_routes``; ``client_factory`` is called once per
    process and must give a client on the broker's Redis database."""
    return Router(settings, client_factory, config)
