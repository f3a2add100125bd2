"""Safe checkpoint loading: nnU-Net checkpoints (real network, NumPy scalars in the log) only when trusted
and unchanged, plain state dicts always, tampered files and pickle payloads never."""

import logging
import os
import pickle

import pytest
import torch
from modelFolders import (
    TRAINED,
    plainConvUNet,
    stateDictBytes,
    writeNetworkModel,
    writeNnunetModel,
    writeTorchScriptModel,
)

from VirtualBiopsy.errors import ModelError
from VirtualBiopsy.models.checkpoints import loadCheckpoint, loadTorchScript
from VirtualBiopsy.models.modelImport import entryFromPath
from VirtualBiopsy.models.registry import ModelRegistry

CHECKPOINT = "fold_0/checkpoint_final.pth"


class Payload:
    """Pickles to a call that writes a marker file: proof that unpickling ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def imported(tmp_path):
    registry = ModelRegistry(tmp_path / "user")
    source = writeNnunetModel(tmp_path / TRAINED)
    untrusted = registry.importModel(source, modelId="untrusted")
    trusted = registry.importModel(source, modelId="trusted", trust=True)
    return registry, untrusted, trusted


def test_nnunet_checkpoint_needs_trust(imported):
    registry, untrusted, _ = imported
    root = registry.modelPath(untrusted)
    with pytest.raises(ModelError, match=r"holds more than tensors.*numpy.*models import PATH --trust"):
        loadCheckpoint(root / CHECKPOINT, untrusted, root)
    with pytest.raises(ModelError, match="a model given by path.*--trust"):
        loadCheckpoint(root / CHECKPOINT)


def test_trusted_nnunet_checkpoint_loads_and_rebuilds_the_network(imported, caplog):
    registry, _, trusted = imported
    root = registry.modelPath(trusted)
    with caplog.at_level(logging.WARNING):
        checkpoint = loadCheckpoint(root / CHECKPOINT, trusted, root)
    assert "Fully unpickling checkpoint fold_0/checkpoint_final.pth of trusted model 'trusted'" in caplog.text
    assert checkpoint["trainer_name"] == "nnUNetTrainer" and checkpoint["init_args"]["configuration"] == "3d_fullres"
    assert checkpoint["inference_allowed_mirroring_axes"] == (0, 1, 2)
    assert float(checkpoint["logging"]["mean_fg_dice"][0]) == 0.5
    # nnU-Net's own (unsafe) way of loading, on the file this test wrote: the reference to compare with
    reference = torch.load(root / CHECKPOINT, map_location="cpu", weights_only=False)
    network = plainConvUNet()
    network.load_state_dict(checkpoint["network_weights"])
    expected = plainConvUNet()
    expected.load_state_dict(reference["network_weights"])
    image = torch.randn(1, 2, 8, 8, 8)
    with torch.no_grad():
        assert torch.equal(network.eval()(image), expected.eval()(image))
    assert checkpoint["optimizer_state"]["param_groups"] == reference["optimizer_state"]["param_groups"]


def test_tampered_checkpoint_is_refused_even_when_trusted(imported):
    registry, _, trusted = imported
    root = registry.modelPath(trusted)
    data = bytearray((root / CHECKPOINT).read_bytes())
    data[-100] ^= 0x01
    (root / CHECKPOINT).write_bytes(bytes(data))
    actual = __import__("hashlib").sha256(bytes(data)).hexdigest()
    with pytest.raises(
        ModelError,
        match=f"'{CHECKPOINT}' of model 'trusted'.*SHA-256 {actual}, manifest "
        f"{trusted.files[CHECKPOINT]}.*models verify trusted",
    ):
        loadCheckpoint(root / CHECKPOINT, trusted, root)
    assert [c.path for c in registry.verify(trusted).changed] == [CHECKPOINT]


def test_pickle_payload_never_runs_unless_trusted_and_unchanged(tmp_path):
    marker = tmp_path / "pwned"
    folder = writeNnunetModel(tmp_path / "m")
    torch.save({"network_weights": {}, "trainer_name": Payload(marker)}, folder / CHECKPOINT)
    entry = entryFromPath(folder)
    for attempt in (lambda: loadCheckpoint(folder / CHECKPOINT), lambda: loadCheckpoint(folder / CHECKPOINT, entry)):
        with pytest.raises(ModelError, match="holds more than tensors"):
            attempt()
    forged = type(entry)(**{**entry.__dict__, "trusted": True, "files": {**entry.files, CHECKPOINT: "0" * 64}})
    with pytest.raises(ModelError, match="does not match its manifest"):
        loadCheckpoint(folder / CHECKPOINT, forged)
    assert not marker.exists()


@pytest.mark.slow  # imports MONAI (5–10 s on a busy 2-core machine)
def test_plain_state_dict_loads_without_trust(tmp_path):
    folder = writeNetworkModel(tmp_path / "unet")
    entry = entryFromPath(folder)
    weights = loadCheckpoint(folder / "weights.pth", entry)
    reference = torch.load(folder / "weights.pth", weights_only=True)
    assert weights.keys() == reference.keys() and all(torch.equal(weights[k], reference[k]) for k in reference)
    (tmp_path / "state.pt").write_bytes(stateDictBytes())
    state = loadCheckpoint(tmp_path / "state.pt")
    plainConvUNet().load_state_dict(state)  # every key and shape fits the network


@pytest.mark.slow  # imports MONAI (5–10 s on a busy 2-core machine)
def test_only_the_models_own_regular_files(tmp_path):
    folder = writeNetworkModel(tmp_path / "unet")
    entry = entryFromPath(folder)
    (folder / "other.pth").write_bytes(stateDictBytes())
    with pytest.raises(ModelError, match="not one of the files of model 'unet'"):
        loadCheckpoint(folder / "other.pth", entry)
    (tmp_path / "outside.pth").write_bytes(stateDictBytes())
    with pytest.raises(ModelError, match="not one of the files"):
        loadCheckpoint(tmp_path / "outside.pth", entry)
    os.symlink(folder / "weights.pth", tmp_path / "alias.pth")
    with pytest.raises(ModelError, match="is a link or not a regular file"):
        loadCheckpoint(tmp_path / "alias.pth")
    with pytest.raises(ModelError, match="not one of the files"):
        loadCheckpoint(folder / "absent.pth", entry)
    with pytest.raises(ModelError, match="cannot be opened"):
        loadCheckpoint(folder / "absent.pth")
    os.mkfifo(tmp_path / "pipe.pth")
    with pytest.raises(ModelError, match="is a link or not a regular file"):  # refused without blocking on it
        loadCheckpoint(tmp_path / "pipe.pth")
    relative = type(entry)(**{**entry.__dict__, "path": "unet"})
    with pytest.raises(ModelError, match="relative path 'unet'; pass modelRoot"):
        loadCheckpoint(folder / "weights.pth", relative)
    assert loadCheckpoint(folder / "weights.pth", relative, modelRoot=folder).keys()
    (folder / "weights.pth").unlink()
    with pytest.raises(ModelError, match="weights.pth cannot be opened"):
        loadCheckpoint(folder / "weights.pth", entry)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_damaged_files_and_bare_pickles_are_model_errors(tmp_path):
    (tmp_path / "truncated.pth").write_bytes(stateDictBytes()[:500])
    with pytest.raises(ModelError, match="Cannot read checkpoint"):
        loadCheckpoint(tmp_path / "truncated.pth")
    (tmp_path / "pickle.pth").write_bytes(pickle.dumps({"a": 1}, protocol=4))  # not written by torch.save
    with pytest.raises(ModelError, match="holds more than tensors.*safe loader says: Unsupported operand"):
        loadCheckpoint(tmp_path / "pickle.pth")


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_torchscript_loads_from_checked_bytes(tmp_path):
    registry = ModelRegistry(tmp_path / "user")
    entry = registry.importModel(writeTorchScriptModel(tmp_path / "ts"))
    path = registry.modelPath(entry)
    module = loadTorchScript(path, entry, path)
    image = torch.randn(1, 1, 4, 4, 4)
    assert torch.equal(module(image), torch.jit.load(tmp_path / "ts" / "net.pt")(image))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ModelError, match="'net.pt' of model 'net' does not match its manifest"):
        loadTorchScript(path, entry, path)
    (tmp_path / "state.pt").write_bytes(stateDictBytes())
    with pytest.raises(ModelError, match="Cannot load TorchScript model"):
        loadTorchScript(tmp_path / "state.pt")
