"""The example Kubernetes manifests match what the autoscaler patches and needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scheduler.autoscale.actuators.kubernetes import DEFAULT_NAME_PATTERN, deployment_name
from workers import keys
from workers.settings import load_settings

MANIFESTS = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found = yaml.safe_load_all(path.read_text("utf-8"))
        docs.extend(d for d in found if d and "metadata" in d)  # not the kustomization
    return docs


def test_every_default_pool_has_a_deployment_the_actuator_can_find() -> None:
    settings = load_settings(redis_url="redis://unused")
    deployments = {d["metadata"]["name"]: d for d in documents() if d.get("kind") == "Deployment"}
    for agent, pool in settings.pools():
        deployment = deployments[deployment_name(DEFAULT_NAME_PATTERN, agent.name, pool)]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        command = container["command"]
        assert command[command.index("-Q") + 1] == keys.pool_queue(agent.name, pool)
        hostname = command[command.index("-n") + 1]
        assert keys.parse_instance(hostname) == (agent.name, pool, 1)
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > settings.task_time_limit_s


def test_the_autoscaler_may_patch_the_scale_subresource() -> None:
    docs = documents()
    role = next(d for d in docs if d.get("kind") == "Role")
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert {"get", "patch"} <= rules[(("apps",), ("deployments/scale",))]
    assert "patch" in rules[(("",), ("pods",))]
    maintenance = next(d for d in docs if d["metadata"].get("name") == "infra-mind-maintenance")
    account = maintenance["spec"]["template"]["spec"]["serviceAccountName"]
    binding = next(d for d in docs if d.get("kind") == "RoleBinding")
    assert binding["subjects"][0]["name"] == account


def test_every_manifest_is_listed_and_the_api_is_served() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text("utf-8"))
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in documents()}
    api = by_name[("Deployment", "infra-mind-api")]["spec"]["template"]["spec"]["containers"][0]
    assert api["command"][:2] == ["infra-mind", "api"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/healthz"
    secret = by_name[("Secret", "infra-mind-secrets")]["stringData"]
    assert "INFRA_MIND_API_TOKEN" in secret
    assert ("Service", "infra-mind-api") in by_name
