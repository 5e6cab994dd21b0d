"""firestream_core.plugin.crds: a chart's CRDs, server-side applied before helm upgrades it.

The helm and kubectl layers are small stand-ins here; the plugins that use it
(prometheus-operator, kafka) test it with the real helm against the emulator.
"""

from __future__ import annotations

import logging
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from firestream_core.model import ChartInfo, HelmAction, InstalledRelease
from firestream_core.plugin.context import DeployContext
from firestream_core.plugin.crds import chart_crds, crd_names, is_crd_file, upgrade_chart_crds

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {name}
spec:
  group: example.dev
"""


def chart_folder(root: Path, *crds: str) -> Path:
    d = root / "op"
    (d / "crds").mkdir(parents=True)
    (d / "templates").mkdir()
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: op\nversion: 1.0.0\n")
    (d / "templates" / "deploy.yaml").write_text("kind: Deployment\nmetadata:\n  name: op\n")
    for name in crds:
        (d / "crds" / f"{name}.yaml").write_text(CRD.format(name=name))
    return d


def package(folder: Path, dest: Path) -> Path:
    archive = dest / f"{folder.name}-1.0.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


class Kubectl:
    def __init__(self, present: set[str] | None = None) -> None:
        self.present = set(present or ())
        self.applied: list[str] = []

    def get(self, kind: str, name: str | None = None, **_: Any) -> dict[str, Any] | None:
        assert kind == "customresourcedefinition"
        return {"metadata": {"name": name}} if name in self.present else None

    def apply_server_side(self, manifests: str, **_: Any) -> list[str]:
        self.applied.append(manifests)
        return []


class Helm:
    def __init__(self, archive: Path | None = None) -> None:
        self.archive = archive
        self.pulls: list[tuple[str, str | None]] = []
        self.added: list[tuple[str, str]] = []

    def repo_add(self, name: str, url: str) -> bool:
        self.added.append((name, url))
        return True

    def pull(self, chart_ref: str, version: str | None, dest: Path | str) -> Path:
        self.pulls.append((chart_ref, version))
        assert self.archive is not None
        target = Path(dest) / self.archive.name
        target.write_bytes(self.archive.read_bytes())
        return target


def context(tmp_path: Path, helm: Helm | None = None, kubectl: Kubectl | None = None,
            **kw: Any) -> DeployContext:
    return DeployContext(helm=helm or Helm(), kubectl=kubectl or Kubectl(),  # type: ignore[arg-type]
                         project_dir=tmp_path, log=logging.getLogger("firestream.test"), **kw)


UPGRADE = InstalledRelease("op", "default", 1, "deployed", "op-1.0.0")


@pytest.mark.parametrize(
    ("path", "is_crd"),
    [
        ("kube-prometheus-stack/charts/crds/crds/crd-probes.yaml", True),
        ("kube-prometheus-stack/crds/x.yml", True),
        ("kube-prometheus-stack/templates/crds/x.yaml", False),
        ("kube-prometheus-stack/crds/README.md", False),
        ("kube-prometheus-stack/charts/crds/Chart.yaml", False),
        ("kube-prometheus-stack/charts/crds/templates/crds/x.yaml", False),
        ("kube-prometheus-stack/charts/other/crds/x.json", True),
        ("kube-prometheus-stack/docs/crds/x.yaml", False),
    ],
)
def test_crd_files_are_those_of_crds_folders(path: str, is_crd: bool) -> None:
    assert is_crd_file(PurePosixPath(path)) is is_crd


def test_crds_of_a_local_folder_an_archive_and_a_pulled_chart(tmp_path: Path) -> None:
    folder = chart_folder(tmp_path, "widgets.example.dev", "gadgets.example.dev")
    archive = package(folder, tmp_path)
    want = ["gadgets.example.dev", "widgets.example.dev"]
    assert crd_names(chart_crds(context(tmp_path), ChartInfo(name="op", path=folder))) == want
    assert crd_names(chart_crds(context(tmp_path), ChartInfo(name="op", path=archive))) == want
    helm = Helm(archive)
    pulled = chart_crds(context(tmp_path, helm, repositories={"r": "https://charts.example.com"}),
                        ChartInfo(name="op", chart="op", repository="r", version="1.0.0"))
    assert crd_names(pulled) == want
    assert helm.added == [("r", "https://charts.example.com")]  # into the run's own repositories
    assert helm.pulls == [("r/op", "1.0.0")]
    assert "Deployment" not in pulled  # the chart's templates are helm's business


def test_upgrade_applies_the_charts_crds_server_side(tmp_path: Path) -> None:
    folder = chart_folder(tmp_path, "widgets.example.dev")
    kubectl = Kubectl()
    applied = upgrade_chart_crds(context(tmp_path, kubectl=kubectl), ChartInfo(name="op", path=folder),
                                 installed=UPGRADE)
    assert applied == ["widgets.example.dev"]
    (manifests,) = kubectl.applied
    assert crd_names(manifests) == ["widgets.example.dev"]


def test_a_first_install_leaves_crds_to_helm_unless_they_exist(tmp_path: Path) -> None:
    folder = chart_folder(tmp_path, "widgets.example.dev")
    info = ChartInfo(name="op", path=folder)
    kubectl = Kubectl()
    assert upgrade_chart_crds(context(tmp_path, kubectl=kubectl), info, installed=None,
                              probe=["widgets.example.dev"]) is None
    assert kubectl.applied == []
    # kept from an earlier install (helm keeps CRDs on uninstall): helm's install would skip them
    kubectl.present.add("widgets.example.dev")
    assert upgrade_chart_crds(context(tmp_path, kubectl=kubectl), info, installed=None,
                              probe=["widgets.example.dev"]) == ["widgets.example.dev"]
    assert len(kubectl.applied) == 1


@pytest.mark.parametrize("why", ["destroy", "skip", "dry-run context", "dry-run chart", "skip_crds"])
def test_nothing_applied_when_not_due(tmp_path: Path, why: str) -> None:
    info = ChartInfo(name="op", path=chart_folder(tmp_path, "widgets.example.dev"))
    kw: dict[str, Any] = {}
    if why == "destroy":
        info.action = HelmAction.DESTROY
    elif why == "skip":
        info.action = HelmAction.SKIP
    elif why == "dry-run context":
        kw["dry_run"] = True
    elif why == "dry-run chart":
        info.dry_run = True
    else:
        info.skip_crds = True
    kubectl = Kubectl({"widgets.example.dev"})
    assert upgrade_chart_crds(context(tmp_path, kubectl=kubectl, **kw), info, installed=UPGRADE) is None
    assert kubectl.applied == []


def test_a_chart_without_crds_applies_nothing(tmp_path: Path) -> None:
    kubectl = Kubectl()
    info = ChartInfo(name="op", path=chart_folder(tmp_path))
    assert upgrade_chart_crds(context(tmp_path, kubectl=kubectl), info, installed=UPGRADE) == []
    assert kubectl.applied == []


class RefusingKubectl(Kubectl):
    def apply_server_side(self, manifests: str, **_: Any) -> list[str]:
        from firestream_core.errors import HelmCommandError

        raise HelmCommandError('kubectl apply failed: The CustomResourceDefinition "b.example.dev" is invalid',
                               stderr="x", hint="see kubectl")


def test_a_refused_crd_says_helm_did_not_run_and_where_the_release_stands(tmp_path: Path) -> None:
    """Half-way (one CRD of several refused): the error names the release, the chart, the CRD
    kubectl named, and whether the release is unchanged or stays uninstalled by the plan's step."""
    from firestream_core.errors import HelmCommandError
    from firestream_core.plugin.context import PreparedRelease

    info = ChartInfo(name="op", chart="op", version="2.0.0", path=chart_folder(tmp_path, "a.example.dev",
                                                                                 "b.example.dev"))
    with pytest.raises(HelmCommandError) as caught:
        upgrade_chart_crds(context(tmp_path, kubectl=RefusingKubectl()), info, installed=UPGRADE)
    assert str(caught.value) == (
        "the CRDs of op 2.0.0 were not all applied, so helm did not run and release 'op' is unchanged at "
        "1.0.0 (revision 1); CRDs applied before the failure stay applied, apply again once the rejected one "
        "is fixed: kubectl apply failed: The CustomResourceDefinition \"b.example.dev\" is invalid")
    assert (caught.value.release, caught.value.stderr, caught.value.hint) == ("op", "x", "see kubectl")

    gone = context(tmp_path, kubectl=RefusingKubectl({"a.example.dev"}))
    gone.prepared = PreparedRelease(installed=None, uninstalled=True)
    with pytest.raises(HelmCommandError, match=r"helm did not run and release 'op' stays uninstalled \(the "
                       r"plan's breaking-version step removed it\): the next plan creates it; .*b\.example\.dev"):
        upgrade_chart_crds(gone, info, installed=None, probe=["a.example.dev"])
