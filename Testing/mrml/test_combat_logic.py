"""ComBatLogic on real table nodes: the reference cohort loaded from CSV through Slicer's table storage."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combatConfig import ComBatConfig
from VirtualBiopsy.harmonize.combatLogic import MODEL_ATTRIBUTE, ComBatLogic
from VirtualBiopsy.mrml import dataFrameToTableNode, loadTable, tableNodeToDataFrame

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "combat"


@pytest.fixture
def cohortNodes(scene):
    return loadTable(DATA / "features.csv", scene), loadTable(DATA / "clinical.csv", scene)


def _sva(variant: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"sva_{variant}.csv", dtype={"patient": str})


@pytest.mark.parametrize(
    "variant,method,reference", [("parametric", "parametric", None), ("reference", "parametric", "B")]
)
def test_harmonize_cohort_table_matches_sva(scene, cohortNodes, variant, method, reference):
    featureNode, clinicalNode = cohortNodes
    before = tableNodeToDataFrame(featureNode)
    fractions = []
    config = ComBatConfig(combatCovariates="age,grade", combatMethod=method, referenceBatch=reference or "")
    model, output = ComBatLogic(scene).harmonize(
        featureNode, clinicalNode, config, progress=lambda f, m: fractions.append(f)
    )
    result = tableNodeToDataFrame(output)
    expected = _sva(variant)
    assert list(result.columns) == list(expected.columns) and list(result.patient) == list(expected.patient)
    np.testing.assert_allclose(result.iloc[:, 1:].to_numpy(), expected.iloc[:, 1:].to_numpy(), rtol=1e-9)
    pd.testing.assert_frame_equal(tableNodeToDataFrame(featureNode), before)  # the input is untouched
    assert output.GetName() == f"{featureNode.GetName()}_combat" and output is not featureNode
    recorded = json.loads(output.GetAttribute(MODEL_ATTRIBUTE))
    assert recorded["batches"] == ["A", "B", "C"] and recorded["referenceBatch"] == reference
    assert recorded["inputHash"] == model.inputHash
    assert fractions[-1] == 1.0 and all(later >= earlier - 1e-12 for earlier, later in zip(fractions, fractions[1:]))


def test_saved_model_harmonizes_one_new_patient_table(scene, cohortNodes, tmp_path):
    featureNode, clinicalNode = cohortNodes
    logic = ComBatLogic(scene)
    config = ComBatConfig(combatCovariates="age,grade")
    model = logic.fit(featureNode, clinicalNode, config)
    loaded = type(model).load(model.save(tmp_path / "model.json"))
    everyone = tableNodeToDataFrame(logic.apply(loaded, featureNode, clinicalNode, config))
    one = tableNodeToDataFrame(featureNode).iloc[[20]].reset_index(drop=True).assign(label=np.int64(1))
    oneNode = dataFrameToTableNode(one[["patient", "label", *one.columns[1:-1]]], scene, "newPatient")
    output = scene.AddNewNodeByClass("vtkMRMLTableNode", "harmonized")
    result = tableNodeToDataFrame(logic.apply(loaded, oneNode, clinicalNode, config, output))
    assert list(result.columns[:2]) == ["patient", "label"] and result.label.tolist() == [1]
    assert result.label.dtype == np.int64
    np.testing.assert_allclose(
        result.iloc[0, 2:].astype(float).to_numpy(), everyone.iloc[20, 1:].astype(float).to_numpy(), rtol=1e-10
    )


def test_inputs_are_never_outputs_and_bad_tables_are_refused(scene, cohortNodes):
    featureNode, clinicalNode = cohortNodes
    logic = ComBatLogic(scene)
    model = logic.fit(featureNode, clinicalNode, ComBatConfig(combatCovariates="age"))
    with pytest.raises(InputError, match="is an input table; inputs are never modified"):
        logic.apply(model, featureNode, clinicalNode, ComBatConfig(), featureNode)
    with pytest.raises(InputError, match="no column scanner"):
        logic.fit(featureNode, clinicalNode, ComBatConfig(batchColumn="scanner"))
    anonymous = dataFrameToTableNode(tableNodeToDataFrame(featureNode).drop(columns="patient"), scene, "anonymous")
    with pytest.raises(InputError, match="feature table has no 'patient' column"):
        logic.fit(anonymous, clinicalNode, ComBatConfig())
