"""``virtual-biopsy extract --manifest``: the cohort folder, the cache given with --cache reused by a
re-run into a new folder, and bad input answered with exit status 2, one line on stderr and
nothing written."""

import json

import pandas as pd
import pytest

from VirtualBiopsy import cli
from VirtualBiopsy.commands.extractCohort import defaultCohortCache
from VirtualBiopsy.data.virtualCohort import generateCohort


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return generateCohort(tmp_path_factory.mktemp("cli") / "cohort", cases=2, seed=3, size=48)


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("featureClass: {shape: , firstorder: }\nsetting: {binWidth: 25}\n")
    return path


def runCli(arguments, capsys) -> tuple[int, str, str]:
    status = cli.main(["extract", *map(str, arguments)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cohort_folder_and_cache_reused_by_a_rerun(manifest, params, tmp_path, capsys):
    cache = tmp_path / "cache"
    status, out, _ = runCli(
        ["--manifest", manifest, "--params", params, "--out", tmp_path / "run1", "--cache", cache], capsys
    )
    assert status == 0 and "2 extracted (0 from the cache), 0 failed" in out
    assert sorted(path.name for path in (tmp_path / "run1").iterdir()) == sorted(
        ["features.csv", "features_long.csv", "failures.csv", "diagnostics.json", "provenance.json"]
    )
    wide = pd.read_csv(tmp_path / "run1" / "features.csv")
    assert list(wide["patient"]) == ["VB0001", "VB0002"] and "FLAIR_original_firstorder_Mean" in wide.columns
    status, out, _ = runCli(
        ["--manifest", manifest, "--params", params, "--out", tmp_path / "run2", "--cache", cache], capsys
    )
    assert status == 0 and "2 extracted (2 from the cache)" in out
    provenance = json.loads((tmp_path / "run2" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["cache"] == {"folder": str(cache), "hits": 2, "computed": 0}
    assert provenance["settingsName"] == "params"
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "run2" / "features.csv"), wide)


def test_no_cache_and_label_option(manifest, params, tmp_path, capsys):
    status, out, _ = runCli(
        ["--manifest", manifest, "--params", params, "--label", 3, "--out", tmp_path / "run", "--no-cache"], capsys
    )
    assert status == 0 and "0 extracted" in out and "2 failed" in out
    failures = pd.read_csv(tmp_path / "run" / "failures.csv")
    assert failures["error"].str.contains("Label 3 is not in the mask").all()
    assert json.loads((tmp_path / "run" / "provenance.json").read_text(encoding="utf-8"))["cache"]["folder"] is None


def test_default_cache_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VIRTUAL_BIOPSY_CACHE", str(tmp_path))
    assert defaultCohortCache() == tmp_path / "radiomics"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--manifest", "{missing}"], "manifest not found"),
        (["--manifest", "{manifest}", "--image", "x.nrrd"], "--image only apply to one case"),
        (["--manifest", "{manifest}", "--label", 1, "--label", 2], "takes one --label"),
        (["--manifest", "{manifest}", "--preset", "nope"], "No radiomics preset named 'nope'"),
        (["--manifest", "{manifest}", "--workers", 0], "--workers is 0"),
        (["--mask", "{manifest}"], "Missing --image"),
        (["--image", "{manifest}", "--mask", "{manifest}", "--workers", 2], "apply to --manifest"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(manifest, tmp_path, capsys, arguments, message):
    paths = {"{missing}": tmp_path / "missing.csv", "{manifest}": manifest}
    out = tmp_path / "out"
    status, stdout, err = runCli(
        [paths.get(a, a) if isinstance(a, str) else a for a in arguments]
        + ["--out", out, "--cache", tmp_path / "cache"],
        capsys,
    )
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1 and stdout == ""
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_non_empty_out_is_refused(manifest, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("keep")
    status, _, err = runCli(["--manifest", manifest, "--out", tmp_path / "out", "--no-cache"], capsys)
    assert (
        status == 2 and "is not empty" in err and (tmp_path / "out" / "keep.txt").read_text(encoding="utf-8") == "keep"
    )
