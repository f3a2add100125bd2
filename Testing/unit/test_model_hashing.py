"""Model hashes: known answers, the ``sha256sum`` pipeline the docs give, invariances, and refused links."""

import hashlib
import os
import shutil
import subprocess

import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.models.hashing import fileSha256, scanTree, treeDigest, treeHashes


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "model"
    (root / "fold_0").mkdir(parents=True)
    (root / "dataset.json").write_bytes(b'{"a": 1}')
    (root / "fold_0" / "checkpoint final.pth").write_bytes(bytes(range(256)) * 1000)
    (root / "fold_0" / "résumé.txt").write_text("é", encoding="utf-8")
    (root / "empty").mkdir()
    return root


def test_file_hash_is_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert fileSha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils' sha256sum")
def test_tree_hash_equals_the_documented_sha256sum_pipeline(tree):
    pipeline = "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum"
    result = subprocess.run(pipeline, shell=True, cwd=tree, capture_output=True, text=True, check=True)
    expected = result.stdout.split()[0]
    digest, files = treeHashes(tree)
    assert digest == expected
    assert files == {
        name: hashlib.sha256((tree / name).read_bytes()).hexdigest()
        for name in ("dataset.json", "fold_0/checkpoint final.pth", "fold_0/résumé.txt")
    }


def test_a_single_file_is_a_tree_of_one_file(tree):
    path = tree / "dataset.json"
    digest, files = treeHashes(path)
    assert files == {"dataset.json": fileSha256(path)}
    assert digest == hashlib.sha256(f"{fileSha256(path)}  dataset.json\n".encode()).hexdigest()


def test_tree_hash_depends_on_content_and_names_not_on_creation_order(tree, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in reversed(sorted(treeHashes(tree)[1])):  # created in the other order
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((tree / name).read_bytes())
    assert treeHashes(copy)[0] == treeHashes(tree)[0]
    (copy / "dataset.json").rename(copy / "dataset2.json")
    assert treeHashes(copy)[0] != treeHashes(tree)[0]
    (copy / "dataset2.json").rename(copy / "dataset.json")
    (copy / "dataset.json").write_bytes(b'{"a": 2}')
    assert treeHashes(copy)[0] != treeHashes(tree)[0]
    assert treeDigest({}) == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("kind", ["file link inside", "folder link outside", "dangling link", "pipe"])
def test_links_and_special_files_are_refused(tree, tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    name = {
        "file link inside": "fold_0/alias.json",
        "folder link outside": "fold_1",
        "dangling link": "gone.pth",
        "pipe": "fifo",
    }[kind]
    if kind == "file link inside":
        os.symlink(tree / "dataset.json", tree / name)
    elif kind == "folder link outside":
        os.symlink(outside, tree / name)
    elif kind == "dangling link":
        os.symlink(tmp_path / "nothing", tree / name)
    else:
        os.mkfifo(tree / name)
    assert scanTree(tree)[1] == [name]
    with pytest.raises(InputError, match=f"link.*{name}"):
        treeHashes(tree)


def test_a_linked_root_or_file_is_refused(tree, tmp_path):
    os.symlink(tree, tmp_path / "alias")
    with pytest.raises(InputError, match="symbolic link"):
        treeHashes(tmp_path / "alias")
    os.symlink(tree / "dataset.json", tmp_path / "alias.json")
    with pytest.raises(InputError, match="symbolic link"):
        fileSha256(tmp_path / "alias.json")
    with pytest.raises(InputError, match="does not exist"):
        treeHashes(tmp_path / "missing")
