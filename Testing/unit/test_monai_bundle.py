"""MONAI Model Zoo bundles: read as data (never through MONAI's ConfigParser), turned into a ``monai-network``
model, imported and run like MONAI's own sliding-window inference; code in any section of a bundle never runs,
and a network_def outside the allow-list is refused at detection, import and use by path, trusted or not."""

import json
import os
import time

import numpy as np
import pytest
import SimpleITK as sitk

from VirtualBiopsy import cli
from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.models.allowList import UnsafeModelError
from VirtualBiopsy.models.modelDetection import detectModel, entryFromPath
from VirtualBiopsy.models.modelEntry import ModelInput
from VirtualBiopsy.models.monaiBundle import isMonaiBundle
from VirtualBiopsy.models.registry import ModelRegistry

NETWORK_ARGS = {
    "spatial_dims": 3,
    "in_channels": 2,
    "out_channels": 3,
    "channels": [4, 8],
    "strides": [2],
    "num_res_units": 0,
}
METADATA = {
    "schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema.json",
    "version": "0.2.1",
    "description": "tiny glioma bundle",
    "license": "Apache-2.0",
    "authors": "VB tests",
    "network_data_format": {
        "inputs": {"image": {"type": "image", "num_channels": 2, "channel_def": {"0": "T1c", "1": "FLAIR"}}},
        "outputs": {
            "pred": {
                "type": "image",
                "num_channels": 3,
                "channel_def": {"0": "background", "1": "tumour", "2": "oedema"},
            }
        },
    },
}
FILES = ("configs/inference.json", "configs/metadata.json", "models/model.pt")


def touch(marker) -> str:
    """A Python expression that creates ``marker``: what a hostile bundle would run."""
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def inferenceConfig(marker, target="UNet") -> dict:
    """A bundle inference config as the Model Zoo writes them, with code in every section Virtual Biopsy ignores."""
    return {
        "imports": ["$import glob", "$import os", f"${touch(marker)}"],
        "bundle_root": ".",
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": {"_target_": target, **NETWORK_ARGS},
        "network": "$@network_def.to(@device)",
        "preprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "LoadImaged", "keys": "image"},
                {"_target_": "EnsureChannelFirstd", "keys": "image"},
                {"_target_": "Spacingd", "keys": "image", "pixdim": [1.0, 1.0, 2.0], "mode": "bilinear"},
                {"_target_": "Lambdad", "keys": "image", "func": f"$lambda x: {touch(marker)} or x"},
                {"_target_": "NormalizeIntensityd", "keys": "image", "nonzero": True, "channel_wise": True},
            ],
        },
        "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [16, 16, 8], "sw_batch_size": 1, "overlap": 0.25},
        "postprocessing": {
            "_target_": "Compose",
            "transforms": [
                {"_target_": "Activationsd", "keys": "pred", "softmax": True},
                {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
                {"_target_": "Lambdad", "keys": "pred", "func": f"$lambda x: {touch(marker)} or x"},
            ],
        },
        "handlers": [{"_target_": "StatsHandler", "iteration_log": f"${touch(marker)}"}],
        "initialize": [f"${touch(marker)}"],
        "run": ["$@evaluator.run()"],
    }


def writeBundle(
    folder, config: dict, metadata: dict = METADATA, weights: bytes = b"state dict", configName: str = "inference.json"
):
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    if configName.endswith(".json"):
        (folder / "configs" / configName).write_text(json.dumps(config))
    else:
        (folder / "configs" / configName).write_text(config if isinstance(config, str) else _yaml(config))
    (folder / "configs" / "metadata.json").write_text(json.dumps(metadata))
    (folder / "models" / "model.pt").write_bytes(weights)
    (folder / "docs").mkdir()
    (folder / "docs" / "README.md").write_text("# tiny bundle")
    return folder


def _yaml(config: dict) -> str:
    import yaml

    return yaml.safe_dump(config)


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "payload-ran"


def test_bundle_is_detected_as_a_monai_network_model(tmp_path, marker):
    bundle = writeBundle(tmp_path / "glioma_bundle", inferenceConfig(marker))
    assert isMonaiBundle(bundle) and not isMonaiBundle(bundle / "configs")
    layout = detectModel(bundle)
    assert layout.backend == "monai-network" and layout.root == bundle and layout.files == FILES
    assert layout.inputs == (ModelInput("T1c", 0), ModelInput("FLAIR", 1))
    assert [(label.value, label.name) for label in layout.labels] == [(1, "tumour"), (2, "oedema")]
    assert layout.options == {
        "network": "UNet",
        "networkArgs": NETWORK_ARGS,
        "weights": "models/model.pt",
        "metadata": "configs/metadata.json",
        "roiSize": [16, 16, 8],
        "spacing": [1.0, 1.0, 2.0],
    }
    assert (layout.version, layout.licence, layout.description, layout.source) == (
        "0.2.1",
        "Apache-2.0",
        "tiny glioma bundle",
        "VB tests",
    )
    assert sorted(entryFromPath(bundle).files) == sorted(FILES)  # not docs/ nor anything else
    assert not marker.exists()


def test_yaml_bundle_full_class_path_and_channel_count(tmp_path, marker):
    metadata = json.loads(json.dumps(METADATA))
    del metadata["network_data_format"]["inputs"]["image"]["channel_def"]
    bundle = writeBundle(
        tmp_path / "b", inferenceConfig(marker, "monai.networks.nets.UNet"), metadata, configName="inference.yaml"
    )
    layout = detectModel(bundle)
    assert layout.files[0] == "configs/inference.yaml" and layout.options["network"] == "UNet"
    assert layout.inputs == (ModelInput("channel0", 0), ModelInput("channel1", 1))
    assert not marker.exists()


def test_non_literal_roi_size_and_spacing_are_not_used(tmp_path, marker, caplog):
    config = inferenceConfig(marker)
    config["inferer"]["roi_size"] = "@roi_size"
    config["preprocessing"]["transforms"][2]["pixdim"] = f"$[1.0, 1.0, 2.0] if {touch(marker)} else []"
    caplog.set_level("INFO", "VirtualBiopsy.models.monaiBundle")
    options = detectModel(writeBundle(tmp_path / "b", config)).options
    assert "roiSize" not in options and "spacing" not in options
    assert "inferer.roi_size ('@roi_size')" in caplog.text and "pixdim" in caplog.text
    assert not marker.exists()


@pytest.mark.parametrize(
    "postprocessing, field",
    [
        (
            [
                {"_target_": "Activationsd", "keys": "pred", "sigmoid": True},
                {"_target_": "AsDiscreted", "keys": "pred", "threshold": 0.5},
            ],
            "postprocessing.transforms[0].sigmoid",
        ),
        (
            [{"_target_": "monai.transforms.AsDiscreted", "keys": "pred", "threshold": 0.5}],
            "postprocessing.transforms[0].threshold",
        ),
    ],
)
def test_sigmoid_bundles_are_refused(tmp_path, marker, postprocessing, field):
    config = inferenceConfig(marker)
    config["postprocessing"]["transforms"] = postprocessing
    with pytest.raises(InputError, match="overlapping regions.*softmax") as error:
        detectModel(writeBundle(tmp_path / "b", config))
    assert "inference.json" in str(error.value) and f"'{field}'" in str(error.value)


def test_bad_files_are_named(tmp_path, marker):
    big = inferenceConfig(marker)
    big["padding"] = "x" * (1 << 20)
    with pytest.raises(InputError, match=r"inference\.json is larger than 1048576 bytes"):
        detectModel(writeBundle(tmp_path / "big", big))
    linked = writeBundle(tmp_path / "linked", inferenceConfig(marker))
    (tmp_path / "elsewhere.json").write_text(json.dumps(inferenceConfig(marker)))
    (linked / "configs" / "inference.json").unlink()
    os.symlink(tmp_path / "elsewhere.json", linked / "configs" / "inference.json")
    with pytest.raises(InputError, match="inference.json is a symbolic link"):
        detectModel(linked)
    noWeights = writeBundle(tmp_path / "noWeights", inferenceConfig(marker))
    (noWeights / "models" / "model.pt").unlink()
    with pytest.raises(InputError, match="has no models/model.pt"):
        detectModel(noWeights)
    metadata = json.loads(json.dumps(METADATA))
    del metadata["network_data_format"]["outputs"]["pred"]["channel_def"]
    with pytest.raises(InputError, match=r"metadata\.json: 'network_data_format\.outputs\.pred\.channel_def'"):
        detectModel(writeBundle(tmp_path / "noLabels", inferenceConfig(marker), metadata))
    wrongCount = inferenceConfig(marker)
    wrongCount["network_def"]["in_channels"] = 4
    with pytest.raises(InputError, match="in_channels 4 and out_channels 3 but the metadata name 2 input"):
        detectModel(writeBundle(tmp_path / "count", wrongCount))
    with pytest.raises(InputError, match="not valid YAML"):
        detectModel(writeBundle(tmp_path / "yaml", "network_def: [unclosed", configName="inference.yaml"))
    assert not marker.exists()


def payloads(marker):
    """(name, change to the config or a YAML text, error class, field, value) of each hostile bundle."""
    command = f"touch {marker}"
    return [
        (
            "system",
            {"network_def": {"_target_": "os.system", "command": command}},
            UnsafeModelError,
            "network_def._target_",
            "os.system",
        ),
        (
            "expression",
            {
                "network_def": {
                    "_target_": "monai.networks.nets.UNet",
                    **NETWORK_ARGS,
                    "act": f"$__import__('os').system('{command}')",
                }
            },
            UnsafeModelError,
            "network_def.act",
            f"$__import__('os').system('{command}')",
        ),
        (
            "nested",
            {
                "network_def": {
                    "_target_": "UNet",
                    **NETWORK_ARGS,
                    "act": ["prelu", {"init": {"_target_": "subprocess.Popen", "args": ["touch", str(marker)]}}],
                }
            },
            UnsafeModelError,
            "network_def.act[1].init._target_",
            "subprocess.Popen",
        ),
        (
            "string",
            {"network_def": f"$__import__('os').system('{command}') or monai.networks.nets.UNet"},
            UnsafeModelError,
            "network_def",
            f"$__import__('os').system('{command}')",
        ),
        (
            "reference",
            {"num_classes": 3, "network_def": {"_target_": "UNet", **NETWORK_ARGS, "out_channels": "@num_classes"}},
            UnsafeModelError,
            "network_def.out_channels",
            "@num_classes",
        ),
        (
            "requires",
            {"network_def": {"_target_": "UNet", **NETWORK_ARGS, "_requires_": f"${touch(marker)}"}},
            UnsafeModelError,
            "network_def._requires_",
            touch(marker),
        ),
        (
            "yaml",
            f"network_def:\n  _target_: UNet\n  act: !!python/object/apply:os.system ['{command}']\n",
            InputError,
            "network_def.act",
            "python/object/apply:os.system",
        ),
    ]


@pytest.mark.parametrize("case", range(7), ids=[p[0] for p in payloads("m")])
def test_payloads_are_refused_everywhere_and_never_run(tmp_path, marker, case, capsys):
    name, change, errorClass, field, value = payloads(marker)[case]
    config = change if isinstance(change, str) else {**inferenceConfig(marker), **change}
    bundle = writeBundle(
        tmp_path / "bundle", config, configName="inference.yaml" if name == "yaml" else "inference.json"
    )
    registry = ModelRegistry(tmp_path / "models")
    attempts = [
        lambda: detectModel(bundle),
        lambda: entryFromPath(bundle),
        lambda: registry.importModel(bundle),
        lambda: registry.importModel(bundle, modelId="trusted", trust=True),
    ]
    for attempt in attempts:
        with pytest.raises(errorClass) as error:
            attempt()
        message = str(error.value)
        assert f"{bundle / 'configs'}{os.sep}inference." in message, message
        assert f"field '{field}'" in message and value in message, message
        assert "--trust does not change this" in message, message
    assert not registry.userFolder.exists() or not any(registry.userFolder.iterdir())
    status = cli.main(
        [
            "segment",
            "--model",
            str(bundle),
            "--image",
            "T1c=t1c.nii.gz",
            "--out",
            str(tmp_path / "labels.nrrd"),
            "--device",
            "cpu",
        ]
    )
    assert status == 2 and f"field '{field}'" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "labels.nrrd").exists()
    assert isinstance(error.value, (InputError, ModelError))


@pytest.mark.slow  # imports MONAI
@pytest.mark.parametrize("case", [0, 1, 2])
def test_the_payloads_are_live_under_monais_config_parser(tmp_path, marker, case):
    """The control: MONAI's own ConfigParser runs what the tests above refuse, so those tests are not vacuous."""
    from monai.bundle import ConfigParser

    _, change, *_ = payloads(marker)[case]
    with pytest.raises(Exception):  # noqa: B017 (the network is not built; the payload ran before)
        ConfigParser({**inferenceConfig(marker), **change}).get_parsed_content("network_def")
        raise RuntimeError("built")
    for _ in range(100):  # subprocess.Popen runs its command in the background
        if marker.exists():
            break
        time.sleep(0.05)
    assert marker.exists()
    marker.unlink()
    ConfigParser(inferenceConfig(marker)).get_parsed_content("initialize")
    assert marker.exists()


@pytest.mark.slow  # imports MONAI and runs a tiny network (about a second)
def test_imported_bundle_segments_like_monais_sliding_window_inference(tmp_path, marker):
    import io

    import torch
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import UNet
    from monai.transforms import NormalizeIntensity

    from VirtualBiopsy.models.manifest import entryToDict
    from VirtualBiopsy.segment.inferenceTask import runInference

    torch.manual_seed(5)
    network = UNet(**NETWORK_ARGS).eval()
    stream = io.BytesIO()
    torch.save(network.state_dict(), stream)
    bundle = writeBundle(tmp_path / "glioma_bundle", inferenceConfig(marker), weights=stream.getvalue())
    registry = ModelRegistry(tmp_path / "models")
    entry = registry.importModel(bundle)
    assert entry.id == "glioma_bundle" and sorted(entry.files) == sorted(FILES) and registry.verify(entry).ok
    assert sorted(
        p.relative_to(registry.modelPath(entry)).as_posix() for p in registry.modelPath(entry).rglob("*") if p.is_file()
    ) == sorted(FILES)

    rng = np.random.default_rng(2)
    paths = {}
    for index, sequence in enumerate(("T1c", "FLAIR")):
        voxels = rng.normal(100 * (index + 1), 20, (10, 18, 21)).astype(np.float32)
        voxels[:, :2] = 0
        image = sitk.GetImageFromArray(voxels)
        image.SetSpacing((1.0, 1.0, 2.0))  # the bundle's pixdim: no resampling
        image.SetOrigin((4.0, -2.0, 30.0))
        paths[sequence] = str(tmp_path / f"{sequence}.nrrd")
        sitk.WriteImage(image, paths[sequence])
    outputs = {"labelMap": str(tmp_path / "labels.nrrd"), "probabilities": str(tmp_path / "probabilities.nrrd")}
    runInference(
        {
            "images": paths,
            "model": entryToDict(entry),
            "modelPath": str(registry.modelPath(entry)),
            "device": "cpu",
            "testTimeAugmentation": False,
            "outputs": outputs,
        },
        lambda fraction, message: None,
    )

    voxels = np.stack([sitk.GetArrayFromImage(sitk.ReadImage(paths[s])).transpose(2, 1, 0) for s in ("T1c", "FLAIR")])
    tensor = NormalizeIntensity(nonzero=True, channel_wise=True)(torch.from_numpy(voxels))[None]
    with torch.no_grad():
        logits = sliding_window_inference(tensor, (16, 16, 8), 1, network, overlap=0.25)
    expected = torch.softmax(torch.as_tensor(logits).float(), dim=1)[0].numpy().transpose(0, 3, 2, 1)
    probabilities = np.moveaxis(sitk.GetArrayFromImage(sitk.ReadImage(outputs["probabilities"])), -1, 0)
    assert np.allclose(probabilities, expected, atol=1e-5, rtol=0)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(outputs["labelMap"])), np.argmax(expected, axis=0))
    assert not marker.exists()
