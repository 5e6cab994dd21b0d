"""chart_digest: a local chart's content, as helm would load it, in one digest."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from firestream_core.tools.chartfiles import HelmIgnore, chart_digest, chart_files


def make_chart(root: Path) -> Path:
    d = root / "web"
    (d / "templates").mkdir(parents=True)
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (d / "values.yaml").write_text("replicaCount: 1\n")
    (d / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
    return d


def tgz(path: Path, members: dict[str, bytes], mtime: int) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))


def test_equal_content_equal_digest_and_every_edit_shows(tmp_path: Path) -> None:
    a, b = make_chart(tmp_path / "a"), make_chart(tmp_path / "b")
    first = chart_digest(a)
    assert first.startswith("sha256:") and chart_digest(b) == first  # not tied to the folder's place
    (a / "templates" / "cm.yaml").write_text("kind: ConfigMap\ndata: {}\n")
    edited = chart_digest(a)
    assert edited != first
    (a / "values.yaml").write_text("replicaCount: 2\n")
    assert chart_digest(a) not in (first, edited)
    # a new file and a renamed one count too
    (b / "templates" / "extra.yaml").write_text("")
    assert chart_digest(b) != first
    (b / "templates" / "extra.yaml").rename(b / "templates" / "other.yaml")
    renamed = chart_digest(b)
    assert renamed != first


def test_dotfiles_and_vcs_data_are_not_chart_content(tmp_path: Path) -> None:
    d = make_chart(tmp_path)
    before = chart_digest(d)
    (d / ".git" / "objects").mkdir(parents=True)
    (d / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (d / ".git" / "objects" / "ab").write_text("blob")
    (d / "templates" / ".cm.yaml.swp").write_text("swap")
    (d / ".helmignore").write_text("# nothing ignored\n")
    assert chart_digest(d) == before


def test_helmignore_is_followed(tmp_path: Path) -> None:
    d = make_chart(tmp_path)
    (d / ".helmignore").write_text("*.bak\ndocs/\n/NOTES.txt\nci/*.yaml\n!keep.bak\n")
    before = chart_digest(d)
    (d / "values.yaml.bak").write_text("old")
    (d / "templates" / "cm.yaml.bak").write_text("old")  # no '/': matched on the base name
    (d / "docs").mkdir()
    (d / "docs" / "README.md").write_text("doc")
    (d / "NOTES.txt").write_text("rooted pattern")
    (d / "ci").mkdir()
    (d / "ci" / "test.yaml").write_text("ci values")
    assert chart_digest(d) == before
    (d / "templates" / "NOTES.txt").write_text("only the root one is ignored")
    assert chart_digest(d) != before
    rel = [r for r, _ in chart_files(d)]
    assert "templates/NOTES.txt" in rel and "NOTES.txt" not in rel and "ci/test.yaml" not in rel


def test_helmignore_rules_as_helm_applies_them() -> None:
    rules = HelmIgnore(["*.tmp", "!important.tmp", "build/", "a/*/c"])
    assert rules.ignored("x.tmp", False) and rules.ignored("deep/er/x.tmp", False)
    assert rules.ignored("important.tmp", False)  # helm: the first matching rule decides
    assert rules.ignored("build", True) and not rules.ignored("build", False)
    assert rules.ignored("a/b/c", False) and not rules.ignored("a/b/b/c", False)  # '*' stops at '/'
    assert rules.ignored("templates/.hidden", False)  # helm's default rule
    assert not HelmIgnore(["**/x"]).ignored("a/x", False)  # '**' is not helm syntax: skipped


def test_vendored_dependency_archives_count_by_content_not_timestamps(tmp_path: Path) -> None:
    d = make_chart(tmp_path)
    (d / "charts").mkdir()
    archive = d / "charts" / "dep-1.0.0.tgz"
    tgz(archive, {"dep/Chart.yaml": b"name: dep\n", "dep/templates/a.yaml": b"a"}, mtime=1_000)
    first = chart_digest(d)
    # 'helm dependency build' again: the same files with new timestamps
    tgz(archive, {"dep/templates/a.yaml": b"a", "dep/Chart.yaml": b"name: dep\n"}, mtime=2_000)
    assert chart_digest(d) == first
    tgz(archive, {"dep/Chart.yaml": b"name: dep\n", "dep/templates/a.yaml": b"b"}, mtime=2_000)
    assert chart_digest(d) != first


def test_a_chart_archive_as_path_and_a_missing_folder(tmp_path: Path) -> None:
    one, two = tmp_path / "one.tgz", tmp_path / "two.tgz"
    tgz(one, {"web/Chart.yaml": b"name: web\n"}, mtime=1)
    tgz(two, {"web/Chart.yaml": b"name: web\n"}, mtime=99)
    assert chart_digest(one) == chart_digest(two)
    with pytest.raises(FileNotFoundError) as err:
        chart_digest(tmp_path / "nope")
    assert "nope" in str(err.value)


def test_symlinks_are_followed_and_loops_end(tmp_path: Path) -> None:
    d = make_chart(tmp_path)
    shared = tmp_path / "shared.yaml"
    shared.write_text("kind: Secret\n")
    os.symlink(shared, d / "templates" / "shared.yaml")
    os.symlink(d, d / "templates" / "loop")
    first = chart_digest(d)
    shared.write_text("kind: Secret\ndata: {}\n")
    assert chart_digest(d) != first


def test_within_one_plan_a_shared_chart_is_read_once_and_afresh_after(tmp_path: Path) -> None:
    from firestream_core.tools.chartfiles import read_once, reading_once

    chart = make_chart(tmp_path)
    reads: list[str] = []

    def meta() -> str:
        reads.append("read")
        return (chart / "Chart.yaml").read_text()

    first = chart_digest(chart)
    with reading_once():
        assert chart_digest(chart) == first
        (chart / "values.yaml").write_text("replicaCount: 2\n")
        assert chart_digest(chart) == first  # the plan's releases all see the content it read first
        with reading_once():  # a nested block shares the outer memo
            assert chart_digest(chart) == first
        assert read_once("meta", chart, meta) == read_once("meta", chart, meta)
        assert reads == ["read"]
    edited = chart_digest(chart)
    assert edited != first  # the next plan reads the folder again
    assert read_once("meta", chart, meta) and reads == ["read", "read"]  # outside a block: every time


def test_the_digest_keeps_its_form_so_recorded_charts_do_not_all_look_changed(tmp_path: Path) -> None:
    """The state keeps these digests: the same content must give the same digest as firestream
    versions before it (the values below were computed by the whole-file reader it replaced)."""
    d = make_chart(tmp_path)
    (d / "charts").mkdir()
    tgz(d / "charts" / "dep-1.0.0.tgz", {"dep/Chart.yaml": b"name: dep\n",
                                         "dep/big.bin": bytes(range(256)) * 9000}, mtime=1)
    (d / "files").mkdir()
    (d / "files" / "blob").write_bytes(bytes(range(256)) * 5000)
    tgz(tmp_path / "alone.tgz", {"web/Chart.yaml": b"name: web\n"}, mtime=1)
    (tmp_path / "plain.tgz").write_bytes(b"not an archive" * 1000)
    assert chart_digest(d) == "sha256:be3db924c97acc9cb4fcc604adb9e3fcc73a13418373c899209909aaaa51e234"
    assert chart_digest(tmp_path / "alone.tgz") == (
        "sha256:d77a82ef2fad99dff8ce1041858d0bb599d3197e1a57beb9d38e030eed4c5e9a")
    assert chart_digest(tmp_path / "plain.tgz") == (
        "sha256:1bde5b73a5a33ade2881a81986cb33629d7962a37de3cfebc1cf58c4a9085121")


def test_files_and_archive_members_are_hashed_a_chunk_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """A chart holding a huge file (or an archive member that inflates to one) costs time, never
    its size in memory: no read asks for more than a chunk."""
    import firestream_core.tools.chartfiles as chartfiles

    d = make_chart(tmp_path)
    (d / "files").mkdir()
    (d / "files" / "blob").write_bytes(b"x" * 10_000)
    (d / "charts").mkdir()
    tgz(d / "charts" / "dep-1.0.0.tgz", {"dep/big": b"y" * 10_000}, mtime=1)
    whole = chart_digest(d)
    asked: list[int] = []
    real = chartfiles._update_stream

    def watched(h, stream, size):  # noqa: ANN001, ANN202
        read = stream.read
        stream_reads = type("R", (), {"read": lambda self, n=-1: (asked.append(n), read(n))[1],
                                      "name": getattr(stream, "name", None)})()
        return real(h, stream_reads, size)

    monkeypatch.setattr(chartfiles, "_CHUNK", 1000)
    monkeypatch.setattr(chartfiles, "_update_stream", watched)
    assert chart_digest(d) == whole
    assert asked and max(asked) <= 1000 and -1 not in asked
    assert asked.count(1000) >= 20  # both 10,000-byte files went through in pieces


def test_a_file_that_grows_while_it_is_hashed_is_an_error_not_a_wrong_digest(tmp_path: Path) -> None:
    import hashlib

    from firestream_core.tools.chartfiles import _update_stream

    with pytest.raises(OSError, match="changed while it was read"):
        _update_stream(hashlib.sha256(), io.BytesIO(b"abcdef"), 3)
    with pytest.raises(OSError, match="changed while it was read"):
        _update_stream(hashlib.sha256(), io.BytesIO(b"ab"), 3)


def test_a_runs_recent_digests_read_a_shared_folder_once_per_tenth_of_a_second(tmp_path: Path) -> None:
    """apply checks each release's local chart just before helm reads it; a folder a thousand
    releases share is read again only once ``max_age`` has passed since the last reading began,
    so an edit older than that is still seen, and an unreadable folder is never remembered."""
    from firestream_core.tools.chartfiles import RecentDigests

    now = [100.0]
    d = make_chart(tmp_path)
    recent = RecentDigests(max_age=0.1, clock=lambda: now[0])
    first = recent.digest(d)
    assert first == chart_digest(d)
    (d / "templates" / "cm.yaml").write_text("kind: ConfigMap\ndata: {}\n")
    now[0] += 0.05
    assert recent.digest(d) == first  # within the window: the reading of 0.05 s ago
    now[0] += 0.06
    edited = recent.digest(d)
    assert edited == chart_digest(d) != first  # older than the window: read again, the edit shows
    other = make_chart(tmp_path / "other")
    (other / "values.yaml").write_text("replicaCount: 5\n")
    assert recent.digest(other) == chart_digest(other) != edited  # each folder on its own
    gone = tmp_path / "gone"
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            recent.digest(gone)
    make_chart(gone.parent / "gone-tmp").rename(gone)
    assert recent.digest(gone) == chart_digest(gone)


def test_releases_starting_together_wait_for_one_reading(tmp_path: Path, monkeypatch) -> None:
    """At unlimited concurrency a thousand releases check one folder at the same moment: each
    reading its own copy was the thundering herd the window alone did not stop."""
    import threading
    import time

    import firestream_core.tools.chartfiles as chartfiles

    d = make_chart(tmp_path)
    readings: list[float] = []
    real = chartfiles._digest

    def slow(path: Path) -> str:
        readings.append(time.monotonic())
        time.sleep(0.05)
        return real(path)

    monkeypatch.setattr(chartfiles, "_digest", slow)
    recent = chartfiles.RecentDigests(max_age=1.0)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(recent.digest(d))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(readings) == 1 and got == [chart_digest(d)] * 20
