"""pyradiomics' public sample cases: pip download, hash checks, safe extraction, cache."""

from __future__ import annotations

import hashlib
import io
import pathlib
import sys
import tarfile

import pytest
import SimpleITK as sitk

from VirtualBiopsy.data import sampleData
from VirtualBiopsy.data.sampleData import (
    SAMPLE_CASES,
    SAMPLE_FILES,
    extractSampleFiles,
    fetchSampleData,
)
from VirtualBiopsy.errors import DependencyError, InputError
from VirtualBiopsy.files import sha256File

FAKE_FILES = {"brain1_image.nrrd": b"fake image bytes", "brain1_label.nrrd": b"fake label bytes"}


def makeArchive(path: pathlib.Path, files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> pathlib.Path:
    """A gzipped tar with ``files`` under the sdist's data folder and any ``extra`` members."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            member = tarfile.TarInfo(f"{sampleData.ARCHIVE_FOLDER}/{name}")
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
        for member in extra:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return path


@pytest.fixture
def fakeSource(tmp_path, monkeypatch):
    """Replace pip with a local archive of fake brain1 files whose hashes are the expected ones."""
    archive = makeArchive(tmp_path / "pyradiomics-3.0.1.tar.gz", FAKE_FILES)
    monkeypatch.setattr(sampleData, "SDIST_SHA256", sha256File(archive))
    monkeypatch.setattr(sampleData, "SAMPLE_FILES", {n: hashlib.sha256(c).hexdigest() for n, c in FAKE_FILES.items()})
    calls = []

    def download(folder: pathlib.Path) -> pathlib.Path:
        calls.append(folder)
        return archive

    monkeypatch.setattr(sampleData, "downloadSdist", download)
    return calls


def test_files_are_extracted_verified_and_then_reused(tmp_path, fakeSource):
    cache = tmp_path / "cache"
    cases = fetchSampleData(cases=["brain1"], cacheDir=cache)
    assert len(fakeSource) == 1
    assert cases["brain1"].image.read_bytes() == FAKE_FILES["brain1_image.nrrd"]
    assert cases["brain1"].label == cache / "brain1_label.nrrd"
    assert sorted(p.name for p in cache.iterdir()) == sorted(FAKE_FILES), "no temporary files are left"
    assert fetchSampleData(cases="brain1", cacheDir=cache) == cases
    assert len(fakeSource) == 1, "verified cached files do not run pip again"


def test_cached_file_with_a_wrong_hash_is_fetched_again(tmp_path, fakeSource):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "brain1_image.nrrd").write_bytes(FAKE_FILES["brain1_image.nrrd"])
    (cache / "brain1_label.nrrd").write_bytes(b"tampered")
    cases = fetchSampleData(cases=["brain1"], cacheDir=cache)
    assert len(fakeSource) == 1
    assert cases["brain1"].label.read_bytes() == FAKE_FILES["brain1_label.nrrd"]


def test_copy_to_out_dir(tmp_path, fakeSource):
    cases = fetchSampleData(tmp_path / "out", cases=["brain1"], cacheDir=tmp_path / "cache")
    assert cases["brain1"].image == tmp_path / "out" / "brain1_image.nrrd"
    assert cases["brain1"].label.read_bytes() == FAKE_FILES["brain1_label.nrrd"]


def test_archive_with_a_wrong_hash_is_refused(tmp_path, fakeSource, monkeypatch):
    monkeypatch.setattr(sampleData, "SDIST_SHA256", "0" * 64)
    with pytest.raises(InputError, match="not the published pyradiomics 3.0.1 sdist"):
        fetchSampleData(cases=["brain1"], cacheDir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_member_with_a_wrong_hash_is_not_used(tmp_path, monkeypatch):
    archive = makeArchive(tmp_path / "sdist.tar.gz", {"brain1_label.nrrd": b"not the label"})
    out = tmp_path / "out"
    with pytest.raises(InputError, match="brain1_label.nrrd in the archive has SHA-256 .* it was not used"):
        extractSampleFiles(archive, out, ["brain1_label.nrrd"])
    assert list(out.iterdir()) == []


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    member.size = 4 if kind == tarfile.REGTYPE else 0
    return member


@pytest.mark.parametrize(
    "member",
    [
        _member("../evil.nrrd"),
        _member("/tmp/virtual-biopsy-evil.nrrd"),
        _member(f"{sampleData.ARCHIVE_FOLDER}/../../../evil.nrrd"),
        _member(f"{sampleData.ARCHIVE_FOLDER}/link.nrrd", tarfile.SYMTYPE, "/etc/passwd"),
        _member(f"{sampleData.ARCHIVE_FOLDER}/hard.nrrd", tarfile.LNKTYPE, "/etc/passwd"),
        _member(f"{sampleData.ARCHIVE_FOLDER}/fifo", tarfile.FIFOTYPE),
    ],
    ids=["parent", "absolute", "nested-parent", "symlink", "hardlink", "fifo"],
)
def test_unsafe_archives_are_refused(tmp_path, member):
    archive = makeArchive(tmp_path / "evil.tar.gz", {"brain1_label.nrrd": b"x"}, [member])
    out = tmp_path / "deep" / "out"
    with pytest.raises(InputError, match="Refusing the archive"):
        extractSampleFiles(archive, out, ["brain1_label.nrrd"])
    assert list(out.iterdir()) == []
    assert not (tmp_path / "deep" / "evil.nrrd").exists() and not (tmp_path / "evil.nrrd").exists()


def test_unknown_case_lists_the_known_ones():
    with pytest.raises(InputError, match="Unknown sample case.*'brain3'.*brain1, brain2, breast1, lung1, lung2"):
        fetchSampleData(cases=["brain1", "brain3"])


def test_pip_failure_names_the_error_and_the_manual_command(tmp_path, monkeypatch):
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('ERROR: No matching distribution'); sys.exit(1)"]
    monkeypatch.setattr(sampleData, "pipDownloadCommand", lambda folder: failing)
    with pytest.raises(DependencyError, match="(?s)exit status 1.*No matching distribution.*run by hand"):
        sampleData.downloadSdist(tmp_path)


def test_pip_command_and_default_cache(monkeypatch, tmp_path):
    command = sampleData.pipDownloadCommand(tmp_path)
    assert command[:3] == [sys.executable, "-m", "pip"]
    assert {"--no-deps", "--no-build-isolation", "pyradiomics==3.0.1"} <= set(command)
    monkeypatch.setenv("VIRTUAL_BIOPSY_CACHE", str(tmp_path))
    assert sampleData.defaultCacheDir() == tmp_path / "sample-data" / "pyradiomics-3.0.1"


@pytest.mark.network
def test_sample_cases_are_fetched_through_pip_and_verified(sampleCases):
    assert tuple(sampleCases) == SAMPLE_CASES
    for case in sampleCases.values():
        for path in (case.image, case.label):
            assert sha256File(path) == SAMPLE_FILES[path.name]
    brain = sitk.ReadImage(str(sampleCases["brain1"].image))
    label = sitk.ReadImage(str(sampleCases["brain1"].label))
    assert brain.GetSize() == label.GetSize() == (256, 256, 25)
    assert sitk.GetArrayViewFromImage(label).max() == 1


@pytest.mark.network
def test_real_cache_is_reused_without_pip(sampleCases, monkeypatch):
    def noPip(folder):
        raise AssertionError("pip must not run when the cache is verified")

    monkeypatch.setattr(sampleData, "downloadSdist", noPip)
    cache = sampleCases["brain1"].image.parent
    assert fetchSampleData(cacheDir=cache) == sampleCases
