"""The virtual cohort generator: determinism, ground truth, grades, sites, survival."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from VirtualBiopsy.data.anatomy import ANATOMY_LABELS
from VirtualBiopsy.data.randomFields import Grid, caseRandom
from VirtualBiopsy.data.scanner import SEQUENCES, biasField, siteByName, sliceProfile
from VirtualBiopsy.data.tumour import REGION_LABELS
from VirtualBiopsy.data.virtualCohort import VirtualCase, generateCase
from VirtualBiopsy.errors import InputError

SIZE = 48
COHORT = 30


def arrays(case: VirtualCase) -> dict[str, np.ndarray]:
    images = {name: sitk.GetArrayFromImage(image) for name, image in case.images.items()}
    return {
        **images,
        "mask": sitk.GetArrayFromImage(case.mask),
        "regions": sitk.GetArrayFromImage(case.regions),
        "anatomy": sitk.GetArrayFromImage(case.anatomy),
    }


@pytest.fixture(scope="module")
def cohort() -> list[VirtualCase]:
    """A small cohort on a coarse grid, shared by the statistical tests."""
    return [generateCase(index, seed=0, size=SIZE) for index in range(COHORT)]


def test_same_seed_and_index_give_bit_identical_cases():
    first, second = generateCase(3, seed=7, size=SIZE), generateCase(3, seed=7, size=SIZE)
    for name, array in arrays(first).items():
        np.testing.assert_array_equal(array, arrays(second)[name], err_msg=name)
    assert first.clinical == second.clinical
    assert first.latent == second.latent


def test_other_seed_or_index_gives_another_case():
    reference = arrays(generateCase(3, seed=7, size=SIZE))
    for other in (generateCase(3, seed=8, size=SIZE), generateCase(4, seed=7, size=SIZE)):
        assert not np.array_equal(reference["T1c"], arrays(other)["T1c"])
        assert not np.array_equal(reference["mask"], arrays(other)["mask"])


def test_case_has_the_documented_structure():
    case = generateCase(0, seed=1, size=SIZE)
    assert case.patient == "VB0001"
    assert case.site in {"SiteA", "SiteB", "SiteC"}
    assert tuple(case.images) == SEQUENCES == ("T1c", "T2", "FLAIR")
    for image in [*case.images.values(), case.mask, case.regions, case.anatomy]:
        assert image.GetSize() == (SIZE,) * 3
        assert image.GetSpacing() == pytest.approx((240.0 / SIZE,) * 3)
        assert image.GetOrigin() == case.mask.GetOrigin()
        assert image.GetDirection() == case.mask.GetDirection()
    assert case.images["T1c"].GetPixelID() == sitk.sitkInt16
    assert case.mask.GetPixelID() == case.regions.GetPixelID() == sitk.sitkUInt8
    assert set(case.clinical) >= {"patient", "site", "grade", "time", "event", "age", "sex"}
    assert case.clinical["grade"] in {"LGG", "HGG"} and case.clinical["event"] in {0, 1}
    assert case.clinical["time"] > 0
    assert case.aggressiveness == case.latent["aggressiveness"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"index": -1, "seed": 0},
        {"index": 0, "seed": -2},
        {"index": 0, "seed": 0, "size": 16},
        {"index": 0, "seed": 0, "size": 64.0},
    ],
)
def test_bad_arguments_are_refused(arguments):
    with pytest.raises(InputError, match="give an integer"):
        generateCase(**arguments)


def test_ground_truth_is_consistent_with_the_images(cohort):
    for case in cohort:
        data = arrays(case)
        regions, mask = data["regions"], data["mask"]
        np.testing.assert_array_equal(mask, np.isin(regions, (1, 2, 3)).astype(np.uint8))
        assert mask.sum() > 0, case.patient
        brain = [ANATOMY_LABELS[name] for name in ("csf", "greyMatter", "whiteMatter")]
        inside = np.isin(data["anatomy"][mask > 0], brain)
        assert inside.mean() > 0.95, f"{case.patient}: tumour outside the brain"
        whiteMatter = (data["anatomy"] == ANATOMY_LABELS["whiteMatter"]) & (regions == 0)
        oedema = regions == REGION_LABELS["oedema"]
        if oedema.sum() > 20:
            assert data["FLAIR"][oedema].mean() > 1.3 * data["FLAIR"][whiteMatter].mean(), case.patient
            assert data["T2"][oedema].mean() > 1.3 * data["T2"][whiteMatter].mean(), case.patient
        necrosis, enhancing = regions == REGION_LABELS["necrosis"], regions == REGION_LABELS["enhancing"]
        if necrosis.sum() > 10:
            assert data["T1c"][enhancing].mean() > 1.5 * data["T1c"][necrosis].mean(), case.patient
            assert data["T2"][necrosis].mean() > 1.5 * data["T2"][whiteMatter].mean(), case.patient


def test_high_grade_tumours_are_larger_necrotic_and_enhancing(cohort):
    rows = []
    for case in cohort:
        data = arrays(case)
        enhancing = data["regions"] == REGION_LABELS["enhancing"]
        whiteMatter = (data["anatomy"] == ANATOMY_LABELS["whiteMatter"]) & (data["regions"] == 0)
        rows.append(
            {
                "grade": case.clinical["grade"],
                "core": case.latent["coreVolumeMl"],
                "necrosis": case.latent["necrosisVolumeMl"] / case.latent["coreVolumeMl"],
                "enhancement": data["T1c"][enhancing].mean() / data["T1c"][whiteMatter].mean(),
                "aggressiveness": case.aggressiveness,
            }
        )
    table = pd.DataFrame(rows).groupby("grade").mean()
    assert set(table.index) == {"LGG", "HGG"}
    assert table.loc["HGG", "core"] > 2 * table.loc["LGG", "core"]
    assert table.loc["HGG", "necrosis"] > 0.1 > table.loc["LGG", "necrosis"]
    assert table.loc["HGG", "enhancement"] > table.loc["LGG", "enhancement"] + 0.4
    assert table.loc["HGG", "aggressiveness"] > table.loc["LGG", "aggressiveness"]


def test_sites_differ_in_noise_and_contrast(cohort):
    rows = []
    for case in cohort:
        data = arrays(case)
        t1c = data["T1c"].astype(float)
        whiteMatter = (data["anatomy"] == ANATOMY_LABELS["whiteMatter"]) & (data["regions"] == 0)
        greyMatter = (data["anatomy"] == ANATOMY_LABELS["greyMatter"]) & (data["regions"] == 0)
        corner = t1c[:, :4, :4]
        rows.append(
            {
                "site": case.site,
                "noise": corner.std() / np.median(t1c[whiteMatter]),
                "greyWhite": t1c[greyMatter].mean() / t1c[whiteMatter].mean(),
            }
        )
    table = pd.DataFrame(rows).groupby("site").mean()
    assert set(table.index) == {"SiteA", "SiteB", "SiteC"}
    assert table.loc["SiteA", "noise"] > 2 * table.loc["SiteB", "noise"]
    assert table.loc["SiteA", "noise"] > 1.4 * table.loc["SiteC", "noise"]
    assert table.loc["SiteA", "greyWhite"] > table.loc["SiteB", "greyWhite"] + 0.05


def test_sites_differ_in_bias_field_and_slice_profile():
    grid = Grid.forSize(64)
    z, y, x = grid.coordinates()
    radius = np.sqrt(z * z + y * y + x * x)
    centre, rim = radius < 25, (radius > 60) & (radius < 75)
    brightening = {}
    for name in ("SiteA", "SiteB"):
        ratios = [biasField(grid, siteByName(name), caseRandom(0, index, "scanner")) for index in range(6)]
        brightening[name] = np.mean([field[centre].mean() / field[rim].mean() for field in ratios])
    assert brightening["SiteB"] > 1.1 > 1.05 > brightening["SiteA"]

    step = np.zeros(grid.shape, dtype=np.float32)
    step[32:] = 1.0
    thick = sliceProfile(step, grid, siteByName("SiteA").sliceThicknessMm)
    thin = sliceProfile(step, grid, siteByName("SiteB").sliceThicknessMm)
    assert np.count_nonzero((thick[:, 0, 0] > 0.01) & (thick[:, 0, 0] < 0.99)) >= 2
    np.testing.assert_array_equal(thin, step)


def test_survival_depends_on_aggressiveness_and_age():
    from lifelines import CoxPHFitter

    cases = [generateCase(index, seed=11, size=32) for index in range(100)]
    table = pd.DataFrame([{**case.clinical, "aggressiveness": case.aggressiveness} for case in cases])
    assert 0.3 < table["event"].mean() < 0.95
    model = CoxPHFitter().fit(table[["aggressiveness", "age", "time", "event"]], "time", "event")
    assert model.params_["aggressiveness"] > 0.5
    assert model.summary.loc["aggressiveness", "p"] < 0.001
    assert table.groupby("grade")["time"].median()["HGG"] < table.groupby("grade")["time"].median()["LGG"]
