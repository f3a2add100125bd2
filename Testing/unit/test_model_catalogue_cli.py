"""``virtual-biopsy models fetch`` and ``segment --model ID`` with a catalogue model served on 127.0.0.1: the
licence is shown, the model is fetched once with a progress bar, then segments; ``models list`` marks catalogue
models and the demo's intended use; the Segmentation panel lists catalogue models."""

import ast

import numpy as np
import pytest
import SimpleITK as sitk
from catalogueServer import MODEL_ID, CatalogueServer, catalogueEntry, modelArchive, publish, sha256
from moduleSources import REPOSITORY, moduleUiReferences

from VirtualBiopsy import cli


@pytest.fixture
def served(tmp_path, monkeypatch):
    local, archive = modelArchive(tmp_path / "build")
    server = CatalogueServer()
    server.files["/tiny.zip"] = archive
    publish(
        tmp_path / "models",
        catalogueEntry(local, server.url("/tiny.zip"), sha256(archive), notice="Cite the dataset's papers."),
    )
    monkeypatch.setenv("VIRTUAL_BIOPSY_CACHE", str(tmp_path / "cache"))
    yield server, archive
    server.stop()


def test_models_fetch_shows_the_licence_and_fetches_once(served, tmp_path, capsys):
    server, _archive = served
    arguments = ["models", "fetch", MODEL_ID, "--models-dir", str(tmp_path / "models")]
    assert cli.main(arguments) == 0
    printed = capsys.readouterr()
    assert "Cite the dataset's papers." in printed.err and "By fetching it you accept these terms" in printed.err
    assert f"Model '{MODEL_ID}'" in printed.out and "file(s) verified" in printed.out
    assert cli.main(arguments) == 0 and len(server.requests) == 1

    assert cli.main(["models", "list", "--models-dir", str(tmp_path / "models")]) == 0
    listing = capsys.readouterr().out
    assert f"{MODEL_ID} " in listing and "catalogue, cached" in listing
    assert "catalogue, download on first use, size unknown, licence Apache-2.0, SHA-256 to pin" in listing
    assert "demo: Virtual cohort only" in listing


def test_models_fetch_without_a_pin_says_how_to_pin(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VIRTUAL_BIOPSY_CACHE", str(tmp_path / "cache"))
    assert cli.main(["models", "fetch", "brats-gli", "--models-dir", str(tmp_path / "models")]) != 0
    error = capsys.readouterr().err
    assert "never trusts a download on first use" in error and "models fetch brats-gli --sha256 HEX" in error


def test_segment_fetches_a_catalogue_model_on_first_use(served, tmp_path, capsys):
    server, _archive = served
    rng = np.random.default_rng(3)
    paths = {}
    for name in ("t1c", "t2"):
        image = sitk.GetImageFromArray(rng.normal(100, 30, (8, 16, 16)).astype(np.float32))
        paths[name] = tmp_path / f"{name}.nrrd"
        sitk.WriteImage(image, str(paths[name]))
    for run in (1, 2):
        out = tmp_path / f"labels{run}.nrrd"
        arguments = ["segment", "--model", MODEL_ID, "--models-dir", str(tmp_path / "models"), "--device", "cpu"]
        arguments += ["--image", f"T1c={paths['t1c']}", "--image", f"T2={paths['t2']}", "--out", str(out)]
        assert cli.main(arguments) == 0, capsys.readouterr().err
        assert sitk.ReadImage(str(out)).GetSize() == (16, 16, 8)
    assert len(server.requests) == 1  # fetched on first use only


def test_segmentation_panel_lists_catalogue_models():
    """Statically: the panel lists the registry's models (catalogue ones described by their download) in a selector,
    and fetches through the logic with the progress bar (the .ui widgets are checked by test_ui_files)."""
    path = REPOSITORY / "SegmentationModule" / "VirtualBiopsySegmentation.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert {"populateModels", "onFetchModelButton", "fetchModel", "models", "describeModel"} <= functions
    assert {"modelSelector", "modelInfoLabel", "fetchModelButton", "modelIdLineEdit"} <= moduleUiReferences(tree)
    ui = (REPOSITORY / "SegmentationModule" / "Resources" / "UI" / "VirtualBiopsySegmentation.ui").read_text(
        encoding="utf-8"
    )
    assert all(f'name="{name}"' in ui for name in ("modelSelector", "modelInfoLabel", "fetchModelButton"))


def test_model_selector_phrases(tmp_path):
    """What the selector shows for the demo and an unfetched catalogue model (the module's own helpers need
    Slicer; the phrase comes from the library's downloadSummary)."""
    from VirtualBiopsy.models.catalogue import downloadSummary
    from VirtualBiopsy.models.registry import ModelRegistry

    entries = {e.id: e for e in ModelRegistry(tmp_path / "user", cacheFolder=tmp_path / "cache").list()}
    assert downloadSummary(entries["demo"]) == "local"
    assert downloadSummary(entries["brats-gli"]).startswith("download on first use, size unknown, licence Free to use")
