"""``firestream_core.plugin.secrets`` and ``firestream_core.plugin.presets``: helpers for chart plugins."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from firestream_core.model import ChartInfo, ChartSetValue, ChartValuesGenerated
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.presets import preset_values
from firestream_core.plugin.secrets import ensure_namespace, ensure_secret, generate_password
from firestream_core.tools.redact import Redactor
from firestream_core.tools.values import merged_values


def context(kube: Any, *, dry_run: bool = False) -> DeployContext:
    return DeployContext(
        helm=None,  # type: ignore[arg-type]
        kubectl=kube,  # type: ignore[arg-type]
        redactor=Redactor(),
        dry_run=dry_run,
        log=logging.getLogger("test"),
    )


def decoded(manifest: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in manifest["data"].items()}


def test_generated_passwords() -> None:
    a, b = generate_password(), generate_password()
    assert len(a) == 32 and a.isalnum() and a != b
    assert len(generate_password(20)) == 20
    with pytest.raises(ValueError, match="at least 16"):
        generate_password(8)


def test_a_new_secret_is_generated_applied_and_every_value_redacted(fake_kube: Any) -> None:
    kube = fake_kube
    ctx = context(kube)
    out = ensure_secret(
        ctx, name="db-auth", namespace="data", keys={"pw": None, "given": "s3cr3t-value"},
        plain={"user": "admin"}, release="db",
    )
    assert (out.existed, out.written, out.generated, out.configured) == (
        False, True, ("pw",), ("given",),
    )
    (manifest,) = kube.applied
    assert manifest["metadata"] == {
        "name": "db-auth",
        "namespace": "data",
        "labels": {"app.kubernetes.io/managed-by": "firestream", "app.kubernetes.io/instance": "db"},
    }
    data = decoded(manifest)
    assert data["given"] == "s3cr3t-value" and data["user"] == "admin" and len(data["pw"]) == 32
    text = f"{data['pw']} {data['given']} admin {manifest['data']['pw']}"
    assert ctx.redactor.redact(text) == "*** *** admin ***"  # base64 spellings too; not the user
    assert "s3cr3t" not in json.dumps(out.to_payload())


def test_an_existing_secret_is_reused_not_regenerated(fake_kube: Any) -> None:
    kube = fake_kube
    kube.add("secret", {
        "metadata": {"name": "db-auth"},
        "data": {"pw": base64.b64encode(b"kept-password-1").decode()},
    }, "data")
    ctx = context(kube)
    out = ensure_secret(ctx, name="db-auth", namespace="data", keys={"pw": None})
    assert (out.existed, out.written, out.reused, out.generated) == (True, False, ("pw",), ())
    assert kube.applied == []
    assert ctx.redactor.redact("kept-password-1") == "***"

    # a missing key is added, the others kept
    out = ensure_secret(ctx, name="db-auth", namespace="data", keys={"pw": None, "repl": None})
    assert (out.reused, out.generated, out.written) == (("pw",), ("repl",), True)
    assert decoded(kube.applied[-1])["pw"] == "kept-password-1"


def test_a_configured_value_replaces_the_stored_one(fake_kube: Any) -> None:
    kube = fake_kube
    ctx = context(kube)
    ensure_secret(ctx, name="s", namespace="n", keys={"pw": "first-password"})
    out = ensure_secret(ctx, name="s", namespace="n", keys={"pw": "second-password"})
    assert out.written and out.configured == ("pw",)
    assert decoded(kube.applied[-1]) == {"pw": "second-password"}


def test_dry_run_changes_nothing(fake_kube: Any) -> None:
    kube = fake_kube
    out = ensure_secret(context(kube, dry_run=True), name="s", namespace="n", keys={"pw": None})
    assert (out.written, out.generated) == (False, ("pw",))
    ensure_namespace(context(kube, dry_run=True), "n")
    assert kube.applied == []


def test_namespace_is_created_when_missing(fake_kube: Any) -> None:
    kube = fake_kube
    ensure_namespace(context(kube), "data")
    assert kube.applied == [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"}}]
    ensure_namespace(context(kube), "data")
    assert len(kube.applied) == 1


def test_preset_values_are_overridden_by_config_and_set_pairs() -> None:
    doc = preset_values("postgresql", "development", {
        "primary.persistence.size": "1Gi", "auth.enablePostgresUser": True,
        "sources": ["service", "ingress"], "replicas": 2, "tag": "0123",
    })
    assert doc.filename == "preset:postgresql.development"
    info = ChartInfo(name="db", chart="postgresql", yaml_files_content=[doc])
    assert merged_values(info) == {
        "primary": {"persistence": {"size": "1Gi"}},
        "auth": {"enablePostgresUser": True},
        "sources": ["service", "ingress"],
        "replicas": 2,
        "tag": "0123",  # kept a string, unlike --set
    }
    info.yaml_files_content.append(ChartValuesGenerated("firestream.toml:x", "primary: {persistence: {size: 5Gi}}"))
    assert merged_values(info)["primary"]["persistence"]["size"] == "5Gi"
    info.values.append(ChartSetValue("primary.persistence.size", "7Gi"))
    assert merged_values(info)["primary"]["persistence"]["size"] == "7Gi"

