"""``virtual-biopsy run`` on pyradiomics' public brain MR cases (brain1, brain2) with their label maps as the
segmentation: with harmonization off, the features equal plain pyradiomics on the same files and settings."""

import json
import shutil

import pandas as pd
import pytest
import yaml

from VirtualBiopsy.cli import main
from VirtualBiopsy.extract.radiomicsSettings import RadiomicsSettings

SETTINGS = {
    "harmonize": {"enabled": False},
    "segment": {"source": "manifest", "sequence": "MR"},
    "extract": {"sequences": ["MR"], "preset": "mr-default"},
    "analyses": {"enabled": False},
}


@pytest.mark.network
@pytest.mark.slow
def test_run_on_brain1_and_brain2_equals_plain_pyradiomics(sampleCases, tmp_path):
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    cohort = tmp_path / "cohort"
    cohort.mkdir()
    rows = []
    for name in ("brain1", "brain2"):
        case = sampleCases[name]
        shutil.copy(case.image, cohort / case.image.name)
        shutil.copy(case.label, cohort / case.label.name)
        rows.append({"patient": name, "MR": case.image.name, "mask": case.label.name})
    pd.DataFrame(rows).to_csv(cohort / "manifest.csv", index=False)
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    out = tmp_path / "run"
    arguments = ["run", "--manifest", str(cohort / "manifest.csv"), "--config", str(tmp_path / "settings.yaml")]
    assert main([*arguments, "--out", str(out)]) == 0

    features = pd.read_csv(out / "features.csv", index_col="patient")
    assert list(features.index) == ["brain1", "brain2"]
    parameters = RadiomicsSettings.fromPreset("mr-default").pyradiomics
    for name in ("brain1", "brain2"):
        plain = RadiomicsFeatureExtractor(parameters).execute(
            str(cohort / f"{name}_image.nrrd"), str(cohort / f"{name}_label.nrrd")
        )
        expected = {f"MR_{key}": float(value) for key, value in plain.items() if not key.startswith("diagnostics_")}
        ours = features.loc[name].to_dict()
        assert set(ours) == set(expected)
        mismatched = {
            key: (ours[key], expected[key])
            for key in expected
            if ours[key] != pytest.approx(expected[key], rel=1e-12, abs=1e-12)
        }
        assert not mismatched
        case = json.loads((out / "cases" / name / "case.json").read_text())
        assert case["segmentationSource"] == "manifest" and case["harmonized"] == {}
    assert (out / "cases" / "brain1" / "brain1.mrb").is_file()
