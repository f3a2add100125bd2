"""Table nodes ⇄ pandas DataFrames.

Column types map both ways: ``bool`` ⇄ ``vtkBitArray``; integers ⇄
``vtkIntArray`` (``vtkLongLongArray`` beyond 32 bits), read back as ``int64``;
``float32`` ⇄ ``vtkFloatArray``; ``float64`` ⇄ ``vtkDoubleArray`` (NaN kept);
text ⇄ ``vtkStringArray``.  Column titles, descriptions and units (Slicer's
column properties) travel in ``frame.attrs["columnProperties"]``.
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np
import pandas as pd
import slicer
import vtk
from vtk.util import numpy_support

from VirtualBiopsy.errors import InputError

logger = logging.getLogger(__name__)

#: ``frame.attrs`` key holding ``{column: {property: value}}`` (e.g. ``"title"``, ``"unitLabel"``).
COLUMN_PROPERTIES = "columnProperties"

#: Column properties Slicer derives from the array itself; not copied to the frame.
_DERIVED_PROPERTIES = {"type", "componentCount", "componentNames", "columnName"}

_INT32 = np.iinfo(np.int32)


def tableNodeToDataFrame(tableNode: "slicer.vtkMRMLTableNode") -> pd.DataFrame:
    """Copy a table node into a DataFrame (default integer index).

    :raises InputError: for a node that is not a table or a multi-component column.
    """
    if not isinstance(tableNode, slicer.vtkMRMLTableNode):
        raise InputError(f"Expected a table node, got {type(tableNode).__name__}. Pass a vtkMRMLTableNode.")
    table = tableNode.GetTable()
    columns: dict[str, object] = {}
    properties: dict[str, dict[str, str]] = {}
    for index in range(table.GetNumberOfColumns()):
        array = table.GetColumn(index)
        name = array.GetName() or f"Column{index + 1}"
        columns[name] = _columnValues(tableNode, array, name)
        kept = {key: tableNode.GetColumnProperty(name, key) for key in _propertyNames(tableNode, name)}
        kept = {key: value for key, value in kept.items() if value}
        if kept:
            properties[name] = kept
    frame = pd.DataFrame(columns, index=pd.RangeIndex(table.GetNumberOfRows()))
    frame.attrs[COLUMN_PROPERTIES] = properties
    return frame


def dataFrameToTableNode(
    frame: pd.DataFrame,
    scene: "slicer.vtkMRMLScene",
    name: str,
    tableNode: "slicer.vtkMRMLTableNode | None" = None,
) -> "slicer.vtkMRMLTableNode":
    """Copy a DataFrame into a new table node, or replace the columns of ``tableNode``.

    The index is not stored: it must be the default ``RangeIndex`` (call
    ``frame.reset_index()`` to keep a meaningful index as a column).

    :raises InputError: for a non-default index, duplicate columns, missing values in a text,
        integer or boolean column, or a column type a table cannot hold (dates, objects).
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        raise InputError(
            f"Table '{name}': the DataFrame index ({frame.index.name or type(frame.index).__name__}) would be lost. "
            "Call frame.reset_index() to keep it as a column, or frame.reset_index(drop=True) to drop it."
        )
    names = [str(column) for column in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"Table '{name}' has duplicate column names {duplicates}; rename them first.")
    table = vtk.vtkTable()
    for column, columnName in zip(frame.columns, names):
        table.AddColumn(_vtkColumn(frame[column], columnName, name))
    if tableNode is None:
        tableNode = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    elif not isinstance(tableNode, slicer.vtkMRMLTableNode):
        raise InputError(f"tableNode must be a vtkMRMLTableNode, got {type(tableNode).__name__}.")
    else:
        tableNode.SetName(name)
        tableNode.SetAndObserveSchema(None)
    tableNode.SetAndObserveTable(table)
    for columnName, values in frame.attrs.get(COLUMN_PROPERTIES, {}).items():
        if columnName in names:
            for key, value in values.items():
                tableNode.SetColumnProperty(columnName, key, str(value))
    return tableNode


def inferNumericColumns(tableNode: "slicer.vtkMRMLTableNode") -> list[str]:
    """Turn text columns whose every non-empty cell is a number into integer or real columns.

    Empty cells become NaN (the column is then real).  Integers written with
    leading zeros or a sign (``"007"``, ``"+3"``) keep the column as text.  Used for CSV files read
    without a schema, which Slicer reads as text only.

    :returns: the names of the converted columns.
    """
    table = tableNode.GetTable()
    converted = []
    for index in range(table.GetNumberOfColumns()):
        array = table.GetColumn(index)
        if not isinstance(array, vtk.vtkStringArray) or array.GetNumberOfValues() == 0:
            continue
        texts = pd.Series([array.GetValue(i).strip() for i in range(array.GetNumberOfValues())], dtype=object)
        if not texts.ne("").any():
            continue
        try:
            numbers = pd.to_numeric(texts.replace("", np.nan), errors="raise")
        except (ValueError, TypeError):
            continue
        values = numbers.to_numpy()
        if np.issubdtype(values.dtype, np.integer) and (texts != numbers.astype(str)).any():
            continue  # identifiers such as "007" stay text
        if (
            np.issubdtype(values.dtype, np.integer)
            and values.size
            and _INT32.min <= values.min()
            and values.max() <= _INT32.max
        ):
            replacement = numpy_support.numpy_to_vtk(values.astype(np.int32), deep=True, array_type=vtk.VTK_INT)
        else:
            replacement = numpy_support.numpy_to_vtk(values.astype(np.float64), deep=True, array_type=vtk.VTK_DOUBLE)
        replacement.SetName(array.GetName())
        table.RemoveColumn(index)
        table.InsertColumn(replacement, index)
        converted.append(array.GetName())
    if converted:
        tableNode.Modified()
    return converted


def writeAllDigits(tableNode: "slicer.vtkMRMLTableNode", path: pathlib.Path) -> bool:
    """Rewrite the ``.csv``/``.tsv`` file Slicer's table writer made for ``tableNode`` with every digit.

    Slicer's writer keeps 6 significant digits of real numbers (its stream's default
    precision); its reader parses every digit, so rewriting the file in the same
    layout (quoted text in ``.csv``) with shortest round-trip numbers makes saved
    tables exact.  The schema file written beside it stays as it is.

    :returns: whether the file was rewritten (tables with multi-component or
        variant columns are left as Slicer wrote them).
    """
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    table = tableNode.GetTable()
    header, columns = [], []
    for index in range(table.GetNumberOfColumns()):
        array = table.GetColumn(index)
        if array.GetNumberOfComponents() != 1 or not isinstance(array, (vtk.vtkStringArray, vtk.vtkDataArray)):
            return False
        header.append(_quoted(array.GetName() or "", delimiter))
        columns.append(_cellTexts(array, delimiter))
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in zip(*columns)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True


def requireStorableText(tableNode: "slicer.vtkMRMLTableNode", extension: str) -> None:
    """Raise :class:`InputError` if a text cell or column name would corrupt a ``.csv``/``.tsv`` file.

    Slicer's table writer does not escape double quotes or line breaks (nor tabs in
    ``.tsv``): such cells would be read back wrong, so they are refused up front.
    """
    forbidden = {'"': "double quote", "\n": "line break", "\r": "line break"}
    if extension == ".tsv":
        forbidden["\t"] = "tab"
    table = tableNode.GetTable()
    for index in range(table.GetNumberOfColumns()):
        array = table.GetColumn(index)
        cells = [("column name", array.GetName() or "")]
        if isinstance(array, vtk.vtkStringArray):
            cells += [(f"row {row}", array.GetValue(row)) for row in range(array.GetNumberOfValues())]
        for where, text in cells:
            bad = sorted({kind for character, kind in forbidden.items() if character in text})
            if bad:
                raise InputError(
                    f"Table '{tableNode.GetName()}', column '{array.GetName()}', {where}: the text {text!r} has a "
                    f"{' and a '.join(bad)}, which Slicer's {extension} files cannot hold. Replace those characters first."
                )


def _vtkColumn(series: pd.Series, columnName: str, tableName: str) -> "vtk.vtkAbstractArray":
    where = f"Column '{columnName}' of table '{tableName}'"
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(dtype.categories.dtype)
        dtype = series.dtype
    if pd.api.types.is_extension_array_dtype(dtype) and not isinstance(dtype, pd.StringDtype):
        if series.isna().any() and not pd.api.types.is_float_dtype(dtype):
            raise InputError(
                f"{where} has missing values in a {dtype} column. Fill them (series.fillna(...)) "
                "or convert the column to float (NaN marks missing numbers)."
            )
        series = series.astype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else object)
        dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        array = vtk.vtkBitArray()
        array.SetNumberOfValues(len(series))
        for row, value in enumerate(series.to_numpy()):
            array.SetValue(row, int(value))
    elif pd.api.types.is_integer_dtype(dtype):
        values = series.to_numpy()
        fits = values.size == 0 or (_INT32.min <= values.min() and values.max() <= _INT32.max)
        if fits:
            array = numpy_support.numpy_to_vtk(values.astype(np.int32), deep=True, array_type=vtk.VTK_INT)
        else:
            array = numpy_support.numpy_to_vtk(values.astype(np.int64), deep=True, array_type=vtk.VTK_LONG_LONG)
    elif pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy()
        if values.dtype == np.float32:
            array = numpy_support.numpy_to_vtk(values, deep=True, array_type=vtk.VTK_FLOAT)
        else:
            array = numpy_support.numpy_to_vtk(values.astype(np.float64), deep=True, array_type=vtk.VTK_DOUBLE)
    elif pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        values = series.to_numpy(dtype=object)
        missing = [
            row
            for row, value in enumerate(values)
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        ]
        if missing:
            raise InputError(
                f"{where} has missing values in a text column (rows {missing[:5]}). "
                "Fill them first, e.g. frame[column].fillna('')."
            )
        others = sorted({type(value).__name__ for value in values if not isinstance(value, str)})
        if others:
            raise InputError(
                f"{where} mixes text with {', '.join(others)} values. Convert it with frame[column].astype(str) "
                "or to numbers with pandas.to_numeric."
            )
        array = vtk.vtkStringArray()
        array.SetNumberOfValues(len(values))
        for row, value in enumerate(values):
            array.SetValue(row, value)
    else:
        raise InputError(
            f"{where} has type {dtype}, which a table node cannot hold. Convert it to text "
            "(e.g. dates with series.dt.strftime('%Y-%m-%d')) or to numbers."
        )
    array.SetName(columnName)
    return array


def _cellTexts(array: "vtk.vtkAbstractArray", delimiter: str) -> list[str]:
    count = array.GetNumberOfTuples()
    if isinstance(array, vtk.vtkStringArray):
        return [_quoted(array.GetValue(i), delimiter) for i in range(count)]
    if isinstance(array, vtk.vtkBitArray):
        return [str(array.GetValue(i)) for i in range(count)]
    values = numpy_support.vtk_to_numpy(array)
    if np.issubdtype(values.dtype, np.floating):
        # numpy prints the shortest text that reads back to the same float32/float64.
        return [str(value) for value in values]
    return [str(int(value)) for value in values]


def _quoted(text: str, delimiter: str) -> str:
    return f'"{text}"' if delimiter == "," else text


def _columnValues(tableNode: "slicer.vtkMRMLTableNode", array: "vtk.vtkAbstractArray", name: str) -> object:
    if array.GetNumberOfComponents() != 1:
        raise InputError(
            f"Column '{name}' of table '{tableNode.GetName()}' has {array.GetNumberOfComponents()} components; "
            "a DataFrame column holds one value per row. Split it into one column per component."
        )
    count = array.GetNumberOfTuples()
    if isinstance(array, vtk.vtkStringArray):
        return pd.Series([array.GetValue(i) for i in range(count)], dtype=object)
    if isinstance(array, vtk.vtkBitArray):
        return np.array([bool(array.GetValue(i)) for i in range(count)], dtype=bool)
    if isinstance(array, vtk.vtkDataArray):
        values = numpy_support.vtk_to_numpy(array).copy()
        if np.issubdtype(values.dtype, np.signedinteger) or (
            np.issubdtype(values.dtype, np.unsignedinteger) and values.dtype.itemsize < 8
        ):
            return values.astype(np.int64)
        return values
    return pd.Series([array.GetVariantValue(i).ToString() for i in range(count)], dtype=object)


def _propertyNames(tableNode: "slicer.vtkMRMLTableNode", columnName: str) -> list[str]:
    names = vtk.vtkStringArray()
    tableNode.GetAllColumnPropertyNames(names)
    return [names.GetValue(i) for i in range(names.GetNumberOfValues()) if names.GetValue(i) not in _DERIVED_PROPERTIES]
