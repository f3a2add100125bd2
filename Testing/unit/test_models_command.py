"""``virtual-biopsy models list|import|verify``: output, exit statuses, and refused input answered with
exit status 2, one line on stderr and nothing written."""

import pytest
from modelFolders import TRAINED, writeNnunetModel, writeTorchScriptModel, writeZip

from VirtualBiopsy import cli
from VirtualBiopsy.commands import models
from VirtualBiopsy.models.checkpoints import loadCheckpoint
from VirtualBiopsy.models.registry import ModelRegistry


def runCli(arguments, capsys) -> tuple[int, str, str]:
    status = cli.main(["models", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_models_is_a_registered_command():
    assert models in cli.COMMANDS


@pytest.mark.parametrize("action", ["list", "import", "verify"])
def test_help(action, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["models", action, "--help"])
    assert exit.value.code == 0 and "--models-dir" in capsys.readouterr().out


def test_import_list_verify_and_tamper(tmp_path, capsys):
    user = tmp_path / "user"
    status, out, _ = runCli(["list", "--models-dir", user], capsys)
    table = [line for line in out.splitlines() if line and not line.startswith(" ")][1:]  # the table, no notes
    assert status == 0 and table[0].split()[0] == "demo" and not [row for row in table if row.endswith(" user")]
    source = writeNnunetModel(tmp_path / "Dataset002_Brain" / TRAINED)
    status, out, _ = runCli(
        ["import", tmp_path / "Dataset002_Brain", "--id", "brain", "--trust", "--models-dir", user], capsys
    )
    assert status == 0 and "Imported model 'brain' (nnunet, inputs T1c, FLAIR; 3 file(s)" in out and "is trusted" in out
    status, out, _ = runCli(["import", writeTorchScriptModel(tmp_path / "ts"), "--models-dir", user], capsys)
    assert status == 0 and "Imported model 'net'" in out and "trusted" not in out
    status, out, _ = runCli(["list", "--models-dir", user], capsys)
    lines = [line for line in out.splitlines() if "catalogue" not in line]  # the shipped catalogue models
    assert lines[0].split() == ["ID", "VERSION", "BACKEND", "INPUTS", "LABELS", "TRUSTED", "ORIGIN"]
    assert lines[1].split()[0] == "demo" and lines[1].split()[-1] == "shipped"
    lines = [lines[0], *lines[2:]]
    assert lines[1].split() == ["brain", "unversioned", "nnunet", "T1c,FLAIR", "1:tumour,2:oedema", "yes", "user"]
    assert lines[2].split() == ["net", "2.1", "monai-torchscript", "FLAIR", "1:tumour", "no", "user"]
    status, out, _ = runCli(["verify", "brain", "--models-dir", user], capsys)
    assert status == 0 and out.startswith("brain: OK (3 file(s) match the manifest)")
    registry = ModelRegistry(user)  # --trust reached the manifest: nnU-Net's checkpoint now loads
    brain, root = registry.get("brain"), registry.modelPath(registry.get("brain"))
    assert loadCheckpoint(root / "fold_0" / "checkpoint_final.pth", brain, root)["trainer_name"] == "nnUNetTrainer"
    (user / "brain" / "plans.json").write_text('{"plans_name": "tampered"}')
    status, out, _ = runCli(["verify", "brain", "--models-dir", user], capsys)
    assert status == 1 and "brain: FAILED" in out and "changed  plans.json: sha256 " in out
    assert source.is_dir()  # the source is left as it was


def refused(arguments, capsys) -> str:
    status, out, err = runCli(arguments, capsys)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("virtual-biopsy models: error: ")
    return lines[0]


def test_refused_input_writes_nothing(tmp_path, capsys):
    user = tmp_path / "user"
    archive = writeZip(tmp_path / "evil.zip", [("model/dataset.json", b"{}", 0), ("../evil", b"x", 0)])
    assert "'../evil' has an unsafe path" in refused(["import", archive, "--models-dir", user], capsys)
    assert "does not exist" in refused(["import", tmp_path / "absent", "--models-dir", user], capsys)
    assert "Model id '../x' is not valid" in refused(["import", archive, "--id", "../x", "--models-dir", user], capsys)
    assert not user.exists() and not (tmp_path / "evil").exists()
    runCli(["import", writeTorchScriptModel(tmp_path / "ts"), "--models-dir", user], capsys)
    assert "--id net-2" in refused(["import", tmp_path / "ts" / "net.pt", "--models-dir", user], capsys)
    assert "Did you mean 'net'?" in refused(["verify", "nett", "--models-dir", user], capsys)
    assert sorted(p.name for p in user.iterdir()) == [".models.lock", "models.json", "net"]
