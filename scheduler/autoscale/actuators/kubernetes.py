"""The Kubernetes actuator: one Deployment per pool, sized through its ``scale`` subresource.

Credentials come from the pod's service account when running in a cluster, else from the
kubeconfig. On a scale-in, when a Redis client is given, the pods of idle instances are
marked cheapest to delete (``controller.kubernetes.io/pod-deletion-cost``) so the
ReplicaSet stops them first; a stopped pod gets SIGTERM, Celery's warm shutdown finishes or
requeues its tasks (``terminationGracePeriodSeconds`` must exceed the task time limit).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import redis
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from scheduler.autoscale.signals import read_heartbeats
from workers.errors import BackendUnavailable, ConfigError
from workers.settings import Settings

log = logging.getLogger(__name__)

#: Deployment name of a pool; ``{type}`` and ``{pool}`` have ``_`` turned into ``-``.
DEFAULT_NAME_PATTERN = "infra-mind-{type}-{pool}"
DEFAULT_NAMESPACE = "default"
#: Shown as the manager of the replicas field in server-side field tracking.
FIELD_MANAGER = "infra-mind-autoscaler"
#: Pod annotation the ReplicaSet controller reads to choose which pods to delete first.
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
#: Deletion cost per task an instance holds; idle pods cost 0 and go first.
COST_PER_TASK = 100
#: merge-patch: the body is a partial object, not a list of JSON-patch operations.
MERGE_PATCH = "application/merge-patch+json"
#: Where a pod's service account states the namespace it runs in.
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_POD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def load_api_client() -> k8s.ApiClient:
    """An API client from the in-cluster service account, else from the kubeconfig."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException:
        try:
            k8s_config.load_kube_config(client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            raise ConfigError(
                f"kubernetes actuator: no in-cluster config or kubeconfig: {exc}"
            ) from None
    return k8s.ApiClient(configuration)


def deployment_name(pattern: str, agent_type: str, pool: str) -> str:
    """The Deployment of a pool; raises ``ConfigError`` unless it is a DNS label."""
    try:
        name = pattern.format(type=agent_type.replace("_", "-"), pool=pool.replace("_", "-"))
    except (KeyError, IndexError, ValueError):
        raise ConfigError(
            f"deployment name pattern {pattern!r}: use only {{type}} and {{pool}}"
        ) from None
    if not _DNS_LABEL.match(name):
        raise ConfigError(f"deployment name {name!r} of {agent_type}.{pool} is not a DNS label")
    return name


def own_namespace() -> str:
    """The namespace this pod runs in, else ``DEFAULT_NAMESPACE`` (outside a cluster)."""
    try:
        return NAMESPACE_FILE.read_text("utf-8").strip() or DEFAULT_NAMESPACE
    except OSError:
        return DEFAULT_NAMESPACE


class KubernetesActuator:
    name = "kubernetes"

    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        name_pattern: str = DEFAULT_NAME_PATTERN,
        redis_client: redis.Redis | None = None,
        heartbeat_ttl_s: float = 6.0,
    ) -> None:
        self.apps = k8s.AppsV1Api(api_client)
        self.core = k8s.CoreV1Api(api_client)
        self.namespace = namespace
        self.name_pattern = name_pattern
        self.redis = redis_client
        self.heartbeat_ttl_s = heartbeat_ttl_s

    @classmethod
    def from_settings(
        cls, client: redis.Redis, settings: Settings, **options: Any
    ) -> KubernetesActuator:
        """Options: ``namespace`` (default: the pod's own), ``name_pattern``, ``api_client``."""
        api_client = options.pop("api_client", None) or load_api_client()
        options.setdefault("namespace", own_namespace())
        return cls(
            api_client,
            redis_client=client,
            heartbeat_ttl_s=settings.heartbeat_ttl_s,
            **options,
        )

    def deployment(self, agent_type: str, pool: str) -> str:
        return deployment_name(self.name_pattern, agent_type, pool)

    def _fail(self, exc: Exception, what: str) -> Exception:
        if isinstance(exc, ApiException) and exc.status == 404:
            return ConfigError(f"{what}: not found in namespace {self.namespace}")
        if isinstance(exc, ApiException) and exc.status in (401, 403):
            return ConfigError(f"{what}: access denied ({exc.status}); check the RBAC role")
        if isinstance(exc, ApiException):
            return BackendUnavailable(f"{what}: Kubernetes API answered {exc.status} {exc.reason}")
        return BackendUnavailable(f"{what}: Kubernetes API unreachable: {exc}")

    def current(self, agent_type: str, pool: str) -> int | None:
        name = self.deployment(agent_type, pool)
        try:
            scale = self.apps.read_namespaced_deployment_scale(name, self.namespace)
        except (ApiException, HTTPError) as exc:
            raise self._fail(exc, f"deployment {name}") from None
        replicas = scale.spec.replicas if scale.spec is not None else None
        return int(replicas) if replicas is not None else None

    def apply(self, agent_type: str, pool: str, desired: int) -> None:
        if desired < 0:
            raise ValueError(f"desired instances must be >= 0, got {desired}")
        name = self.deployment(agent_type, pool)
        if self.redis is not None:
            current = self.current(agent_type, pool)
            if current is not None and desired < current:
                self.mark_deletion_costs(self.redis, agent_type, pool)
        try:
            self.apps.patch_namespaced_deployment_scale(
                name,
                self.namespace,
                {"spec": {"replicas": desired}},
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
            )
        except (ApiException, HTTPError) as exc:
            raise self._fail(exc, f"deployment {name}") from None

    def mark_deletion_costs(self, client: redis.Redis, agent_type: str, pool: str) -> None:
        """Annotate the pool's pods with a deletion cost from the tasks each instance holds.

        The pod is the instance's host part (``<type>.<pool>.<n>@<pod>``). Best effort: a pod
        that cannot be annotated only loses its preference.
        """
        beats, _, _ = read_heartbeats(client, agent_type, pool, time.time(), self.heartbeat_ttl_s)
        for beat in beats:
            pod = beat.instance.partition("@")[2]
            if not _POD_NAME.match(pod):
                continue
            cost = str((beat.active + beat.reserved) * COST_PER_TASK)
            body = {"metadata": {"annotations": {DELETION_COST: cost}}}
            try:
                self.core.patch_namespaced_pod(
                    pod,
                    self.namespace,
                    body,
                    field_manager=FIELD_MANAGER,
                    _content_type=MERGE_PATCH,
                )
            except (ApiException, HTTPError) as exc:
                log.info("pod %s: deletion cost not set: %s", pod, exc)
