"""deploy/kubernetes/ (issue 20 item 6): every manifest validates against the Kubernetes API schemas
(kubernetes-validate, offline, strict: no unknown field), and agrees with the image and the code it runs —
one replica with a claim for /state, the secrets where the config reads them, probes that are a real
command, the metrics port the Service targets, the stop grace of the Dockerfile."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from zdtriage import config as config_mod
from zdtriage.cli import cli

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "deploy" / "kubernetes"
VERSION = "1.30.0"  # the oldest Kubernetes release still maintained when this was written; the latest below


def manifests() -> dict[str, dict]:
    out = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            out[doc["kind"]] = doc
    return out


@pytest.mark.parametrize("version", [VERSION, kubernetes_validate.latest_version()])
@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.yaml")), ids=lambda p: p.name)
def test_every_manifest_validates_strictly(path, version):
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError naming the field


def test_the_validator_would_catch_a_mistake():
    bad = manifests()["StatefulSet"]
    bad["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["comand"] = ["x"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSION, strict=True)


def test_one_replica_with_its_own_state_claim():
    sts = manifests()["StatefulSet"]
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    assert spec["replicas"] == 1  # one process holds the state's lock
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/state"  # the image's ZDTRIAGE_STATE__PATH=/state/zdtriage.db
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ZDTRIAGE_STATE__PATH=/state/zdtriage.db" in dockerfile
    uid = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    context = pod["securityContext"]
    assert (str(context["runAsUser"]), str(context["fsGroup"])) == uid.groups()  # the claim is writable by it
    container = pod["containers"][0]["securityContext"]
    assert container["readOnlyRootFilesystem"] and container["capabilities"]["drop"] == ["ALL"]
    assert mounts["tmp"] == "/tmp"
    stop = re.search(r"--stop-timeout (\d+)", (ROOT / "docs" / "operating.md").read_text())
    assert pod["terminationGracePeriodSeconds"] >= int(stop.group(1)) == 660


def test_probes_run_the_health_check_that_exists():
    container = manifests()["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("livenessProbe", "readinessProbe"):
        command = container[probe]["exec"]["command"]
        assert command == ["zdtriage", "status", "--check"]
        assert CliRunner().invoke(cli, [*command[1:], "--help"]).exit_code == 0
        assert container[probe]["timeoutSeconds"] >= 30  # as the Dockerfile's HEALTHCHECK
    # a restart does not cure a refused key: liveness gives it 15 minutes
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 900


def test_config_secrets_and_metrics_agree():
    docs = manifests()
    pod = docs["StatefulSet"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert volumes["config"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert mounts["config"] == "/app/config"  # the image's working directory's config/zdtriage.toml
    text = docs["ConfigMap"]["data"]["zdtriage.toml"]
    with pytest.raises(config_mod.ConfigError, match="CHANGE-ME"):
        config_mod.parse(tomllib.loads(text), {}, need_secrets=False)
    raw = tomllib.loads(text.replace('"CHANGE-ME"', '"acme"').replace("CHANGE-ME@example.com", "bot@acme.com"))
    cfg = config_mod.parse(raw, {}, need_secrets=False)
    secret = docs["Secret"]
    assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]
    for path in (cfg.zendesk.token_file, cfg.anthropic.api_key_file):
        folder, _, key = path.rpartition("/")
        assert folder == mounts["secrets"] and key in secret["stringData"]
    service = docs["Service"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}[service["spec"]["ports"][0]["targetPort"]]
    assert port == cfg.metrics.port and cfg.metrics.host == "0.0.0.0"
    assert service["spec"]["selector"].items() <= docs["StatefulSet"]["spec"]["template"]["metadata"]["labels"].items()
    assert docs["StatefulSet"]["spec"]["serviceName"] == service["metadata"]["name"]


def test_the_shipped_secret_placeholders_are_refused(tmp_path):
    secret = manifests()["Secret"]["stringData"]
    for key, value in secret.items():
        (tmp_path / key).write_text(value)
        (tmp_path / key).chmod(0o400)
    raw = {"zendesk": {"subdomain": "acme", "email": "bot@acme.com", "token_file": str(tmp_path / "zendesk_token")},
           "anthropic": {"api_key_file": str(tmp_path / "anthropic_api_key")}}
    with pytest.raises(
        config_mod.ConfigError, match=r"zendesk.token_file: .*zendesk_token still holds the placeholder"
    ):
        config_mod.parse(raw, {})
