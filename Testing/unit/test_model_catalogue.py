"""Catalogue models fetched on first use from a local HTTP server: a first fetch that then loads through the
registry, no network once cached, resume after a broken connection, and refusals (wrong archive hash, a file that
differs from the catalogue, traversal and links, no pinned hash, a backend this version cannot run) that leave
nothing in the cache."""

import io
import pathlib
import zipfile

import pytest
from catalogueServer import MODEL_ID, CatalogueServer, catalogueEntry, modelArchive, publish, sha256
from modelFolders import writeZip

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.models.catalogue import RECORD, cacheKey
from VirtualBiopsy.models.modelFiles import ModelFiles
from VirtualBiopsy.models.registry import ModelRegistry


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return modelArchive(tmp_path_factory.mktemp("catalogue-model"))


@pytest.fixture
def server():
    server = CatalogueServer()
    yield server
    server.stop()


def registryFor(tmp_path: pathlib.Path, entry) -> ModelRegistry:
    publish(tmp_path / "user", entry)
    return ModelRegistry(tmp_path / "user", cacheFolder=tmp_path / "cache")


def cacheContents(tmp_path: pathlib.Path) -> list[str]:
    """What a fetch left in the cache, besides its lock files and the downloads folder."""
    cache = tmp_path / "cache"
    if not cache.exists():
        return []
    return sorted(path.name for path in cache.iterdir() if path.name not in (".locks", "downloads"))


def test_first_fetch_loads_through_the_registry_and_is_not_fetched_again(model, server, tmp_path):
    local, archive = model
    server.files["/tiny.zip"] = archive
    registry = registryFor(tmp_path, catalogueEntry(local, server.url("/tiny.zip"), sha256(archive)))
    assert not registry.lookup(MODEL_ID).isFetched
    reports = []

    entry = registry.get(MODEL_ID, progress=lambda fraction, message: reports.append((fraction, message)))

    assert server.requests == [("/tiny.zip", None)]
    root = registry.modelPath(entry)
    assert root == tmp_path / "cache" / cacheKey(entry) / "model" and entry.files == local.files
    assert entry.sha256 == local.sha256  # the same tree as the folder that was zipped
    files = ModelFiles.checked(entry, root)  # every file hashed against the verified download
    assert files.readJson(root / "model.json")["network"] == "monai.networks.nets.UNet"
    assert sorted(files.loadCheckpoint(root / "weights.pth")) == sorted(
        ModelFiles(None, local.path).loadCheckpoint(pathlib.Path(local.path) / "weights.pth")
    )
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert not list((tmp_path / "cache" / "downloads").iterdir())  # the archive is not kept once extracted

    again = ModelRegistry(tmp_path / "user", cacheFolder=tmp_path / "cache")
    assert again.lookup(MODEL_ID) == entry and again.get(MODEL_ID) == entry
    assert len(server.requests) == 1  # no network request for a model the cache holds, verified


def test_a_changed_file_in_the_cache_is_refused_at_load(model, server, tmp_path):
    local, archive = model
    server.files["/tiny.zip"] = archive
    registry = registryFor(tmp_path, catalogueEntry(local, server.url("/tiny.zip"), sha256(archive)))
    root = registry.modelPath(registry.get(MODEL_ID))
    (root / "model.json").write_text("{}")
    entry = registry.get(MODEL_ID)  # known from the cache record: nothing is downloaded again ...
    with pytest.raises(ModelError, match="does not match its manifest"):
        ModelFiles.checked(entry, root)  # ... and every load hashes each file against the verified download
    with pytest.raises(ModelError, match="does not match its manifest"):
        registry.fetch(MODEL_ID)
    assert len(server.requests) == 1


def test_a_broken_download_resumes_with_a_range_request(model, server, tmp_path):
    local, archive = model
    server.files["/tiny.zip"] = archive
    server.dropAfter = len(archive) // 3
    registry = registryFor(tmp_path, catalogueEntry(local, server.url("/tiny.zip"), sha256(archive)))

    with pytest.raises(ModelError, match="re-run resumes"):
        registry.get(MODEL_ID)
    assert cacheContents(tmp_path) == []  # no half model
    partial = tmp_path / "cache" / "downloads" / f"{cacheKey(local)}.zip.partial"
    assert partial.stat().st_size == len(archive) // 3

    server.dropAfter = None  # the connection is whole again
    entry = registry.get(MODEL_ID)
    assert server.requests[-1] == ("/tiny.zip", f"bytes={len(archive) // 3}-")
    assert ModelFiles.checked(entry, registry.modelPath(entry)) and not partial.exists()


def test_a_wrong_archive_hash_is_refused_and_nothing_is_kept(model, server, tmp_path):
    local, archive = model
    server.files["/tiny.zip"] = archive
    registry = registryFor(tmp_path, catalogueEntry(local, server.url("/tiny.zip"), sha256(b"another archive")))
    with pytest.raises(ModelError, match="SHA-256 is .* but .* was expected"):
        registry.get(MODEL_ID)
    assert cacheContents(tmp_path) == [] and not list((tmp_path / "cache" / "downloads").iterdir())
    assert not registry.lookup(MODEL_ID).isFetched


def test_a_file_that_differs_from_the_catalogue_is_refused(model, server, tmp_path):
    local, archive = model
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as sink, zipfile.ZipFile(io.BytesIO(archive)) as source:
        for info in source.infolist():
            data = source.read(info)
            sink.writestr(info, data + b" " if info.filename.endswith("model.json") else data)
    server.files["/tiny.zip"] = tampered.read_bytes()
    # The user pinned the hash of the archive they were served, but the catalogue lists each file's hash.
    entry = catalogueEntry(local, server.url("/tiny.zip"), sha256(tampered.read_bytes()), listFiles=True)
    registry = registryFor(tmp_path, entry)
    with pytest.raises(ModelError, match=r"files differ .*changed: model\.json"):
        registry.get(MODEL_ID)
    assert cacheContents(tmp_path) == []


@pytest.mark.parametrize(
    ("entries", "why"),
    [
        ([("../evil.json", b"{}", 0), ("model.json", b"{}", 0)], "unsafe path"),
        ([("model.json", b"{}", 0), ("weights.pth", b"/etc/passwd", 0o120777)], "symbolic link"),
    ],
)
def test_a_hostile_archive_is_refused(model, server, tmp_path, entries, why):
    local, _ = model
    hostile = writeZip(tmp_path / "hostile.zip", entries).read_bytes()
    server.files["/tiny.zip"] = hostile
    registry = registryFor(tmp_path, catalogueEntry(local, server.url("/tiny.zip"), sha256(hostile)))
    with pytest.raises(InputError, match=why):
        registry.get(MODEL_ID)
    assert cacheContents(tmp_path) == [] and not list((tmp_path / "cache" / "downloads").iterdir())
    assert not (tmp_path / "evil.json").exists() and not (tmp_path / "cache" / "evil.json").exists()


def test_a_model_without_a_pinned_hash_is_not_downloaded_until_the_user_pins_one(model, server, tmp_path):
    local, archive = model
    server.files["/tiny.zip"] = archive
    registry = registryFor(tmp_path, catalogueEntry(local, server.url("/tiny.zip"), None))
    with pytest.raises(ModelError, match=f"never trusts a download on first use.*models fetch {MODEL_ID} --sha256 HEX"):
        registry.get(MODEL_ID)
    assert server.requests == []

    with pytest.raises(InputError, match="64 hexadecimal"):
        registry.fetch(MODEL_ID, sha256="abc")
    entry = registry.fetch(MODEL_ID, sha256=sha256(archive).upper())
    record = (tmp_path / "cache" / cacheKey(entry) / RECORD).read_text()
    assert sha256(archive) in record
    assert registry.get(MODEL_ID) == entry and len(server.requests) == 1  # the user's pin is remembered


def test_a_pinned_hash_that_contradicts_the_catalogue_is_refused(model, tmp_path):
    local, archive = model
    registry = registryFor(tmp_path, catalogueEntry(local, "http://127.0.0.1:9/tiny.zip", sha256(archive)))
    with pytest.raises(InputError, match="differs from the SHA-256 the catalogue records"):
        registry.fetch(MODEL_ID, sha256=sha256(b"other"))


def test_licence_terms_are_shown_before_the_first_download(model, server, tmp_path):
    local, archive = model
    server.files["/tiny.zip"] = archive
    entry = catalogueEntry(local, server.url("/tiny.zip"), sha256(archive), notice="Cite the dataset's papers.")
    notices = []
    registryFor(tmp_path, entry).fetch(MODEL_ID, notify=notices.append)
    assert len(notices) == 1 and "CC-BY-4.0" in notices[0] and "Cite the dataset's papers." in notices[0]


def test_shipped_catalogue_models_are_listed_truthfully_and_not_run_blind(tmp_path):
    registry = ModelRegistry(tmp_path / "user", cacheFolder=tmp_path / "cache")
    entries = {entry.id: entry for entry in registry.list()}
    assert "virtual cohort only" in entries["demo"].intendedUse.lower() and not entries["demo"].isCatalogue
    bundle = entries["monai-brats-mri-segmentation"]
    assert [i.sequence for i in bundle.inputs] == ["T1c", "T1", "T2", "FLAIR"]
    assert [label.name for label in bundle.labels] == ["Tumor core", "Whole tumor", "Enhancing tumor"]
    assert bundle.licence == "Apache-2.0" and bundle.download.url.startswith("https://github.com/Project-MONAI/")
    for kind in ("gli", "men", "met", "ped", "ssa"):
        brats = entries[f"brats-{kind}"]
        assert brats.download.url.endswith(f"/releases/download/Models/brats-{kind}-v1.0.0.zip")
        assert [i.sequence for i in brats.inputs] == ["FLAIR", "T1c", "T1", "T2"] and brats.download.sha256 is None
    with pytest.raises(ModelError, match="cannot run monai-auto3dseg models"):
        registry.get("brats-gli")  # refused before any download
    with pytest.raises(ModelError, match="not in the model cache yet"):
        registry.verify(registry.lookup("brats-gli"))
    assert not (tmp_path / "cache").exists()
