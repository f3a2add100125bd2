"""The ComBat model file: never overwritten, never half-written, and damaged files refused."""

from __future__ import annotations

import json
import os
import pathlib

import pytest
from combatCohort import referenceCohort

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.harmonize.combat import ComBatModel, fitComBat
from VirtualBiopsy.harmonize.combat.modelFile import writeNewText


@pytest.fixture(scope="module")
def model():
    return fitComBat(*referenceCohort())


def test_save_never_overwrites_and_leaves_no_partial_file(tmp_path, model):
    path = tmp_path / "model.json"
    path.write_text("precious")
    with pytest.raises(InputError, match="exists already; nothing is overwritten"):
        model.save(path)
    assert path.read_text(encoding="utf-8") == "precious"
    with pytest.raises(InputError, match="does not exist; create it first"):
        model.save(tmp_path / "absent" / "model.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_write_new_text_refuses_a_file_that_appears_meanwhile(tmp_path, monkeypatch):
    """A file created between the check and the link is kept, and the temporary file removed."""
    path = tmp_path / "out.csv"
    realLink = os.link

    def racingLink(source, target):
        pathlib.Path(target).write_text("someone else")
        return realLink(source, target)

    monkeypatch.setattr(os, "link", racingLink)
    with pytest.raises(InputError, match="appeared while writing"):
        writeNewText("mine", path)
    assert path.read_text(encoding="utf-8") == "someone else" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def _damaged(tmp_path, model, edit) -> str:
    path = model.save(tmp_path / "model.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(data))
    return damaged


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda d: d.update(format="something"), "is not a Virtual Biopsy ComBat model"),
        (lambda d: d.update(schemaVersion=2), "schema version 2; this Virtual Biopsy reads version 1"),
        (lambda d: d.update(method="magic"), "unknown method 'magic'"),
        (lambda d: d.pop("parameters"), "KeyError"),
        (lambda d: d["parameters"]["grandMean"].pop(), "grandMean should hold 10 numbers"),
        (lambda d: d["parameters"]["pooledVariance"].__setitem__(0, -1.0), "variance .* is not positive"),
        (lambda d: d["parameters"]["deltaStar"]["A"].__setitem__(3, 0.0), "variance .* is not positive"),
        (lambda d: d["parameters"]["gammaStar"]["B"].__setitem__(0, "1.0"), "holds something other than numbers"),
        (lambda d: d["parameters"]["covariateCoefficients"].pop("age"), "do not match the covariates"),
        (lambda d: d.update(referenceBatch="Q"), "reference batch 'Q' is not among the batches"),
        (lambda d: d["covariates"][1].update(levels=[]), "levels that do not fit its kind"),
    ],
)
def test_damaged_files_are_refused(tmp_path, model, edit, message):
    with pytest.raises(InputError, match=message):
        ComBatModel.load(_damaged(tmp_path, model, edit))


def test_unreadable_files_are_refused(tmp_path, model):
    with pytest.raises(InputError, match="not found"):
        ComBatModel.load(tmp_path / "absent.json")
    text = model.save(tmp_path / "model.json").read_text(encoding="utf-8")
    (tmp_path / "nan.json").write_text(text.replace('"grandMean": [\n  ', '"grandMean": [\n  NaN, ', 1))
    assert "NaN" in (tmp_path / "nan.json").read_text(encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        ComBatModel.load(tmp_path / "nan.json")
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not valid JSON"):
        ComBatModel.load(tmp_path / "cut.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a Virtual Biopsy ComBat model"):
        ComBatModel.load(tmp_path / "list.json")
