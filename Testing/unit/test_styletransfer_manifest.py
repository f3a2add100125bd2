"""Style-transfer models in the model manifest: the 'cyclegan' backend has no labels (and must have none),
every other backend still needs labels; a trained folder is recognised for import by its config.json."""

from __future__ import annotations

import json

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.styleTransfer.registration import registerStyleModel
from VirtualBiopsy.models.cycleGanFolder import (
    FORMAT_VERSION,
    isCycleGanFolder,
)
from VirtualBiopsy.models.hashing import treeHashes
from VirtualBiopsy.models.manifest import entryToDict, validateManifest
from VirtualBiopsy.models.modelDetection import entryFromPath


def fakeModelFolder(folder, **changes):
    """A folder with the files of a trained model (the weights are placeholder bytes: nothing loads them here)."""
    folder.mkdir()
    document = {
        "kind": "cyclegan",
        "formatVersion": FORMAT_VERSION,
        "sequence": "FLAIR",
        "sourceDomain": "1.5T",
        "targetDomain": "3T",
        "networks": {},
        "intensity": {},
        "weights": {"generator.pt": "0" * 64},
        **changes,
    }
    (folder / "config.json").write_text(json.dumps(document))
    (folder / "generator.pt").write_bytes(b"weights")
    (folder / "losses.csv").write_text("epoch\n1\n")
    return folder


def test_a_trained_folder_is_detected_as_a_cyclegan_model(tmp_path):
    folder = fakeModelFolder(tmp_path / "flair-3t")
    entry = entryFromPath(folder)
    assert (entry.backend, entry.id, entry.labels) == ("cyclegan", "flair-3t", ())
    assert [(i.sequence, i.channel) for i in entry.inputs] == [("FLAIR", 0)]
    assert entry.sha256 == treeHashes(folder)[0]
    assert entry.options["sourceDomain"] == "1.5T" and entry.options["targetDomain"] == "3T"
    validateManifest({"schemaVersion": 1, "models": [entryToDict(entry)]}, "test")


def test_registration_copies_the_folder_and_lists_its_tree_hash(tmp_path):
    folder = fakeModelFolder(tmp_path / "model")
    entry = registerStyleModel(folder, "flair", tmp_path / "models")
    assert entry.sha256 == treeHashes(folder)[0] == treeHashes(tmp_path / "models" / "flair")[0]
    with pytest.raises(InputError, match="exists already"):
        registerStyleModel(folder, "flair", tmp_path / "models")
    with pytest.raises(InputError, match="not a CycleGAN model folder"):
        registerStyleModel(tmp_path / "models", "other", tmp_path / "models")


def test_labels_are_forbidden_for_cyclegan_and_required_for_segmentation_backends(tmp_path):
    document = entryToDict(entryFromPath(fakeModelFolder(tmp_path / "model")))
    labelled = {**document, "labels": [{"value": 1, "name": "tumour", "color": [1, 0, 0]}]}
    with pytest.raises(InputError, match="labels"):
        validateManifest({"schemaVersion": 1, "models": [labelled]}, "test")
    for backend in ("nnunet", "monai-network"):
        with pytest.raises(InputError, match="labels"):
            validateManifest({"schemaVersion": 1, "models": [{**document, "backend": backend}]}, "test")
    validateManifest({"schemaVersion": 1, "models": [{**labelled, "backend": "nnunet"}]}, "test")


def test_incomplete_or_foreign_configurations(tmp_path):
    assert not isCycleGanFolder(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    assert not isCycleGanFolder(tmp_path)
    folder = fakeModelFolder(tmp_path / "old", formatVersion=99)
    with pytest.raises(InputError, match="format version 99"):
        entryFromPath(folder)
    folder = fakeModelFolder(tmp_path / "partial")
    (folder / "losses.csv").unlink()
    with pytest.raises(InputError, match="has no file losses.csv"):
        entryFromPath(folder)
