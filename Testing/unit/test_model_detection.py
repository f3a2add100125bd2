"""What a model folder or file is: nnU-Net trained-model folders (also nested as in nnU-Net's results),
TorchScript files with their sidecar, MONAI network folders; and the errors for incomplete ones."""

import json
import os

import pytest
from modelFolders import (
    TRAINED,
    stateDictBytes,
    writeNetworkModel,
    writeNnunetModel,
    writeTorchScriptModel,
)

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.hashing import fileSha256, treeDigest
from VirtualBiopsy.models.modelDetection import (
    defaultModelId,
    isTorchScript,
    requireModelId,
)
from VirtualBiopsy.models.modelEntry import ModelInput, ModelLabel
from VirtualBiopsy.models.modelImport import entryFromPath
from VirtualBiopsy.models.modelMetadata import PALETTE


def test_nnunet_folder_entry_has_named_inputs_labels_and_the_needed_files_only(tmp_path):
    folder = writeNnunetModel(tmp_path / TRAINED, folds=(0, 1))
    entry = entryFromPath(folder)
    assert entry.backend == "nnunet" and entry.id == TRAINED and not entry.trusted
    assert entry.path == str(folder.resolve())
    assert entry.inputs == (ModelInput("T1c", 0), ModelInput("FLAIR", 1))
    assert entry.labels == (ModelLabel(1, "tumour", PALETTE[0]), ModelLabel(2, "oedema", PALETTE[1]))
    assert entry.options == {
        "trainer": "nnUNetTrainer",
        "plans": "nnUNetPlans",
        "configuration": "3d_fullres",
        "folds": [0, 1],
        "checkpoint": "checkpoint_final.pth",
    }
    needed = ["dataset.json", "fold_0/checkpoint_final.pth", "fold_1/checkpoint_final.pth", "plans.json"]
    assert sorted(entry.files) == needed  # no validation predictions, logs or pictures
    assert entry.files == {name: fileSha256(folder / name) for name in needed}
    assert entry.sha256 == treeDigest(entry.files) and entry.description == "tiny test model"


def test_nested_results_folder_and_best_checkpoints(tmp_path):
    writeNnunetModel(tmp_path / "Dataset001_Tiny" / TRAINED, folds=("all",), checkpoint="checkpoint_best.pth")
    entry = entryFromPath(tmp_path / "Dataset001_Tiny", modelId="tiny")
    assert entry.id == "tiny" and entry.path == str((tmp_path / "Dataset001_Tiny" / TRAINED).resolve())
    assert entry.options["folds"] == ["all"] and entry.options["checkpoint"] == "checkpoint_best.pth"
    writeNnunetModel(tmp_path / "Dataset001_Tiny" / "nnUNetTrainer__nnUNetPlans__2d")
    with pytest.raises(InputError, match="several nnU-Net trained models.*__2d.*__3d_fullres"):
        entryFromPath(tmp_path / "Dataset001_Tiny")


def test_region_labels_ignore_label_and_legacy_modality_key(tmp_path):
    dataset = {
        "modality": {"0": "FLAIR"},
        "labels": {"background": 0, "whole": [1, 2], "core": 2, "ignore": 3},
        "regions_class_order": [1, 2],
    }
    entry = entryFromPath(writeNnunetModel(tmp_path / "m", dataset=dataset))
    assert [(label.value, label.name) for label in entry.labels] == [(1, "whole"), (2, "core")]
    assert entry.inputs == (ModelInput("FLAIR", 0),) and entry.options["configuration"] == "3d_fullres"


@pytest.mark.parametrize(
    "remove, message",
    [
        ("dataset.json", "has no dataset.json"),
        ("plans.json", "has no plans.json"),
        ("fold_0/checkpoint_final.pth", "no fold_N/checkpoint_final.pth or checkpoint_best.pth"),
    ],
)
def test_incomplete_nnunet_folders_name_what_is_missing(tmp_path, remove, message):
    folder = writeNnunetModel(tmp_path / "m")
    (folder / remove).unlink()
    with pytest.raises(InputError, match=message):
        entryFromPath(folder)


@pytest.mark.parametrize(
    "dataset, message",
    [
        ({"channel_names": {"0": "T1c", "2": "T2"}, "labels": {"tumour": 1}}, "must name each channel 0…n-1"),
        ({"channel_names": {"0": "T1c", "1": "t1c"}, "labels": {"tumour": 1}}, "distinct sequence names"),
        ({"channel_names": "T1c", "labels": {"tumour": 1}}, "does not name the input sequences"),
        ({"channel_names": {"0": "T1c"}, "labels": {"background": 0}}, "must give each foreground label"),
        ({"channel_names": {"0": "T1c"}, "labels": {"a": 1, "b": 1}}, "must give each foreground label"),
        ({"channel_names": {"0": "T1c"}}, "has no 'labels' mapping"),
        ({"channel_names": {"0": "T1c"}, "labels": {"whole": [1, 2]}}, "regions_class_order"),
        ({"channel_names": {"0": "T1c"}, "labels": {"background": 0, "a": 1, "b": 3}}, "must be consecutive"),
    ],
)
def test_bad_dataset_json_is_named(tmp_path, dataset, message):
    with pytest.raises(InputError, match=message):
        entryFromPath(writeNnunetModel(tmp_path / "m", dataset=dataset))


def test_torchscript_file_with_sidecar(tmp_path):
    path = writeTorchScriptModel(tmp_path)
    entry = entryFromPath(path)
    assert isTorchScript(path) and entry.backend == "monai-torchscript" and entry.id == "net"
    assert entry.files == {"net.pt": fileSha256(path)} and entry.path == str(path.resolve())
    assert entry.inputs == (ModelInput("FLAIR", 0),) and entry.labels == (ModelLabel(1, "tumour", PALETTE[0]),)
    assert entry.version == "2.1" and entry.licence == "CC-BY-4.0" and entry.options == {"roiSize": [32, 32, 32]}
    assert entryFromPath(tmp_path).files == entry.files  # the folder holding it
    (tmp_path / "net.json").unlink()
    with pytest.raises(InputError, match="needs its metadata file net.json"):
        entryFromPath(path)


def test_a_plain_state_dict_is_not_torchscript(tmp_path):
    (tmp_path / "weights.pt").write_bytes(stateDictBytes())
    assert not isTorchScript(tmp_path / "weights.pt")
    with pytest.raises(InputError, match="not a TorchScript file"):
        entryFromPath(tmp_path / "weights.pt")
    with pytest.raises(InputError, match="Cannot tell what model"):
        entryFromPath(tmp_path)


@pytest.mark.slow  # imports MONAI (5–10 s on a busy 2-core machine)
def test_monai_network_folder(tmp_path):
    folder = writeNetworkModel(tmp_path / "unet")
    entry = entryFromPath(folder)
    assert entry.backend == "monai-network" and sorted(entry.files) == ["model.json", "weights.pth"]
    assert entry.inputs == (ModelInput("T1c", 0), ModelInput("T2", 1))  # by channel, not by listing order
    assert entry.labels == (ModelLabel(1, "tumour", (1.0, 0.0, 0.0), "SCT^108369006^Neoplasm"),)
    assert entry.options["network"] == "monai.networks.nets.UNet" and entry.options["weights"] == "weights.pth"
    assert entry.options["networkArgs"]["channels"] == [4, 8] and entry.options["spacing"] == [1, 1, 1]
    (folder / "other.pth").write_bytes(b"")
    with pytest.raises(InputError, match="has 2 weights files"):
        entryFromPath(folder)
    metadata = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    (folder / "model.json").write_text(json.dumps({**metadata, "weights": "../weights.pth"}))
    with pytest.raises(InputError, match="is not a file inside"):
        entryFromPath(folder)


def test_links_in_the_used_files_are_refused(tmp_path):
    folder = writeNnunetModel(tmp_path / "m")
    (folder / "plans.json").rename(tmp_path / "plans.json")
    os.symlink(tmp_path / "plans.json", folder / "plans.json")
    with pytest.raises(InputError, match="symbolic link"):
        entryFromPath(folder)


def test_zip_archives_must_be_imported(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "m.zip", "w") as archive:
        archive.writestr("dataset.json", "{}")
    with pytest.raises(InputError, match="import it first: virtual-biopsy models import"):
        entryFromPath(tmp_path / "m.zip")


def test_ids():
    assert defaultModelId("/x/Dataset 001: Brain!.zip") == "Dataset-001-Brain"
    assert defaultModelId("/x/...") == "model"
    for bad in ("../x", "", "a/b", ".hidden", "x" * 65, "con", "demo.partial", "demo."):
        with pytest.raises(InputError, match="Model id"):
            requireModelId(bad)
    assert requireModelId("brain-tumour_v1.2") == "brain-tumour_v1.2" and requireModelId("x" * 64) == "x" * 64


@pytest.mark.parametrize(
    "labels, order",
    [
        ({"background": 0, "tumour": 1, "oedema": 2, "ignore": 3}, None),
        ({"background": 0, "oedema": 2, "tumour": 1}, None),
        ({"background": 0, "whole": [1, 2, 3], "core": [2, 3], "enhancing": 3}, [1, 2, 3]),
        ({"background": 0, "whole": [1, 2], "core": 2}, [4, 2]),
    ],
)
def test_label_values_are_those_nnunets_label_manager_writes(tmp_path, labels, order):
    import numpy as np
    from nnunetv2.utilities.label_handling.label_handling import LabelManager

    dataset = {"channel_names": {"0": "T2"}, "labels": labels, **({"regions_class_order": order} if order else {})}
    entry = entryFromPath(writeNnunetModel(tmp_path / "m", dataset=dataset))
    manager = LabelManager(labels, order)
    written = []
    for head in range(manager.num_segmentation_heads):  # one head on at a time: the value nnU-Net writes for it
        probabilities = np.zeros((manager.num_segmentation_heads, 1, 1, 1), dtype=np.float32)
        probabilities[head] = 1
        written.append(int(manager.convert_probabilities_to_segmentation(probabilities).ravel()[0]))
    names = [name for name in labels if name not in ("background", "ignore")]
    if order is None:  # softmax heads are the label values in order; head 0 is background
        expected = sorted((labels[name], name) for name in names)
        assert sorted(set(written) - {0}) == [value for value, _ in expected]
    else:  # sigmoid heads are the regions in the file's order
        expected = sorted(zip(written, names))
    assert sorted((label.value, label.name) for label in entry.labels) == expected
