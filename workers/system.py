"""A whole running system in one object: Redis (given or embedded) plus the supervisor.

`infra-mind up` runs it in the foreground; `infra-mind demo` starts one when none is running
in this folder, and stops it again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from workers import inspect
from workers.connection import forget_url, ping, record_url, recorded_url
from workers.credentials import api_token, flower_credentials
from workers.errors import BackendUnavailable, InvalidInput
from workers.redis_server import EmbeddedRedis, redact
from workers.settings import Settings
from workers.supervisor import Supervisor

log = logging.getLogger(__name__)

PID_FILE = "up.pid"


def running_pid(state_dir: Path) -> int | None:
    """The pid of an `up` already running from this folder, if any."""
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _check_port(what: str, address: str, port: int, setting: str, flag: str) -> None:
    """Refuse to start when ``what`` could not listen: a child that cannot bind would only
    restart in a loop while the banner announced its address."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
    except OSError as exc:
        raise InvalidInput(
            f"{what} cannot listen on {address}:{port} ({exc.strerror}); "
            f"set {setting} or start with {flag}"
        ) from None


@dataclass
class System:
    settings: Settings
    with_flower: bool = True
    with_beat: bool = True
    with_api: bool = True
    embedded: EmbeddedRedis | None = None
    supervisor: Supervisor | None = None
    redis_url: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    started_at: float = 0.0

    @property
    def state_dir(self) -> Path:
        return self.settings.state_dir

    def start(self) -> System:
        self.started_at = time.monotonic()
        other = running_pid(self.state_dir)
        if other is not None and other != os.getpid():
            raise InvalidInput(
                f"infra-mind is already running from {self.state_dir} (pid {other}); "
                "stop it first or use another folder"
            )
        if self.with_flower:
            _check_port("Flower", self.settings.flower_address, self.settings.flower_port,
                        "INFRA_MIND_FLOWER_PORT", "--no-flower")  # fmt: skip
        if self.with_api:
            _check_port("the HTTP API", self.settings.api_address, self.settings.api_port,
                        "INFRA_MIND_API_PORT", "--no-api")  # fmt: skip
        self.redis_url = self._redis()
        (self.state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
        user, password, _ = flower_credentials(self.settings)
        self.supervisor = Supervisor(
            settings=self.settings,
            redis_url=self.redis_url,
            log_dir=self.state_dir / "logs",
            with_beat=self.with_beat,
            with_flower=self.with_flower,
            flower_auth=f"{user}:{password}",
            with_api=self.with_api,
            api_token=api_token(self.settings)[0] if self.with_api else "",
        )
        self._thread = threading.Thread(
            target=self.supervisor.run, args=(self._stop,), name="supervisor", daemon=True
        )
        self._thread.start()
        return self

    def _redis(self) -> str:
        if self.settings.redis_url:
            ping(self.settings.redis_url).close()
            return self.settings.redis_url
        self.state_dir.mkdir(parents=True, exist_ok=True)
        stale = recorded_url(self.state_dir)
        if stale:
            try:
                ping(stale).close()
            except BackendUnavailable:
                forget_url(self.state_dir)
            else:
                raise InvalidInput(
                    f"a Redis started by another infra-mind answers at {redact(stale)}; "
                    "stop that `up` first"
                )
        self.embedded = EmbeddedRedis(self.state_dir / "redis", persistent=True).start()
        record_url(self.state_dir, self.embedded.url)
        log.info(
            "embedded Redis on 127.0.0.1:%s (data in %s)",
            self.embedded.port,
            self.embedded.data_dir,
        )
        return self.embedded.url

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Block until every pool has its minimum of heartbeating instances; seconds taken."""
        client = self.client()
        try:
            deadline = time.monotonic() + timeout
            while True:
                snaps = inspect.pool_snapshots(client, self.settings)
                missing = [
                    s
                    for s in snaps
                    if s.healthy < self.settings.agent(s.agent_type).policy(s.pool).min
                ]
                if not missing:
                    return time.monotonic() - self.started_at
                if time.monotonic() > deadline:
                    names = ", ".join(f"{s.agent_type}.{s.pool}" for s in missing)
                    raise BackendUnavailable(
                        f"instances did not start within {timeout:.0f} s: {names} "
                        f"(logs in {self.state_dir / 'logs'})"
                    )
                time.sleep(0.2)
        finally:
            client.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.embedded is not None:
            self.embedded.stop()
            forget_url(self.state_dir)
        (self.state_dir / PID_FILE).unlink(missing_ok=True)
