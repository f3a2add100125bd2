"""User tables are read with an explicit kind per column, and manifest paths stay inside their folder: every
number read is the number written, every refusal names the cell and the fix."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pandas as pd
import pytest

from VirtualBiopsy.data.manifest import readManifest, writeManifest
from VirtualBiopsy.errors import InputError
from VirtualBiopsy.files import PathConfinement, TableFormat, confinedPath, readTable
from VirtualBiopsy.files.tables import EVENT, INTEGER, NUMBER, TEXT, tableNumber
from VirtualBiopsy.outcome.cox import defaultCovariates


def write(folder, text: str, name: str = "table.csv", encoding: str = "utf-8"):
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def test_each_kind_reads_what_was_written(tmp_path):
    path = write(tmp_path, "patient,time,event,grade,age,note\n007,12.5,true,2,63.5,a\n010, 3 ,0,3,-1e2,b\n")
    table = readTable(path, "Clinical", {"patient": TEXT, "time": NUMBER, "event": EVENT, "grade": INTEGER})
    assert table["patient"].tolist() == ["007", "010"], "identifiers stay text"
    assert table["time"].tolist() == [12.5, 3.0] and table["time"].dtype == np.float64
    assert table["event"].tolist() == [1, 0] and table["event"].dtype == np.int64
    assert table["grade"].tolist() == [2, 3] and table["grade"].dtype == np.int64
    assert table["age"].tolist() == [63.5, -100.0] and table["note"].tolist() == ["a", "b"]
    assert table.attrs["lines"] == [2, 3] and table.attrs["tableFormat"]["separator"] == ","


def test_inferred_columns_of_whole_numbers_are_integers_unless_one_is_missing(tmp_path):
    path = write(tmp_path, "patient,a,b,c\nP1,1,1.0,1\nP2,2,2.0,\n")
    table = readTable(path, "Features", {"patient": TEXT})
    assert table["a"].dtype == np.int64 and table["b"].dtype == np.float64 and table["c"].dtype == np.float64
    assert math.isnan(table["c"][1])


@pytest.mark.parametrize("token", ["", "NA", "n/a", "N/A", "NaN", "nan", "null", "NULL", "None", "  na  "])
def test_the_missing_tokens_are_missing(tmp_path, token):
    table = readTable(write(tmp_path, f"patient,age\nP1,61\nP2,{token}\n"), "Clinical", {"patient": TEXT})
    assert table["age"].dtype == np.float64 and table["age"][0] == 61 and math.isnan(table["age"][1])


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("63,5", "a comma in a number"),
        ("1,234", "a comma in a number"),
        ("1 234", "a thousands separator"),
        ("1'234.5", "a thousands separator"),
        ("1,234,567", "a thousands separator"),
        ("63 y", "a unit or other text after the number"),
        ("12mm", "a unit or other text after the number"),
        ("5%", "a unit or other text after the number"),
        ("<5", "a sign before the number"),
        ("−5", "a sign before the number"),
        ("#N/A", "text in a column of numbers"),
        ("-", "text in a column of numbers"),
        ("1_000", "text in a column of numbers"),
    ],
)
def test_a_number_written_another_way_is_refused_with_its_line_column_and_fix(tmp_path, cell, reason):
    path = write(tmp_path, f'patient,age\nP1,61\nP2,"{cell}"\n')
    with pytest.raises(InputError) as error:
        readTable(path, "Clinical", {"patient": TEXT})
    message = str(error.value)
    assert f"line 3, column age: {cell!r}: {reason}" in message
    assert "nothing was read" in message and "write plain numbers (63.5" in message


def test_a_column_of_lookalikes_alone_is_refused_but_plain_text_is_text(tmp_path):
    path = write(tmp_path, 'patient,age,site,stage\nP1,"63,5",A,T2\nP2,"70,1",B3,T3\n')
    with pytest.raises(InputError, match=r"2 cell\(s\).*column age: '63,5'.*--decimal ,"):
        readTable(path, "Clinical", {"patient": TEXT})
    text = readTable(write(tmp_path, "patient,site,stage\nP1,A,T2\nP2,B3,T3\n", "t.csv"), "Clinical")
    assert text["site"].tolist() == ["A", "B3"] and text["stage"].tolist() == ["T2", "T3"]


def test_text_columns_are_read_as_text(tmp_path):
    path = write(tmp_path, "patient,stage,age\nP1,2a,60\nP2,3,61\n")
    with pytest.raises(InputError, match="--text-columns COLUMN"):
        readTable(path, "Clinical", {"patient": TEXT})
    table = readTable(path, "Clinical", {"patient": TEXT}, tableFormat=TableFormat(textColumns=("stage", "absent")))
    assert table["stage"].tolist() == ["2a", "3"] and table["age"].tolist() == [60, 61]


def test_comma_decimals_with_semicolons_give_the_dot_file_numbers(tmp_path):
    dot = write(tmp_path, "patient,age,dose\nP1,63.5,1e3\nP2,70,-0.25\n", "dot.csv")
    comma = write(tmp_path, "patient;age;dose\nP1;63,5;1e3\nP2;70;-0,25\n", "comma.csv")
    quoted = write(tmp_path, 'patient,age,dose\nP1,"63,5",1e3\nP2,70,"-0,25"\n', "quoted.csv")
    expected = readTable(dot, "Clinical", {"patient": TEXT})
    for path in (comma, quoted):
        table = readTable(path, "Clinical", {"patient": TEXT}, tableFormat=TableFormat(","))
        pd.testing.assert_frame_equal(table, expected)
    with pytest.raises(InputError, match="a dot in a number, but the table is read with the decimal comma"):
        readTable(dot, "Clinical", {"patient": TEXT}, tableFormat=TableFormat(","))
    assert tableNumber("-0,25", ",") == -0.25 and math.isnan(tableNumber("-0,25", "."))


def test_a_bom_and_crlf_lines_read_like_plain_utf8(tmp_path):
    plain = readTable(write(tmp_path, "patient,age\nP1,61\n", "a.csv"), "Clinical", {"patient": TEXT})
    bom = readTable(write(tmp_path, "\ufeffpatient,age\r\nP1,61\r\n", "b.csv"), "Clinical", {"patient": TEXT})
    pd.testing.assert_frame_equal(plain, bom)
    with pytest.raises(InputError, match="is not UTF-8 text.*CSV UTF-8"):
        readTable(write(tmp_path, "patient,név\nP1,é\n", "c.csv", "latin-1"), "Clinical")


def test_as_text_keeps_the_cells_and_normalizes_the_decimal(tmp_path):
    path = write(tmp_path, "patient;label;x\n007;1;1,50\n008;NA;2\n")
    table = readTable(path, "Feature", {"patient": TEXT}, tableFormat=TableFormat(","), asText=True)
    assert table["patient"].tolist() == ["007", "008"] and table["x"].tolist() == ["1.50", "2"]
    assert table["label"][0] == "1" and pd.isna(table["label"][1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "it is empty"),
        ("patient,age,age\nP1,1,2\n", "repeats column"),
        ("patient,,age\nP1,x,2\n", "column without a name \\(column 2\\)"),
        ("patient,age\nP1,1,2\n", "line 2 has 3 cells"),
        ("patient,age\n", "has no rows"),
    ],
)
def test_structural_problems_are_refused(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        readTable(write(tmp_path, text), "Clinical")


def test_trailing_separators_and_quoted_line_breaks_keep_file_lines(tmp_path):
    path = write(tmp_path, 'patient,note,age,\nP1,"two\nlines",61,\nP2,x,"6O",\n')
    with pytest.raises(InputError, match="line 4, column age: '6O'"):
        readTable(path, "Clinical")
    table = readTable(write(tmp_path, 'patient,note,age,\nP1,"a\nb",61,\n', "ok.csv"), "Clinical")
    assert list(table.columns) == ["patient", "note", "age"] and table.attrs["lines"] == [2]


def test_at_most_five_bad_cells_are_listed_with_the_count(tmp_path):
    rows = "".join(f"P{i},{i},5 mg\n" for i in range(9))
    with pytest.raises(InputError) as error:
        readTable(write(tmp_path, "patient,age,dose\n" + rows), "Clinical")
    message = str(error.value)
    assert "9 cell(s)" in message and "... and 4 more" in message and message.count("column dose") == 5


def test_a_format_applies_only_where_it_is_given(tmp_path):
    path = write(tmp_path, "patient;age\nP1;63,5\n")
    assert readTable(path, "Clinical", tableFormat=TableFormat(","))["age"].tolist() == [63.5]
    with pytest.raises(InputError, match="a comma in a number"):
        readTable(path, "Clinical")


def image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"image")
    return path


def test_paths_resolve_inside_the_folder_or_a_data_root(tmp_path):
    folder, outside = tmp_path / "cohort", tmp_path / "elsewhere"
    image(folder / "P1" / "T1c.nrrd")
    target = image(outside / "T1c.nrrd")
    (folder / "inside-link.nrrd").symlink_to(folder / "P1" / "T1c.nrrd")
    (folder / "escaping-link.nrrd").symlink_to(target)
    confinement = PathConfinement.of(folder)
    assert confinement.confined("P1/../P1/T1c.nrrd", "m") == folder.resolve() / "P1" / "T1c.nrrd"
    assert confinement.confined("inside-link.nrrd", "m") == folder.resolve() / "P1" / "T1c.nrrd"
    for cell in ("../elsewhere/T1c.nrrd", str(target), "escaping-link.nrrd", "..\\elsewhere\\T1c.nrrd"):
        with pytest.raises(InputError) as error:
            confinement.confined(cell, "m.csv line 2, column T1c")
        message = str(error.value)
        assert f"m.csv line 2, column T1c: the path '{cell}' resolves to {target.resolve()}" in message
        assert "--data-root DIR" in message and "--allow-outside-paths" in message and "not opened" in message
    assert confinedPath("escaping-link.nrrd", folder, [outside]) == target.resolve()
    assert confinedPath("/etc/passwd", folder, allowOutside=True) == pathlib.Path("/etc/passwd").resolve()
    with pytest.raises(InputError, match="is not an existing folder"):
        PathConfinement.of(folder, [tmp_path / "absent"])
    with pytest.raises(InputError, match="cannot be resolved"):
        confinement.confined("a\0b", "m")


def test_a_manifest_is_confined_on_every_read_unless_told_otherwise(tmp_path):
    folder, outside = tmp_path / "cohort", tmp_path / "data"
    target = image(outside / "P1" / "T1c.nrrd")
    manifest = folder / "manifest.csv"
    folder.mkdir()
    manifest.write_text(f"patient,T1c,mask\nP1,{target},\n")
    with pytest.raises(InputError, match=r"names 1 path\(s\) outside .*line 2, column T1c"):
        readManifest(manifest)
    assert readManifest(manifest, dataRoots=[outside]).cases[0].sequences["T1c"] == target.resolve()
    with pytest.raises(InputError, match="names 1 path"):
        readManifest(manifest)  # a permission given once is not kept
    written = writeManifest([{"patient": "P1", "T1c": target, "mask": None}], folder / "sub" / "written.csv")
    with pytest.raises(InputError, match="names 1 path"):
        readManifest(written)
    assert readManifest(written, allowOutsidePaths=True).cases[0].sequences["T1c"] == target.resolve()


def test_default_cox_covariates_name_the_text_columns_left_out():
    table = pd.DataFrame({"time": [1.0], "event": [1], "age": [60.0], "sex": ["F"], "grade": [2], "flag": [True]})
    assert defaultCovariates(table, ("time", "event")) == (["age", "grade"], ["sex", "flag"])
