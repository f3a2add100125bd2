"""The model manifest: the shipped file and the schema, round trips, atomic writes, and every invalid field
named with its entry."""

import json

import jsonschema
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.hashing import treeDigest
from VirtualBiopsy.models.manifest import (
    SCHEMA_PATH,
    SHIPPED_MANIFEST,
    entryToDict,
    readManifest,
    writeManifest,
)
from VirtualBiopsy.models.modelEntry import (
    MODEL_BACKENDS,
    ModelEntry,
    ModelInput,
    ModelLabel,
)

FILES = {"dataset.json": "a" * 64, "fold_0/checkpoint_final.pth": "b" * 64}


def entry(**changes) -> ModelEntry:
    values = dict(
        id="brain",
        version="1.0",
        backend="nnunet",
        path="brain",
        inputs=(ModelInput("T1c", 0), ModelInput("FLAIR", 1)),
        labels=(
            ModelLabel(1, "tumour", (1.0, 0.5, 0.0), "SCT^108369006^Neoplasm"),
            ModelLabel(2, "oedema", (0.0, 0.0, 1.0)),
        ),
        sha256=treeDigest(FILES),
        files=dict(FILES),
        trusted=True,
        licence="CC-BY-4.0",
        source="test",
        description="a model",
        options={"configuration": "3d_fullres", "folds": [0]},
    )
    values.update(changes)
    return ModelEntry(**values)


def test_schema_is_valid_and_names_the_backends():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert tuple(schema["$defs"]["model"]["properties"]["backend"]["enum"]) == MODEL_BACKENDS


def test_shipped_manifest_is_valid():
    assert isinstance(readManifest(SHIPPED_MANIFEST), list)


def test_round_trip_keeps_every_field(tmp_path):
    entries = [
        entry(),
        entry(
            id="net",
            backend="monai-torchscript",
            path="/abs/net.pt",
            trusted=False,
            inputs=(ModelInput("FLAIR", 0),),
            labels=(ModelLabel(1, "tumour", (0.2, 0.4, 0.6)),),
        ),
    ]
    path = writeManifest(tmp_path / "models.json", entries)
    assert readManifest(path) == entries
    assert json.loads(path.read_text(encoding="utf-8"))["schemaVersion"] == 1


def test_a_refused_write_leaves_the_old_manifest_whole(tmp_path):
    path = writeManifest(tmp_path / "models.json", [entry()])
    before = path.read_bytes()
    with pytest.raises(InputError, match=r"models\[1\] \('brain'\)\.id"):
        writeManifest(path, [entry(), entry()])
    with pytest.raises(InputError, match="options cannot be written as JSON"):
        writeManifest(path, [entry(options={"roiSize": float("nan")})])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.json"]


def write(tmp_path, models, top=None):
    path = tmp_path / "models.json"
    path.write_text(json.dumps(top or {"schemaVersion": 1, "models": models}))
    return path


@pytest.mark.parametrize(
    "change, where",
    [
        ({"backend": "tensorflow"}, r"models\[0\] \('brain'\)\.backend: 'tensorflow' is not one of"),
        ({"id": "../evil"}, r"models\[0\] \('../evil'\)\.id: '../evil' does not match"),
        ({"sha256": "XYZ"}, r"models\[0\] \('brain'\)\.sha256: 'XYZ' does not match"),
        ({"labels": [{"value": 1, "name": "t", "color": [1, 2, 0]}]}, r"\.labels\[0\]\.color\[1\]: 2 is greater than"),
        ({"labels": [{"value": 0, "name": "background", "color": [0, 0, 0]}]}, r"\.labels\[0\]\.value: 0 is less than"),
        ({"inputs": []}, r"\.inputs: \[\] should be non-empty"),
        ({"unknown": 1}, r"models\[0\] \('brain'\): Additional properties are not allowed \('unknown'"),
        (
            {"inputs": [{"sequence": "T1c", "channel": 0}, {"sequence": "FLAIR", "channel": 2}]},
            r"\.inputs: channels are \[0, 2\]; number them 0 to 1",
        ),
        (
            {"inputs": [{"sequence": "T1c", "channel": 0}, {"sequence": "t1C", "channel": 1}]},
            r"\.inputs: a sequence name is repeated",
        ),
        (
            {"labels": [{"value": 1, "name": "a", "color": [0, 0, 0]}, {"value": 1, "name": "b", "color": [0, 0, 0]}]},
            r"\.labels: a label value is repeated",
        ),
        ({"path": "../../elsewhere"}, r"\.path: '../../elsewhere' is unsafe"),
        ({"files": {"../x": "a" * 64}, "sha256": treeDigest({"../x": "a" * 64})}, r"\.files: '../x' is unsafe"),
        (
            {"files": {"/etc/passwd": "a" * 64}, "sha256": treeDigest({"/etc/passwd": "a" * 64})},
            r"\.files: '/etc/passwd' is unsafe",
        ),
        ({"files": {"C:/x": "a" * 64}, "sha256": treeDigest({"C:/x": "a" * 64})}, r"\.files: 'C:/x' is unsafe"),
        ({"sha256": "c" * 64}, r"\.sha256: c{64} is not the tree hash of its files"),
    ],
)
def test_invalid_entries_are_named_with_their_field(tmp_path, change, where):
    item = {**entryToDict(entry()), **change}
    with pytest.raises(InputError, match=where):
        readManifest(write(tmp_path, [item]))


def test_missing_field_and_duplicate_ids_ignoring_case(tmp_path):
    item = entryToDict(entry())
    del item["files"]
    with pytest.raises(InputError, match=r"models\[0\] \('brain'\): 'files' is a required property"):
        readManifest(write(tmp_path, [item]))
    with pytest.raises(InputError, match=r"models\[1\] \('BRAIN'\)\.id: 'BRAIN' repeats the id of models\[0\]"):
        readManifest(write(tmp_path, [entryToDict(entry()), entryToDict(entry(id="BRAIN"))]))


def test_unreadable_manifests(tmp_path):
    with pytest.raises(InputError, match="not found"):
        readManifest(tmp_path / "none.json")
    path = tmp_path / "bad.json"
    path.write_text('{"schemaVersion": 1, "models": [')
    with pytest.raises(InputError, match="not valid JSON"):
        readManifest(path)
    path.write_text('{"schemaVersion": 1, "models": [], "models": []}')
    with pytest.raises(InputError, match="'models'.* appear twice"):
        readManifest(path)
    with pytest.raises(InputError, match=r"schemaVersion: 1 was expected"):
        readManifest(write(tmp_path, None, {"schemaVersion": 2, "models": []}))
