"""Importing models into a user folder: folders, TorchScript files and zip archives (nnU-Net's own export
included), the same hashes whatever the route, and hostile input refused with nothing written."""

import os
import subprocess
import sys
import warnings

import pytest
from modelFolders import (
    CHARACTER_DEVICE,
    FILE,
    LINK,
    TRAINED,
    writeNetworkModel,
    writeNnunetModel,
    writeTorchScriptModel,
    writeZip,
    zipFolder,
)

from VirtualBiopsy.errors import CancelledError, InputError
from VirtualBiopsy.models.archives import ImportLimits
from VirtualBiopsy.models.hashing import treeHashes
from VirtualBiopsy.models.manifest import readManifest
from VirtualBiopsy.models.modelImport import entryFromPath
from VirtualBiopsy.models.registry import ModelRegistry
from VirtualBiopsy.progress import CancelToken


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "user")


def userFolderContents(registry) -> list[str]:
    if not registry.userFolder.exists():
        return []
    return sorted(path.relative_to(registry.userFolder).as_posix() for path in registry.userFolder.rglob("*"))


def test_folder_import_copies_the_needed_files_and_records_them(tmp_path, registry):
    source = writeNnunetModel(tmp_path / "Dataset001_Tiny" / TRAINED)
    reports = []
    entry = registry.importModel(tmp_path / "Dataset001_Tiny", progress=lambda f, m: reports.append(f))
    assert entry.id == "Dataset001_Tiny" and entry.path == "Dataset001_Tiny" and not entry.trusted
    assert registry.modelPath(entry) == registry.userFolder / "Dataset001_Tiny"
    assert treeHashes(registry.modelPath(entry)) == (entry.sha256, entry.files)
    assert sorted(entry.files) == ["dataset.json", "fold_0/checkpoint_final.pth", "plans.json"]
    assert entry.files == entryFromPath(source).files  # the same hashes as the model used in place
    assert readManifest(registry.userManifest) == [entry] and registry.get("Dataset001_Tiny") == entry
    assert registry.verify(entry).ok
    assert reports == sorted(reports) and reports[-1] == 1.0
    assert not any(name.endswith(".partial") for name in userFolderContents(registry))


def test_zip_import_gives_the_same_model_as_the_folder(tmp_path, registry):
    source = writeNnunetModel(tmp_path / "Dataset001_Tiny" / TRAINED, folds=(0, 1))
    archive = zipFolder(tmp_path / "Dataset001_Tiny", tmp_path / "tiny.zip", prefix="Dataset001_Tiny/")
    fromZip = registry.importModel(archive, trust=True)
    fromFolder = registry.importModel(source, modelId="folder")
    assert fromZip.id == "tiny" and fromZip.trusted and fromZip.sha256 == fromFolder.sha256
    assert fromZip.files == fromFolder.files and fromZip.options == fromFolder.options
    assert [e.id for e in readManifest(registry.userManifest)] == ["tiny", "folder"]
    assert registry.verify(fromZip).ok and registry.verify(fromFolder).ok


@pytest.mark.slow  # imports MONAI (5–10 s on a busy 2-core machine)
def test_torchscript_and_monai_network_imports(tmp_path, registry):
    script = registry.importModel(writeTorchScriptModel(tmp_path / "ts"))
    assert script.path == "net/net.pt" and script.backend == "monai-torchscript"
    assert (registry.userFolder / "net" / "net.json").is_file()  # the sidecar travels with it
    assert registry.verify(script).ok and registry.modelPath(script).is_file()
    zipped = registry.importModel(zipFolder(tmp_path / "ts", tmp_path / "ts.zip"), modelId="zipped")
    assert zipped.path == "zipped/net.pt" and zipped.files == script.files and registry.verify(zipped).ok
    network = registry.importModel(writeNetworkModel(tmp_path / "unet"), modelId="unet")
    assert sorted(network.files) == ["model.json", "weights.pth"] and registry.verify(network).ok


@pytest.mark.slow
def test_zip_made_by_nnunets_own_exporter(tmp_path, registry):
    results = tmp_path / "results"
    writeNnunetModel(results / "Dataset001_Tiny" / TRAINED)
    script = (
        "from nnunetv2.model_sharing.model_export import export_pretrained_model as e; "
        f"e('Dataset001_Tiny', {str(tmp_path / 'export.zip')!r}, configurations=('3d_fullres',), folds=(0,))"
    )
    environment = {
        **os.environ,
        "nnUNet_results": str(results),
        "nnUNet_raw": str(tmp_path),
        "nnUNet_preprocessed": str(tmp_path),
    }
    subprocess.run([sys.executable, "-c", script], env=environment, check=True, capture_output=True)
    entry = registry.importModel(tmp_path / "export.zip")
    assert entry.files == entryFromPath(results / "Dataset001_Tiny").files and registry.verify(entry).ok


def test_an_existing_id_is_never_replaced(tmp_path, registry):
    source = writeTorchScriptModel(tmp_path / "ts")
    registry.importModel(source)
    manifest = registry.userManifest.read_bytes()
    with pytest.raises(InputError, match=r"id 'net' exists already.*--id net-2"):
        registry.importModel(writeNnunetModel(tmp_path / "net"))
    with pytest.raises(InputError, match="id 'net' exists already"):
        registry.importModel(source, modelId="NET")
    (registry.userFolder / "orphan").mkdir()  # a folder no manifest lists
    with pytest.raises(InputError, match=r"model folder 'orphan' exists already.*--id orphan-2"):
        registry.importModel(source, modelId="orphan")
    assert registry.userManifest.read_bytes() == manifest


HOSTILE = {
    "traversal": ([("model/dataset.json", b"{}", 0), ("../x", b"evil", 0)], r"'\.\./x' has an unsafe path"),
    "nested traversal": ([("model/../../x", b"evil", 0)], r"unsafe path"),
    "absolute": ([("/x", b"evil", 0)], r"'/x' has an unsafe path"),
    "drive letter": ([("C:/x", b"evil", 0)], r"unsafe path"),
    "backslash": ([("model\\..\\x", b"evil", 0)], r"unsafe path"),
    "windows stream": ([("model/plans.json:payload", b"evil", 0)], r"holds a colon"),
    "control character": ([("model/a\x07.json", b"evil", 0)], r"control characters"),
    "symlink entry": ([("model/plans.json", b"/etc/passwd", LINK)], r"'model/plans.json' is a symbolic link"),
    "device entry": ([("model/dev", b"", CHARACTER_DEVICE)], r"is a device, pipe or socket"),
    "duplicate": ([("model/a.json", b"1", FILE), ("model/a.json", b"2", FILE)], r"'model/a.json' repeats"),
    "case duplicate": (
        [("model/A.json", b"1", 0), ("model/a.json", b"2", 0)],
        r"'model/a.json' repeats the entry 'model/A.json'",
    ),
    "file and folder": ([("model/a", b"1", 0), ("model/a/b", b"2", 0)], r"'model/a' is a file whose name"),
    "bomb": ([("model/zeros.pth", bytes(50 << 20), 0)], r"expands \d+-fold.*zip bomb"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_archives_are_refused_before_anything_is_written(tmp_path, registry, name):
    entries, message = HOSTILE[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate name
        archive = writeZip(tmp_path / "hostile.zip", entries)
    with pytest.raises(InputError, match=message):
        registry.importModel(archive, modelId="hostile")
    assert not registry.userFolder.exists()  # refused before anything was made
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


def test_archive_limits_on_count_size_and_total_ratio(tmp_path, registry):
    archive = writeZip(tmp_path / "many.zip", [(f"model/{i}", b"x", 0) for i in range(5)])
    with pytest.raises(InputError, match="has 5 entries, more than the limit of 4"):
        registry.importModel(archive, limits=ImportLimits(maxFiles=4))
    archive = writeZip(tmp_path / "big.zip", [("model/a", os.urandom(3000), 0)])
    with pytest.raises(InputError, match="would unpack to 3000 bytes"):
        registry.importModel(archive, limits=ImportLimits(maxTotalBytes=2999))
    archive = writeZip(tmp_path / "ratio.zip", [(f"model/{i}", bytes(1000), 0) for i in range(20)])
    with pytest.raises(InputError, match=r"expands \d+-fold in total"):
        registry.importModel(archive, limits=ImportLimits(maxRatio=10, ratioFloorBytes=10_000))
    assert userFolderContents(registry) == []


def test_a_corrupt_archive_is_refused(tmp_path, registry):
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="Cannot read the zip archive"):
        registry.importModel(tmp_path / "bad.zip")
    archive = zipFolder(writeNnunetModel(tmp_path / "m"), tmp_path / "m.zip")
    data = bytearray(archive.read_bytes())
    offset = data.find(b"PK\x03\x04", 100)  # a later entry
    data[offset + 200 : offset + 400] = bytes(200)  # damage its compressed data
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt|Cannot read"):
        registry.importModel(archive, modelId="damaged")
    assert userFolderContents(registry) == []


@pytest.mark.parametrize("kind", ["link pointing outside", "link inside", "pipe"])
def test_folders_with_links_or_special_files_are_refused(tmp_path, registry, kind):
    source = writeNnunetModel(tmp_path / "m")
    (tmp_path / "secret.txt").write_text("secret")
    if kind == "link pointing outside":
        os.symlink(tmp_path / "secret.txt", source / "fold_0" / "notes.txt")
    elif kind == "link inside":
        os.symlink(source / "plans.json", source / "plans_copy.json")
    else:
        os.mkfifo(source / "fold_0" / "pipe")
    with pytest.raises(InputError, match="link\\(s\\) or special file\\(s\\)"):
        registry.importModel(source)
    assert not registry.userFolder.exists()


def test_unrecognised_and_missing_sources(tmp_path, registry):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hi")
    with pytest.raises(InputError, match="Cannot tell what model"):
        registry.importModel(tmp_path / "notes")
    archive = zipFolder(tmp_path / "notes", tmp_path / "notes.zip")
    with pytest.raises(InputError, match="Cannot tell what model"):
        registry.importModel(archive)
    with pytest.raises(InputError, match="does not exist"):
        registry.importModel(tmp_path / "absent")
    (tmp_path / "con").mkdir()
    with pytest.raises(InputError, match="'con' is a reserved device name on Windows; choose another --id"):
        registry.importModel(tmp_path / "con")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="neither a regular file nor a folder"):
        registry.importModel(tmp_path / "pipe")
    os.symlink(tmp_path / "notes", tmp_path / "alias")
    with pytest.raises(InputError, match="symbolic link"):
        registry.importModel(tmp_path / "alias", modelId="alias")
    assert userFolderContents(registry) == []


def test_a_cancelled_import_leaves_nothing(tmp_path, registry):
    token = CancelToken()

    def progress(fraction, message):
        if fraction > 0.5:
            token.cancel()

    with pytest.raises(CancelledError):
        registry.importModel(writeNnunetModel(tmp_path / "m", folds=(0, 1, 2)), progress=progress, cancel=token)
    assert userFolderContents(registry) == []
