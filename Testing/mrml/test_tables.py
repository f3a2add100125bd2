"""Table nodes ⇄ DataFrames, and CSV/TSV files through table storage nodes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import vtk

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.mrml import (
    dataFrameToTableNode,
    loadTable,
    saveNode,
    tableNodeToDataFrame,
)
from VirtualBiopsy.mrml.tables import COLUMN_PROPERTIES


@pytest.fixture
def features() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "patient": ["VB001", "VB002", "VB003", "Élodie, Ünal"],
            "age": np.array([3, 14, 7, 9], dtype=np.int64),
            "volumeMm3": [1520.5123456789012, np.nan, 1 / 3, -1e300],
            "adc": np.array([0.8, np.pi, np.nan, -np.inf], dtype=np.float32),
            "event": [True, False, True, False],
            "bigId": np.array([2**40, -(2**40), 0, 1], dtype=np.int64),
        }
    )
    frame.attrs[COLUMN_PROPERTIES] = {"volumeMm3": {"title": "Tumour volume", "unitLabel": "mm3"}}
    return frame


def test_roundTripKeepsValuesTypesNanAndTitles(scene, features):
    node = dataFrameToTableNode(features, scene, "features")
    table = node.GetTable()
    classes = {table.GetColumnName(i): table.GetColumn(i).GetClassName() for i in range(table.GetNumberOfColumns())}
    assert classes["patient"] == "vtkStringArray"
    assert table.GetColumnByName("age").IsA("vtkIntArray")
    assert table.GetColumnByName("volumeMm3").IsA("vtkDoubleArray")
    assert table.GetColumnByName("adc").IsA("vtkFloatArray")
    assert classes["event"] == "vtkBitArray"
    assert table.GetColumnByName("bigId").GetDataTypeSize() == 8
    assert node.GetColumnTitle("volumeMm3") == "Tumour volume"

    back = tableNodeToDataFrame(node)
    pd.testing.assert_frame_equal(back, features, check_exact=True)
    assert back.attrs[COLUMN_PROPERTIES] == {"volumeMm3": {"title": "Tumour volume", "unitLabel": "mm3"}}


def test_textOnlyTableKeepsItsTypesThroughAFile(scene, tmp_path):
    frame = pd.DataFrame({"patient": ["007", "010"], "site": ["A", "B"]})
    path = saveNode(dataFrameToTableNode(frame, scene, "ids"), tmp_path / "ids.csv")
    assert (tmp_path / "ids.schema.csv").is_file()
    pd.testing.assert_frame_equal(tableNodeToDataFrame(loadTable(path, scene)), frame)


def test_csvAndTsvFilesRoundTripThroughTheSchema(scene, features, tmp_path):
    """Every digit survives: Slicer's own table writer keeps only 6 significant digits."""
    node = dataFrameToTableNode(features, scene, "features")
    for extension in (".csv", ".tsv"):
        path = saveNode(node, tmp_path / f"features{extension}")
        assert (tmp_path / f"features.schema{extension}").is_file()
        loaded = loadTable(path, scene)
        assert loaded.GetName() == "features"
        back = tableNodeToDataFrame(loaded)
        pd.testing.assert_frame_equal(back, features, check_exact=True)
        assert back.attrs[COLUMN_PROPERTIES]["volumeMm3"]["title"] == "Tumour volume"


def test_csvWithoutSchemaGetsNumericColumns(scene, tmp_path):
    path = tmp_path / "clinical.csv"
    path.write_text("patient,time,event,score,code\nVB001,12,1,0.5,007\nVB002,30,0,,010\nVB003,7,1,2.25,123\n")
    back = tableNodeToDataFrame(loadTable(path, scene))
    expected = pd.DataFrame(
        {
            "patient": ["VB001", "VB002", "VB003"],
            "time": [12, 30, 7],
            "event": [1, 0, 1],
            "score": [0.5, np.nan, 2.25],
            "code": ["007", "010", "123"],
        }
    )
    pd.testing.assert_frame_equal(back, expected)


def test_replacingTheColumnsOfAnExistingNode(scene, features):
    node = dataFrameToTableNode(features, scene, "features")
    small = pd.DataFrame({"x": [1.0, 2.0]})
    assert dataFrameToTableNode(small, scene, "renamed", tableNode=node) is node
    assert node.GetName() == "renamed"
    back = tableNodeToDataFrame(node)
    pd.testing.assert_frame_equal(back, small)
    assert back.attrs[COLUMN_PROPERTIES] == {}


def test_emptyFrameAndNullableColumns(scene):
    empty = pd.DataFrame({"a": pd.Series([], dtype=np.float64), "b": pd.Series([], dtype=object)})
    back = tableNodeToDataFrame(dataFrameToTableNode(empty, scene, "empty"))
    assert list(back.columns) == ["a", "b"] and len(back) == 0
    nullable = pd.DataFrame({"n": pd.array([1, 2], dtype="Int64"), "f": pd.array([1.5, None], dtype="Float64")})
    back = tableNodeToDataFrame(dataFrameToTableNode(nullable, scene, "nullable"))
    assert back["n"].tolist() == [1, 2] and back["n"].dtype == np.int64
    assert back["f"].iloc[0] == 1.5 and np.isnan(back["f"].iloc[1])


def test_badFramesGetSpecificErrors(scene):
    with pytest.raises(InputError, match="missing values in a text column.*fillna"):
        dataFrameToTableNode(pd.DataFrame({"name": ["a", None]}), scene, "t")
    with pytest.raises(InputError, match="missing values in a Int64 column"):
        dataFrameToTableNode(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}), scene, "t")
    with pytest.raises(InputError, match="reset_index"):
        dataFrameToTableNode(pd.DataFrame({"x": [1, 2]}, index=["a", "b"]), scene, "t")
    with pytest.raises(InputError, match="duplicate column names \\['x'\\]"):
        dataFrameToTableNode(pd.DataFrame([[1, 2]], columns=["x", "x"]), scene, "t")
    with pytest.raises(InputError, match="datetime64.*strftime"):
        dataFrameToTableNode(pd.DataFrame({"d": pd.to_datetime(["2024-01-01"])}), scene, "t")
    with pytest.raises(InputError, match="mixes text with int"):
        dataFrameToTableNode(pd.DataFrame({"m": ["a", 1]}), scene, "t")
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 0


def test_multiComponentColumnIsRefused(scene):
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", "vectors")
    array = vtk.vtkDoubleArray()
    array.SetName("point")
    array.SetNumberOfComponents(3)
    array.InsertNextTuple3(1.0, 2.0, 3.0)
    node.AddColumn(array)
    with pytest.raises(InputError, match="'point' .* has 3 components"):
        tableNodeToDataFrame(node)


def test_textSlicerFilesCannotHoldIsRefused(scene, tmp_path):
    node = dataFrameToTableNode(pd.DataFrame({"note": ["fine", 'say "hi"']}), scene, "notes")
    with pytest.raises(InputError, match="column 'note', row 1.*double quote.*cannot hold"):
        saveNode(node, tmp_path / "notes.csv")
    tabs = dataFrameToTableNode(pd.DataFrame({"note": ["a\tb"]}), scene, "tabs")
    saveNode(tabs, tmp_path / "tabs.csv")
    with pytest.raises(InputError, match="tab"):
        saveNode(tabs, tmp_path / "tabs.tsv")
    assert not list(tmp_path.glob("*.tsv"))


def test_tableFileErrors(scene, tmp_path):
    with pytest.raises(InputError, match="not found"):
        loadTable(tmp_path / "missing.csv", scene)
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"'\.xlsx' is not supported.*\.csv, \.tsv"):
        loadTable(tmp_path / "sheet.xlsx", scene)
