"""ResultCache: round trip, atomic writes, corrupt entries treated as missing, stable keys."""

import json
import logging
import math
import pathlib

import numpy as np
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.executors.resultCache import ResultCache
from VirtualBiopsy.files import sha256File


@pytest.fixture
def cache(tmp_path):
    return ResultCache(tmp_path / "cache")


def test_round_trip_keeps_values_exactly(cache):
    key = cache.key("image-hash", "mask-hash", "settings-hash", "0.1.0")
    value = {
        "patient": "P001",
        "original_firstorder_Mean": 0.1 + 0.2,
        "tiny": 5e-324,
        "count": 7,
        "undefined": float("nan"),
        "labels": [1, 2],
    }
    assert key not in cache and cache.get(key) is None
    path = cache.put(key, value)
    assert path == cache.folder / f"{key}.json" and path.is_file()
    assert key in cache
    stored = cache.get(key)
    assert sorted(stored) == sorted(value)
    assert all(stored[name] == value[name] for name in value if name != "undefined")
    assert math.isnan(stored["undefined"])
    assert stored["original_firstorder_Mean"] == 0.30000000000000004  # exact float round trip


def test_numpy_values_are_stored_as_plain_numbers(cache):
    key = cache.key("numpy")
    cache.put(key, {"mean": np.float32(1.5), "voxels": np.int64(4137), "histogram": np.arange(3)})
    assert cache.get(key) == {"mean": 1.5, "voxels": 4137, "histogram": [0, 1, 2]}


def test_put_replaces_an_entry(cache):
    key = cache.key("a")
    cache.put(key, {"v": 1})
    cache.put(key, {"v": 2})
    assert cache.get(key) == {"v": 2}
    assert [p.name for p in cache.folder.iterdir()] == [f"{key}.json"]


def test_key_is_stable_and_unambiguous():
    key = ResultCache.key("ab", "c")
    # fixed value: a change here silently invalidates every cache users already have
    # SHA-256 of the length-prefixed parts b"2:ab1:c"
    assert key == "430fb1b4ac43316eca81fab27a1930ab8eff8fef6a1dc7903dce44bbc2790dc5"
    assert key == ResultCache.key("ab", "c")
    assert key != ResultCache.key("a", "bc")
    assert key != ResultCache.key("abc")
    assert key != ResultCache.key("c", "ab")


def test_key_uses_file_hashes(tmp_path):
    image = tmp_path / "image.nrrd"
    image.write_bytes(b"voxels")
    assert ResultCache.key(sha256File(image), "settings") == ResultCache.key(sha256File(image), "settings")
    other = tmp_path / "other.nrrd"
    other.write_bytes(b"voxels!")
    assert ResultCache.key(sha256File(image), "settings") != ResultCache.key(sha256File(other), "settings")


def test_failed_write_leaves_the_old_entry_and_no_partial_file(cache, monkeypatch):
    key = cache.key("case")
    cache.put(key, {"v": "old"})

    def halfWrite(self, text, *args, **kwargs):
        with open(self, "w", encoding="utf-8") as stream:
            stream.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", halfWrite)
    with pytest.raises(OSError, match="No space left"):
        cache.put(key, {"v": "new" * 1000})
    monkeypatch.undo()
    assert cache.get(key) == {"v": "old"}
    assert sorted(p.name for p in cache.folder.iterdir()) == [f"{key}.json"]


def test_unstorable_value_is_an_input_error_and_writes_nothing(cache):
    key = cache.key("case")
    with pytest.raises(InputError, match="cannot be stored as JSON"):
        cache.put(key, {"image": object()})
    with pytest.raises(InputError, match="stores dicts"):
        cache.put(key, [1, 2])  # type: ignore[arg-type]
    assert list(cache.folder.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    [b'{"format": 1, "key": "', b"\x00\xff garbage", b"[]", b'{"format": 99, "key": "K", "value": {}}', b""],
    ids=["truncated", "binary", "not-a-dict", "other-format", "empty"],
)
def test_corrupt_entry_is_missing_and_logged(cache, caplog, content):
    key = cache.key("case")
    cache.path(key).write_bytes(content.replace(b"K", key.encode()))
    with caplog.at_level(logging.WARNING, logger="VirtualBiopsy.executors.resultCache"):
        assert cache.get(key) is None
        assert key not in cache
    assert key[:16] in caplog.text and "computing the case again" in caplog.text
    cache.put(key, {"v": 1})  # a later run repairs it
    assert cache.get(key) == {"v": 1}


def test_entry_under_the_wrong_key_is_missing(cache):
    key, other = cache.key("a"), cache.key("b")
    cache.put(key, {"v": 1})
    cache.path(other).write_text(cache.path(key).read_text(encoding="utf-8"))  # a copied or renamed file
    assert cache.get(other) is None


def test_bad_keys_and_parts_are_input_errors(cache):
    with pytest.raises(InputError, match="not a result cache key"):
        cache.get("../../etc/passwd")
    assert "../x" not in cache
    with pytest.raises(InputError, match="part 1 is int"):
        ResultCache.key("a", 3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least one part"):
        ResultCache.key()


def test_folder_that_cannot_be_created_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="Cannot create the result cache folder"):
        ResultCache(blocker / "cache")


def test_entries_are_json_files(cache):
    key = cache.key("case")
    cache.put(key, {"v": 1})
    assert json.loads(cache.path(key).read_text(encoding="utf-8")) == {"format": 1, "key": key, "value": {"v": 1}}
