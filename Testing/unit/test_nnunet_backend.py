"""Our nnU-Net path equals nnU-Net's own predictor on a real (tiny, randomly initialised) trained-model folder,
and refuses incomplete folders, wrong channel counts and pickled payloads."""

import dataclasses
import os
import pathlib
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from nnunetModelFolder import CHANNELS, LABELS, buildModelFolder, syntheticCase

from VirtualBiopsy.errors import CancelledError, InputError, ModelError
from VirtualBiopsy.models.manifest import entryToDict
from VirtualBiopsy.models.modelDetection import entryFromPath
from VirtualBiopsy.progress import CancelToken
from VirtualBiopsy.segment.backends.nnunetBackend import NnunetOptions, predictNnunet
from VirtualBiopsy.segment.backends.nnunetFolder import findTrainedModelFolder
from VirtualBiopsy.segment.inferenceTask import TASK
from VirtualBiopsy.workers.inlineRunner import InlineRunner

pytestmark = pytest.mark.slow

CPU = NnunetOptions(device="cpu")


@pytest.fixture(scope="module")
def modelFolder(tmp_path_factory) -> pathlib.Path:
    return buildModelFolder(tmp_path_factory.mktemp("nnunet"))


@pytest.fixture(scope="module")
def case():
    images, _labels = syntheticCase(7, size=(23, 17, 11))
    return images


def reference(folder: pathlib.Path, images, folds, mirroring: bool):
    """nnU-Net's own path: its loader (our fresh file), its predictor, its preprocessing."""
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    predictor = nnUNetPredictor(use_mirroring=mirroring, device=torch.device("cpu"), allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(str(folder), folds)
    voxels = np.stack([sitk.GetArrayFromImage(image) for image in images]).astype(np.float32)
    return predictor.predict_single_npy_array(voxels, {"spacing": list(images[0].GetSpacing())[::-1]}, None, None, True)


def test_equals_nnunet_predictor_with_fold_ensemble_and_mirroring(modelFolder, case):
    reports = []
    result = predictNnunet(case, modelFolder, CPU, progress=lambda f, m: reports.append(f))
    labels, probabilities = reference(modelFolder, case, (0, 1), mirroring=True)
    assert np.array_equal(sitk.GetArrayFromImage(result.labelMap), labels)
    assert np.array_equal(result.probabilities, probabilities)
    assert result.labelValues == tuple(LABELS.values())
    assert result.labelMap.GetSize() == case[0].GetSize() and result.labelMap.GetSpacing() == case[0].GetSpacing()
    assert result.provenance["folds"] == ["0", "1"] and result.provenance["testTimeAugmentation"]
    assert reports == sorted(reports) and reports[-1] == 1.0 and len(reports) > 10


def test_per_fold_probabilities_equal_single_fold_runs_and_average_to_the_ensemble(modelFolder, case):
    options = dataclasses.replace(CPU, useMirroring=False, perFold=True)
    result = predictNnunet(case, modelFolder, options)
    _labels, ensemble = reference(modelFolder, case, (0, 1), mirroring=False)
    _labels, fold1 = reference(modelFolder, case, (1,), mirroring=False)
    assert np.array_equal(result.probabilities, ensemble)
    assert np.array_equal(result.memberProbabilities[1], fold1)
    assert not np.array_equal(result.memberProbabilities[0], fold1)
    single = predictNnunet(case, modelFolder, dataclasses.replace(CPU, useMirroring=False, folds=(1,)))
    assert np.array_equal(single.probabilities, fold1) and single.provenance["folds"] == ["1"]


def test_folder_of_configurations_and_missing_parts(modelFolder, tmp_path):
    assert findTrainedModelFolder(modelFolder.parent, "3d_fullres") == modelFolder
    with pytest.raises(ModelError, match="2d"):
        findTrainedModelFolder(modelFolder.parent, "2d")
    for missing in ("dataset.json", "plans.json"):
        copy = shutil.copytree(modelFolder, tmp_path / missing / modelFolder.name)
        (copy / missing).unlink()
        with pytest.raises(ModelError, match=missing.replace(".", r"\.")):
            predictNnunet([sitk.Image(4, 4, 4, sitk.sitkFloat32)] * 2, copy, CPU)
    with pytest.raises(ModelError, match="Fold.*7.*available: 0, 1"):
        predictNnunet([sitk.Image(4, 4, 4, sitk.sitkFloat32)] * 2, modelFolder, dataclasses.replace(CPU, folds=(7,)))


def test_wrong_channel_count_is_refused(modelFolder, case):
    with pytest.raises(InputError, match="takes 2 input channel"):
        predictNnunet(case[:1], modelFolder, CPU)


class Payload:
    """Unpickling this creates a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickle_payload_in_a_checkpoint_does_not_run(modelFolder, tmp_path):
    import torch

    copy = shutil.copytree(modelFolder, tmp_path / modelFolder.name)
    marker = tmp_path / "payload-ran"
    checkpoint = torch.load(copy / "fold_0" / "checkpoint_final.pth", weights_only=True)
    checkpoint["logging"] = {"payload": Payload(marker)}
    torch.save(checkpoint, copy / "fold_0" / "checkpoint_final.pth")
    assert not marker.exists()
    with pytest.raises(ModelError, match="not loaded.*--trust"):
        predictNnunet([sitk.Image(4, 4, 4, sitk.sitkFloat32)] * 2, copy, CPU)
    assert not marker.exists()


def nnunetEntry(folder: pathlib.Path, trusted: bool = False) -> dict:
    return entryToDict(dataclasses.replace(entryFromPath(folder, "tiny"), trusted=trusted))


def writeCase(images, folder: pathlib.Path, names) -> dict:
    paths = {}
    for name, image in zip(names, images):
        paths[name] = str(folder / f"{name}.nrrd")
        sitk.WriteImage(image, paths[name])
    return paths


def test_task_maps_channels_by_name_and_writes_every_output(modelFolder, case, tmp_path):
    # Given in the opposite order, under aliases: the model still gets T1c then FLAIR.
    images = writeCase(case[::-1], tmp_path, ["flair", "T1Gd"])
    outputs = {
        kind: str(tmp_path / f"{kind}.nrrd") for kind in ("labelMap", "probabilities", "uncertainty", "variance")
    }
    result = InlineRunner().run(
        TASK,
        {
            "images": images,
            "model": nnunetEntry(modelFolder),
            "device": "cpu",
            "testTimeAugmentation": False,
            "outputs": outputs,
        },
    )
    labels, probabilities = reference(modelFolder, case, (0, 1), mirroring=False)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(outputs["labelMap"])), labels)
    written = sitk.ReadImage(outputs["probabilities"])
    assert written.GetNumberOfComponentsPerPixel() == 3
    assert np.array_equal(np.moveaxis(sitk.GetArrayFromImage(written), -1, 0), probabilities)
    entropy = sitk.GetArrayFromImage(sitk.ReadImage(outputs["uncertainty"]))
    assert entropy.min() >= 0 and entropy.max() <= 1 and entropy.shape == labels.shape
    assert sitk.GetArrayFromImage(sitk.ReadImage(outputs["variance"])).max() > 0
    assert result["provenance"]["channelMapping"] == {"T1c": "T1Gd", "FLAIR": "flair"}
    assert result["foundLabels"] == sorted(int(v) for v in np.unique(labels) if v)


def test_cancelled_task_leaves_no_output(modelFolder, case, tmp_path):
    images = writeCase(case, tmp_path, CHANNELS)
    outputs = {"labelMap": str(tmp_path / "labels.nrrd"), "probabilities": str(tmp_path / "probabilities.nrrd")}
    cancel = CancelToken()

    def progress(fraction, message):
        if message.startswith("Sliding window 2/"):
            cancel.cancel()

    with pytest.raises(CancelledError):
        InlineRunner().run(
            TASK,
            {"images": images, "model": nnunetEntry(modelFolder), "device": "cpu", "outputs": outputs},
            progress,
            cancel,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FLAIR.nrrd", "T1c.nrrd"]


def test_numpy_values_in_a_checkpoint_need_a_trusted_model(modelFolder, case, tmp_path):
    """nnU-Net's trainer logs NumPy scalars: such a checkpoint loads only for a trusted entry whose hashes match."""
    import torch

    copy = shutil.copytree(modelFolder, tmp_path / "model" / modelFolder.name)
    for fold in (0, 1):
        path = copy / f"fold_{fold}" / "checkpoint_final.pth"
        checkpoint = torch.load(path, weights_only=True)
        checkpoint["logging"] = {"mean_fg_dice": [np.float64(0.5)]}
        torch.save(checkpoint, path)
    images = writeCase(case, tmp_path, CHANNELS)
    arguments = {"images": images, "device": "cpu", "testTimeAugmentation": False, "folds": [0]}
    with pytest.raises(ModelError, match="--trust"):
        InlineRunner().run(
            TASK, {**arguments, "model": nnunetEntry(copy), "outputs": {"labelMap": str(tmp_path / "a.nrrd")}}
        )
    assert not (tmp_path / "a.nrrd").exists()
    trusted = nnunetEntry(copy, trusted=True)
    InlineRunner().run(TASK, {**arguments, "model": trusted, "outputs": {"labelMap": str(tmp_path / "b.nrrd")}})
    labels, _probabilities = reference(modelFolder, case, (0,), mirroring=False)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "b.nrrd"))), labels)
    (copy / "fold_0" / "checkpoint_final.pth").write_bytes(b"changed")
    with pytest.raises(ModelError, match="does not match its manifest"):
        InlineRunner().run(TASK, {**arguments, "model": trusted, "outputs": {"labelMap": str(tmp_path / "c.nrrd")}})


def test_working_grid_follows_the_plans(modelFolder, case):
    from VirtualBiopsy.segment.backends.nnunetFolder import nnunetWorkingGrid

    shape, patch = nnunetWorkingGrid(modelFolder, None, case[0])
    assert shape == [11, 17, 23] and patch == [8, 16, 16]  # same spacing as planned: no resampling
    coarse = sitk.Image(case[0])
    coarse.SetSpacing((1.8, 2.0, 5.0))
    assert nnunetWorkingGrid(modelFolder, "3d_fullres", coarse)[0] == [22, 34, 46]
