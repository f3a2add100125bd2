"""No code runs from an untrusted model's files: malicious nnU-Net plans (each imported op, the network class,
import-keyword lists, the names nnU-Net looks up), a malicious trainer name, and a file swapped after import are
refused at every entry (the backend, ``models import``, ``segment --model PATH|ID``), with a message naming the
file, the field and the value, and the payload's marker file never appears. A trusted import runs the same
payload, which shows the refusal is what stops it."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest
import SimpleITK as sitk
import torch
from nnunetModelFolder import buildModelFolder, syntheticCase

from VirtualBiopsy import cli
from VirtualBiopsy.errors import ModelError
from VirtualBiopsy.models.allowList import UnsafeModelError, checkNnunetPlans
from VirtualBiopsy.models.modelFiles import ModelFiles
from VirtualBiopsy.models.registry import ModelRegistry
from VirtualBiopsy.segment.backends.nnunetBackend import NnunetOptions, predictNnunet

CPU = NnunetOptions(device="cpu", useMirroring=False)


@pytest.fixture(scope="module")
def goodModel(tmp_path_factory) -> pathlib.Path:
    return buildModelFolder(tmp_path_factory.mktemp("nnunet"), folds=(0,))


@pytest.fixture(scope="module")
def caseFiles(tmp_path_factory) -> dict[str, pathlib.Path]:
    folder = tmp_path_factory.mktemp("case")
    images, _ = syntheticCase(3)
    paths = {}
    for name, image in zip(("T1c", "FLAIR"), images):
        paths[name] = folder / f"{name}.nrrd"
        sitk.WriteImage(image, str(paths[name]))
    return paths


def poisoned(goodModel: pathlib.Path, folder: pathlib.Path, change) -> pathlib.Path:
    """A copy of the good model whose 3d_fullres configuration ``change(configuration, plans)`` edited."""
    copy = folder / goodModel.name
    shutil.copytree(goodModel, copy)
    plans = json.loads((copy / "plans.json").read_text(encoding="utf-8"))
    change(plans["configurations"]["3d_fullres"], plans)
    (copy / "plans.json").write_text(json.dumps(plans), encoding="utf-8")
    return copy


def segmentCli(model: str, caseFiles: dict[str, pathlib.Path], out: pathlib.Path, *extra: str) -> int:
    """``virtual-biopsy segment`` of the test case with ``model`` (a path or an id) on the CPU."""
    images = ["--image", f"T1c={caseFiles['T1c']}", "--image", f"FLAIR={caseFiles['FLAIR']}"]
    return cli.main(["segment", "--model", model, *images, "--out", str(out), "--device", "cpu", *extra])


def shellOp(field: str, marker: pathlib.Path):
    """Set an imported op to ``os.system`` with a command that creates ``marker`` (the reported exploit)."""

    def change(configuration, _plans):
        keywords = configuration["architecture"]["arch_kwargs"]
        keywords[field] = "os.system"
        keywords[f"{field}_kwargs"] = {"command": f"touch {marker}"}

    return change


OP_FIELDS = ("conv_op", "norm_op", "dropout_op", "nonlin")


def setArchitecture(key: str, value):
    def change(configuration, _plans):
        configuration["architecture"][key] = value

    return change


def setConfiguration(key: str, value):
    def change(configuration, _plans):
        configuration[key] = value

    return change


def extraImport():
    def change(configuration, _plans):
        configuration["architecture"]["arch_kwargs"]["payload"] = "os.system"
        configuration["architecture"]["_kw_requires_import"].append("payload")

    return change


PLANS_PAYLOADS = {
    **{field: (shellOp(field, None), f"architecture.arch_kwargs.{field}", "'os.system'") for field in OP_FIELDS},
    "network": (
        setArchitecture("network_class_name", "subprocess.Popen"),
        "architecture.network_class_name",
        "'subprocess.Popen'",
    ),
    "importList": (extraImport(), "architecture._kw_requires_import", "'payload'"),
    "preprocessor": (setConfiguration("preprocessor_name", "load_pickle"), "preprocessor_name", "'load_pickle'"),
    "normalization": (
        setConfiguration("normalization_schemes", ["ZScoreNormalization", "os"]),
        "normalization_schemes[1]",
        "'os'",
    ),
    "resampling": (setConfiguration("resampling_fn_data", "save_json"), "resampling_fn_data", "'save_json'"),
    "legacy": (
        lambda c, p: (c.pop("architecture"), c.update(UNet_class_name="os.system")),
        "UNet_class_name",
        "'os.system'",
    ),
}


@pytest.mark.parametrize("field", OP_FIELDS)
def test_each_imported_op_is_refused_by_the_backend_and_the_payload_never_runs(goodModel, tmp_path, field):
    marker = tmp_path / "payload-ran"
    folder = poisoned(goodModel, tmp_path, shellOp(field, marker))
    images, _ = syntheticCase(1)
    with pytest.raises(UnsafeModelError) as refusal:
        predictNnunet(images, folder, CPU)
    message = str(refusal.value)
    assert str(folder / "plans.json") in message
    assert f"field 'configurations.3d_fullres.architecture.arch_kwargs.{field}' holds 'os.system'" in message
    assert "--trust" in message
    assert not marker.exists()


@pytest.mark.parametrize("case", [name for name in PLANS_PAYLOADS if name not in OP_FIELDS])
def test_network_class_import_lists_and_nnunet_lookups_are_refused(goodModel, tmp_path, case):
    change, field, value = PLANS_PAYLOADS[case]
    folder = poisoned(goodModel, tmp_path, change)
    images, _ = syntheticCase(1)
    with pytest.raises(
        UnsafeModelError,
        match=rf"field 'configurations\.3d_fullres\.{_escaped(field)}' holds "
        rf"{_escaped(value)}",
    ):
        predictNnunet(images, folder, CPU)


def test_a_trainer_name_outside_nnunet_is_refused(goodModel, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(goodModel, folder)
    checkpointPath = folder / "fold_0" / "checkpoint_final.pth"
    for name, value in (("os.path", "'os.path'"), ("join", "'join'")):  # a dotted path; a function nnU-Net imports
        checkpoint = torch.load(checkpointPath, weights_only=True)
        checkpoint["trainer_name"] = name
        torch.save(checkpoint, checkpointPath)
        images, _ = syntheticCase(1)
        with pytest.raises(UnsafeModelError, match=rf"field 'trainer_name' holds {_escaped(value)}"):
            predictNnunet(images, folder, CPU)


def test_every_allowed_name_is_what_nnunet_and_torch_really_resolve():
    """The allow-list names real classes and functions of the installed packages, of the expected kind (so a
    renamed class in a new version fails here, not for a user)."""
    import inspect
    import pydoc

    import nnunetv2
    from nnunetv2.imageio.base_reader_writer import BaseReaderWriter
    from nnunetv2.preprocessing.normalization.default_normalization_schemes import (
        ImageNormalization,
    )
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import (
        DefaultPreprocessor,
    )
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class
    from nnunetv2.utilities.label_handling.label_handling import LabelManager

    from VirtualBiopsy.models import allowList

    for paths in allowList.NNUNET_IMPORTED_KEYWORDS.values():
        for path in paths:
            assert issubclass(pydoc.locate(path), torch.nn.Module), path
    root = pathlib.Path(nnunetv2.__path__[0])
    kinds = {
        "preprocessor_name": ("preprocessing", lambda found: issubclass(found, DefaultPreprocessor)),
        "normalization_schemes": ("preprocessing/normalization", lambda f: issubclass(f, ImageNormalization)),
        "resampling_fn_data": ("preprocessing/resampling", inspect.isfunction),
        "label_manager": ("utilities/label_handling", lambda found: issubclass(found, LabelManager)),
        "image_reader_writer": ("imageio", lambda found: issubclass(found, BaseReaderWriter)),
    }
    for field, (folder, isRightKind) in kinds.items():
        for name in allowList.NNUNET_NAMED_FIELDS[field]:
            module = "nnunetv2." + folder.replace("/", ".")
            found = recursive_find_python_class(str(root / folder), name, module)
            assert found is not None and isRightKind(found), (field, name)
    import monai.networks.nets as nets

    for name in allowList.MONAI_NETWORKS:
        assert issubclass(getattr(nets, name), torch.nn.Module), name
    dotted = [
        path
        for path in allowList.NNUNET_NETWORKS
        if "." in path and "primus" not in path and "residual_unet" not in path
    ]  # primus needs torchvision; residual_unet is nnU-Net's old path
    assert all(issubclass(pydoc.locate(path), torch.nn.Module) for path in dotted)


def test_the_good_model_passes_and_a_trusted_model_skips_the_check(goodModel, tmp_path):
    images, _ = syntheticCase(1)
    assert predictNnunet(images, goodModel, CPU).labelMap.GetSize() == images[0].GetSize()
    checkNnunetPlans(json.loads((goodModel / "plans.json").read_text(encoding="utf-8")), "plans.json")
    marker = tmp_path / "trusted-payload-ran"
    folder = poisoned(goodModel, tmp_path, shellOp("dropout_op", marker))
    registry = ModelRegistry(tmp_path / "models")
    entry = registry.importModel(folder, "trusted", trust=True)
    with pytest.raises(Exception):  # os.system is no dropout layer: the build fails after the payload ran
        predictNnunet(
            images, registry.modelPath(entry), CPU, files=ModelFiles.checked(entry, registry.modelPath(entry))
        )
    assert marker.exists()


def test_models_import_refuses_without_writing_and_segment_by_path_refuses(goodModel, caseFiles, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    folder = poisoned(goodModel, tmp_path, shellOp("nonlin", marker))
    models = tmp_path / "models"
    status = cli.main(["models", "import", str(folder), "--id", "evil", "--models-dir", str(models)])
    error = capsys.readouterr().err
    assert (
        status == 2 and "field 'configurations.3d_fullres.architecture.arch_kwargs.nonlin' holds 'os.system'" in error
    )
    assert not models.exists() or not any(models.iterdir())
    out = tmp_path / "labels.nrrd"
    status = segmentCli(str(folder), caseFiles, out)
    error = capsys.readouterr().err
    assert status == 2 and "holds 'os.system', which an untrusted model may not name" in error
    assert not out.exists() and not marker.exists()


def test_a_plans_file_swapped_after_import_is_refused_with_the_changed_file(goodModel, caseFiles, tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    models = tmp_path / "models"
    assert cli.main(["models", "import", str(goodModel), "--id", "clean", "--models-dir", str(models)]) == 0
    capsys.readouterr()
    evil = poisoned(goodModel, tmp_path, shellOp("dropout_op", marker))
    shutil.copyfile(evil / "plans.json", models / "clean" / "plans.json")
    out = tmp_path / "labels.nrrd"
    status = segmentCli("clean", caseFiles, out, "--models-dir", str(models))
    error = capsys.readouterr().err
    assert status == 2
    assert "Model 'clean'" in error and "does not match its manifest" in error and "changed  plans.json" in error
    assert not out.exists() and not marker.exists()


def test_a_trusted_model_whose_file_changed_is_refused_too(goodModel, tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    entry = registry.importModel(goodModel, "trusted", trust=True)
    root = registry.modelPath(entry)
    (root / "fold_0" / "notes.txt").write_text("added later", encoding="utf-8")
    (root / "dataset.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError) as refusal:
        ModelFiles.checked(entry, root)
    assert "changed  dataset.json" in str(refusal.value) and "extra    fold_0/notes.txt" in str(refusal.value)


def test_a_monai_network_folder_naming_another_callable_is_refused_at_import(tmp_path):
    from monai.networks.nets import UNet

    folder = tmp_path / "monai"
    folder.mkdir()
    arguments = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2, "channels": [4, 8], "strides": [2]}
    torch.save(UNet(**arguments).state_dict(), folder / "weights.pt")
    metadata = {
        "network": "os.system",
        "networkArgs": {"command": "touch x"},
        "inputs": ["T1c"],
        "labels": {"tumour": 1},
    }
    (folder / "model.json").write_text(json.dumps(metadata), encoding="utf-8")
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(UnsafeModelError, match=r"model\.json: field 'network' holds 'os.system'"):
        registry.importModel(folder, "evil")
    assert "evil" not in [entry.id for entry in registry.list()]
    metadata.update(network="UNet", networkArgs={**arguments, "act": {"_target_": "os.system", "command": "x"}})
    (folder / "model.json").write_text(json.dumps(metadata), encoding="utf-8")
    with pytest.raises(UnsafeModelError, match=r"field 'network arguments\.act\._target_' holds 'os.system'"):
        registry.importModel(folder, "evil")
    assert not (tmp_path / "models" / "evil").exists()


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


def test_an_nnunet_results_folder_with_files_it_does_not_need_segments_by_path(goodModel, caseFiles, tmp_path, capsys):
    """nnU-Net leaves progress.png, debug.json and validation/ beside the model: they are never read, so a results
    folder used by path runs (while a changed listed file is refused, above)."""
    folder = tmp_path / "results" / goodModel.name  # Trainer__Plans__configuration, as nnU-Net names it
    shutil.copytree(goodModel, folder)
    (folder / "fold_0" / "progress.png").write_bytes(b"not read")
    (folder / "fold_0" / "validation").mkdir()
    (folder / "fold_0" / "validation" / "summary.json").write_text("{}", encoding="utf-8")
    out = tmp_path / "labels.nrrd"
    status = segmentCli(str(folder), caseFiles, out, "--no-tta")
    assert status == 0, capsys.readouterr().err
    assert out.exists()


def test_a_configuration_is_read_once_from_its_checked_bytes(goodModel, tmp_path):
    """The memory check, the domain check and the backend all read plans.json: the file is hashed and parsed
    once per load, a later swap on disk changes nothing, and each caller gets its own copy to change."""
    registry = ModelRegistry(tmp_path / "models")
    entry = registry.importModel(goodModel, "clean")
    root = registry.modelPath(entry)
    files = ModelFiles.checked(entry, root)
    first = files.readJson(root / "plans.json")
    (root / "plans.json").write_text("{}", encoding="utf-8")
    second = files.readJson(root / "plans.json")
    assert second == first and second is not first
    second["configurations"].clear()
    assert files.readJson(root / "plans.json") == first
    with pytest.raises(ModelError, match="changed  plans.json"):
        ModelFiles.checked(entry, root)
