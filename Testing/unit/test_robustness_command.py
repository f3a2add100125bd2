"""``virtual-biopsy robustness`` end to end on a small virtual cohort."""

import argparse
import json

import pandas as pd
import pytest

from VirtualBiopsy.commands import robustness
from VirtualBiopsy.data.virtualCohort import generateCohort
from VirtualBiopsy.errors import InputError


def runCommand(module, argv: list[str]) -> int:
    """Parse ``argv`` with the module's own parser, as ``virtual-biopsy`` does, and run it."""
    parser = argparse.ArgumentParser(prog="virtual-biopsy")
    module.addParser(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(argv)
    return arguments.run(arguments)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return generateCohort(tmp_path_factory.mktemp("cohort") / "cohort", cases=3, seed=1, size=64)


def test_robustness_writes_stability_and_perturbed_features(cohort, tmp_path, capsys):
    out = tmp_path / "robustness"
    status = runCommand(
        robustness,
        ["robustness", "--manifest", str(cohort), "--out", str(out), "--count", "1", "--sequence", "T2", "--seed", "4"],
    )
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "failures.csv",
        "perturbed_features.csv",
        "robustness.json",
        "stability.csv",
    ]
    stability = pd.read_csv(out / "stability.csv", index_col="feature")
    assert len(stability) > 90 and all(name.startswith("original_") for name in stability.index)
    assert set(stability["band"]) <= {"poor", "moderate", "good", "excellent", "undefined"}
    assert stability["icc"].notna().sum() > 80
    assert stability.loc["original_shape_VoxelVolume", "icc"] > 0.5
    assert stability["stable"].equals(stability["icc"] >= 0.75)
    perturbed = pd.read_csv(out / "perturbed_features.csv")
    assert len(perturbed) == 3 * 2 and list(perturbed["perturbation"]) == [0, 1] * 3
    assert list(perturbed["patient"].unique()) == ["VB0001", "VB0002", "VB0003"]
    provenance = json.loads((out / "robustness.json").read_text(encoding="utf-8"))
    assert provenance["sequence"] == "T2" and provenance["seed"] == 4
    assert provenance["extractor"]["settings"]["pyradiomics"]["setting"]["binWidth"] == 25
    assert len(provenance["extractor"]["settingsSha256"]) == 64
    assert len(provenance["inputs"]["VB0002"]["maskSha256"]) == 64
    assert "ICC bands: excellent" in capsys.readouterr().out


def test_parser_names_the_library_perturbations():
    from VirtualBiopsy.extract.robustness import perturbations

    assert robustness.PERTURBATIONS == perturbations.PERTURBATIONS
    assert robustness.DEFAULT_PERTURBATIONS == perturbations.DEFAULT_PERTURBATIONS


def test_bad_inputs_raise_before_anything_is_written(cohort, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(InputError, match="Sequence 'ADC' is not a column.*T1c, T2, FLAIR"):
        runCommand(robustness, ["robustness", "--manifest", str(cohort), "--out", str(out), "--sequence", "ADC"])
    with pytest.raises(InputError, match="Cohort manifest not found"):
        runCommand(robustness, ["robustness", "--manifest", str(tmp_path / "none.csv"), "--out", str(out)])
    with pytest.raises(InputError, match="Unknown perturbation"):
        runCommand(robustness, ["robustness", "--manifest", str(cohort), "--out", str(out), "--perturbations", "spin"])
    with pytest.raises(InputError, match="Bin width is -1"):
        runCommand(robustness, ["robustness", "--manifest", str(cohort), "--out", str(out), "--bin-width", "-1"])
    with pytest.raises(InputError, match="nope"):
        runCommand(robustness, ["robustness", "--manifest", str(cohort), "--out", str(out), "--preset", "nope"])
    with pytest.raises(InputError, match="--threshold is 2.0"):
        runCommand(robustness, ["robustness", "--manifest", str(cohort), "--out", str(out), "--threshold", "2"])
    with pytest.raises(InputError, match="Only 0 of 3 patients.*no voxel with label 2"):
        runCommand(robustness, ["robustness", "--manifest", str(cohort), "--out", str(out), "--label", "2"])
    assert not out.exists()
    out.mkdir()
    (out / "old.csv").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        runCommand(robustness, ["robustness", "--manifest", str(cohort), "--out", str(out)])
    assert [p.name for p in out.iterdir()] == ["old.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
