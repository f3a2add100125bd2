"""The registry: where the user's models live, lookup by id, verification of tampered, missing and extra
files, shipped-id clashes, and concurrent imports."""

import os
import threading

import pytest
from modelFolders import writeNnunetModel, writeTorchScriptModel

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.models.manifest import SHIPPED_MANIFEST, readManifest, writeManifest
from VirtualBiopsy.models.modelImport import entryFromPath, installModel
from VirtualBiopsy.models.registry import ModelRegistry, defaultUserFolder


def test_default_folder_honours_xdg_data_home_and_the_argument_wins(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert defaultUserFolder() == tmp_path / "data" / "virtual-biopsy" / "models"
    assert ModelRegistry().userFolder == tmp_path / "data" / "virtual-biopsy" / "models"
    assert ModelRegistry(tmp_path / "mine").userFolder == tmp_path / "mine"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # the XDG spec says to ignore relative paths
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert defaultUserFolder() == tmp_path / "home" / ".local" / "share" / "virtual-biopsy" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert defaultUserFolder() == tmp_path / "home" / ".local" / "share" / "virtual-biopsy" / "models"


def test_shipped_models_come_first_and_resolve_next_to_their_manifest(tmp_path):
    shippedFolder = tmp_path / "shipped"  # filled as docs/models.md says a release ships a model
    shippedFolder.mkdir()
    writeManifest(shippedFolder / "models.json", [])
    entry = installModel(writeNnunetModel(tmp_path / "demo"), shippedFolder, "demo", trust=True)
    writeManifest(shippedFolder / "models.json", [*readManifest(shippedFolder / "models.json"), entry])
    registry = ModelRegistry(tmp_path / "user", shippedManifest=shippedFolder / "models.json")
    user = registry.importModel(writeTorchScriptModel(tmp_path / "ts"))
    assert [e.id for e in registry.list()] == ["demo", "net"]
    assert registry.modelPath(registry.get("demo")) == shippedFolder / "demo"
    assert registry.manifestOf(user) == registry.userManifest and registry.verify(registry.get("demo")).ok
    with pytest.raises(InputError, match="id 'demo' exists already"):
        registry.importModel(shippedFolder / "demo", modelId="Demo")
    with pytest.raises(InputError, match="is the shipped models folder"):
        ModelRegistry(shippedFolder, shippedManifest=shippedFolder / "models.json").importModel(tmp_path / "ts")
    clash = readManifest(registry.userManifest)[0]
    writeManifest(registry.userManifest, [type(clash)(**{**clash.__dict__, "id": "DEMO"})])
    with pytest.raises(ModelError, match="lists 'DEMO', an id of a shipped model"):
        registry.list()


def test_the_library_registry_reads_the_shipped_manifest(tmp_path):
    registry = ModelRegistry(tmp_path)
    assert registry.shippedManifest == SHIPPED_MANIFEST and registry.list() == readManifest(SHIPPED_MANIFEST)


def test_unknown_ids_list_the_known_ones_and_the_closest(tmp_path):
    registry = ModelRegistry(tmp_path / "user")
    with pytest.raises(InputError, match=r"No model with id 'brain'\.( Did you mean '[^']+'\?)? Known models: demo, "):
        registry.get("brain")
    registry.importModel(writeTorchScriptModel(tmp_path / "ts", name="brain-tumour"))
    with pytest.raises(InputError, match=r"Did you mean 'brain-tumour'\? Known models: .*brain-tumour"):
        registry.get("brain-tumor")
    outsider = entryFromPath(writeTorchScriptModel(tmp_path / "other", name="other"))
    assert registry.modelPath(outsider) == tmp_path / "other" / "other.pt"  # absolute paths need no manifest
    with pytest.raises(ModelError, match="is in no manifest"):
        registry.modelPath(type(outsider)(**{**outsider.__dict__, "path": "other.pt"}))


def test_verify_reports_changed_missing_extra_and_linked_files(tmp_path):
    registry = ModelRegistry(tmp_path / "user")
    entry = registry.importModel(writeNnunetModel(tmp_path / "m", folds=(0, 1)))
    root = registry.modelPath(entry)
    checkpoint = root / "fold_0" / "checkpoint_final.pth"
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit pattern in the middle of the weights
    checkpoint.write_bytes(bytes(data))
    (root / "fold_1" / "checkpoint_final.pth").unlink()
    (root / "fold_1" / "extra.pkl").write_bytes(b"payload")
    os.symlink(tmp_path, root / "link")
    report = registry.verify(entry)
    assert not report.ok and report.checked == 4
    name = "fold_0/checkpoint_final.pth"
    assert [(c.path, c.expected) for c in report.changed] == [(name, entry.files[name])]
    assert report.changed[0].actual != report.changed[0].expected
    assert report.missing == ("fold_1/checkpoint_final.pth",) and report.extra == ("fold_1/extra.pkl",)
    assert report.unsafe == ("link",)
    text = "\n".join(report.lines())
    for expected in (
        "FAILED",
        "changed  fold_0/checkpoint_final.pth",
        report.changed[0].actual,
        "missing  fold_1/checkpoint_final.pth",
        "extra    fold_1/extra.pkl",
        "unsafe   link",
    ):
        assert expected in text


def test_verify_a_missing_model_and_an_inconsistent_entry(tmp_path):
    registry = ModelRegistry(tmp_path / "user")
    entry = registry.importModel(writeTorchScriptModel(tmp_path / "ts"))
    assert registry.verify(entry).lines()[0].startswith("net: OK (1 file(s) match")
    broken = type(entry)(**{**entry.__dict__, "sha256": "0" * 64})
    assert "does not match the listed files" in registry.verify(broken).manifestProblem
    registry.modelPath(entry).unlink()
    assert registry.verify(entry).missing == ("net.pt",)


def test_concurrent_imports_keep_every_entry(tmp_path):
    registry = ModelRegistry(tmp_path / "user")
    sources = [writeTorchScriptModel(tmp_path / f"ts{i}", name=f"net{i}") for i in range(4)]
    errors = []

    def run(source):
        try:
            ModelRegistry(registry.userFolder).importModel(source)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(source,)) for source in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(e.id for e in registry.list() if not e.isCatalogue) == [
        "demo",
        "net0",
        "net1",
        "net2",
        "net3",
    ]
