"""Actuators: the local one on a real Redis; the Kubernetes one against a recording HTTP server
that stands in for the cluster API (the only faked system)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import redis
from kubernetes import client as k8s

from scheduler.autoscale.actuators import ACTUATORS, make_actuator, resolve
from scheduler.autoscale.actuators.base import Actuator
from scheduler.autoscale.actuators.kubernetes import DELETION_COST, KubernetesActuator
from scheduler.autoscale.actuators.local import LocalActuator
from workers import keys
from workers.errors import BackendUnavailable, ConfigError, UnknownName
from workers.redis_server import free_port
from workers.settings import load_settings

NAMESPACE = "infra"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class FakeClusterAPI:
    """Deployments' replicas by name; every request is recorded."""

    replicas: dict[str, int] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)


def _handler(state: FakeClusterAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _record(self) -> tuple[list[str], Any]:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            state.requests.append(
                Recorded(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    self.headers.get("Content-Type", ""),
                    body,
                )
            )
            return url.path.strip("/").split("/"), body

        def _send(self, status: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _scale(self, name: str) -> dict[str, Any]:
            n = state.replicas[name]
            return {
                "apiVersion": "autoscaling/v1",
                "kind": "Scale",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"replicas": n},
                "status": {"replicas": n},
            }

        def _route(self, body: Any, parts: list[str]) -> None:
            # apis/apps/v1/namespaces/<ns>/deployments/<name>/scale or api/v1/.../pods/<name>
            if parts[:2] == ["apis", "apps"] and parts[-1] == "scale":
                name = parts[-2]
                if name not in state.replicas:
                    self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                    return
                if self.command == "PATCH":
                    state.replicas[name] = body["spec"]["replicas"]
                self._send(200, self._scale(name))
            elif parts[:2] == ["api", "v1"] and parts[-2] == "pods":
                self._send(
                    200, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": parts[-1]}}
                )
            else:
                self._send(404, {"kind": "Status", "code": 404})

        def do_GET(self) -> None:
            parts, body = self._record()
            self._route(body, parts)

        def do_PATCH(self) -> None:
            parts, body = self._record()
            self._route(body, parts)

    return Handler


@pytest.fixture
def cluster() -> Iterator[tuple[FakeClusterAPI, str]]:
    state = FakeClusterAPI()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def api_client(host: str) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    configuration.host = host
    configuration.retries = False
    return k8s.ApiClient(configuration)


def test_local_actuator_writes_the_desired_count(redis_client: redis.Redis) -> None:
    actuator = LocalActuator(redis_client)
    assert isinstance(actuator, Actuator)
    assert actuator.current("cto", "default") is None
    actuator.apply("cto", "default", 3)
    assert redis_client.get(keys.desired_instances("cto", "default")) == "3"
    assert actuator.current("cto", "default") == 3


def test_registry_builds_by_name_and_lists_the_known_ones(redis_client: redis.Redis) -> None:
    settings = load_settings(redis_url="redis://unused")
    assert isinstance(make_actuator("local", redis_client, settings), LocalActuator)
    assert resolve("scheduler.autoscale.actuators.local:LocalActuator") is LocalActuator
    with pytest.raises(UnknownName, match="unknown actuator 'nomad'; known: kubernetes, local"):
        make_actuator("nomad", redis_client, settings)
    with pytest.raises(UnknownName, match="cannot be loaded"):
        resolve("no.such.module:Thing")
    assert set(ACTUATORS) == {"local", "kubernetes"}


def test_kubernetes_actuator_patches_the_scale_subresource(
    cluster: tuple[FakeClusterAPI, str],
) -> None:
    state, host = cluster
    state.replicas["infra-mind-cloud-engineer-default"] = 1
    actuator = KubernetesActuator(api_client(host), namespace=NAMESPACE)
    assert isinstance(actuator, Actuator)
    assert actuator.current("cloud_engineer", "default") == 1
    actuator.apply("cloud_engineer", "default", 3)
    patch = state.requests[-1]
    assert patch.method == "PATCH"
    assert patch.path == (
        f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/infra-mind-cloud-engineer-default/scale"
    )
    assert patch.content_type == "application/merge-patch+json"
    assert patch.body == {"spec": {"replicas": 3}}
    assert patch.query["fieldManager"] == ["infra-mind-autoscaler"]
    assert actuator.current("cloud_engineer", "default") == 3


def test_kubernetes_scale_in_marks_idle_pods_cheapest(
    cluster: tuple[FakeClusterAPI, str], redis_client: redis.Redis
) -> None:
    state, host = cluster
    state.replicas["workers-cto-default"] = 3
    now = time.time()
    for pod, active in (("cto-abc12", 0), ("cto-def34", 2), ("cto-ghi56", 0)):
        instance = f"cto.default.0@{pod}"
        redis_client.hset(
            keys.heartbeat(instance),
            mapping={"active": str(active), "concurrency": "4", "updated_at": repr(now)},
        )
        redis_client.zadd(keys.INSTANCES, {instance: now})
    actuator = KubernetesActuator(
        api_client(host),
        namespace=NAMESPACE,
        name_pattern="workers-{type}-{pool}",
        redis_client=redis_client,
    )
    actuator.apply("cto", "default", 2)
    pods = {
        r.path.rsplit("/", 1)[1]: r.body["metadata"]["annotations"][DELETION_COST]
        for r in state.requests
        if "/pods/" in r.path
    }
    assert pods == {"cto-abc12": "0", "cto-def34": "200", "cto-ghi56": "0"}
    assert state.requests[-1].body == {"spec": {"replicas": 2}}
    assert state.replicas["workers-cto-default"] == 2


def test_kubernetes_errors_name_the_deployment(cluster: tuple[FakeClusterAPI, str]) -> None:
    _, host = cluster
    actuator = KubernetesActuator(api_client(host), namespace=NAMESPACE)
    with pytest.raises(ConfigError, match="infra-mind-cto-default: not found in namespace infra"):
        actuator.apply("cto", "default", 2)
    down = KubernetesActuator(api_client(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(BackendUnavailable, match="unreachable"):
        down.current("cto", "default")
    bad = KubernetesActuator(api_client(host), name_pattern="Infra_{type}")
    with pytest.raises(ConfigError, match="not a DNS label"):
        bad.deployment("cto", "default")
    unknown = KubernetesActuator(api_client(host), name_pattern="w-{kind}")
    with pytest.raises(ConfigError, match=r"use only \{type\} and \{pool\}"):
        unknown.deployment("cto", "default")


def test_registry_builds_the_kubernetes_actuator(
    cluster: tuple[FakeClusterAPI, str], redis_client: redis.Redis
) -> None:
    state, host = cluster
    state.replicas["infra-mind-mlops-default"] = 2
    settings = load_settings(redis_url="redis://unused")
    actuator = make_actuator(
        "kubernetes", redis_client, settings, api_client=api_client(host), namespace=NAMESPACE
    )
    assert isinstance(actuator, KubernetesActuator)
    assert actuator.current("mlops", "default") == 2
