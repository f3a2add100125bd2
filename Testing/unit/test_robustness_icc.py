"""ICC(1,1): Shrout & Fleiss' worked example, a reference implementation, invariances and bands."""

import numpy as np
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.extract.robustness.icc import (
    IccUndefinedError,
    icc11,
    icc11Interval,
    iccBand,
)

#: Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; their ICC(1,1) is .17.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)


def referenceIcc11(matrix: np.ndarray) -> float:
    """The textbook one-way ANOVA, written out with loops."""
    n, k = matrix.shape
    grand = sum(sum(row) for row in matrix) / (n * k)
    rowMeans = [sum(row) / k for row in matrix]
    ssBetween = k * sum((mean - grand) ** 2 for mean in rowMeans)
    ssWithin = sum((value - rowMeans[i]) ** 2 for i, row in enumerate(matrix) for value in row)
    msb, msw = ssBetween / (n - 1), ssWithin / (n * (k - 1))
    return (msb - msw) / (msb + (k - 1) * msw)


def test_shrout_fleiss_worked_example():
    result = icc11Interval(SHROUT_FLEISS)
    assert round(result.icc, 2) == 0.17
    assert result.icc == pytest.approx(0.165742, abs=1e-6)
    # The same data in pingouin's documentation: ICC1 95 % CI [-0.13, 0.72].
    assert (round(result.lower, 2), round(result.upper, 2)) == (-0.13, 0.72)
    assert result.subjects == 6 and result.repeats == 4


def test_equals_the_reference_on_random_tables():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n, k = rng.integers(2, 12), rng.integers(2, 8)
        matrix = rng.normal(size=(n, 1)) * rng.uniform(0, 3) + rng.normal(size=(n, k))
        assert icc11(matrix) == pytest.approx(referenceIcc11(matrix), rel=1e-10, abs=1e-12)


def test_invariant_to_shift_scale_and_order():
    base = icc11(SHROUT_FLEISS)
    assert icc11(SHROUT_FLEISS * 7.5 - 300) == pytest.approx(base, rel=1e-12)
    assert icc11(SHROUT_FLEISS[::-1]) == pytest.approx(base, rel=1e-12)
    shuffled = np.array([np.random.default_rng(i).permutation(row) for i, row in enumerate(SHROUT_FLEISS)])
    assert icc11(shuffled) == pytest.approx(base, rel=1e-12)


def test_perfect_agreement_is_one_and_pure_noise_is_near_zero():
    assert icc11(np.repeat(np.arange(5.0)[:, None], 3, axis=1)) == pytest.approx(1.0)
    noise = np.random.default_rng(0).normal(size=(400, 5))
    assert abs(icc11(noise)) < 0.05


def test_missing_cells_give_the_unbalanced_estimator():
    matrix = SHROUT_FLEISS.copy()
    assert icc11Interval(matrix).repeats == 4
    matrix[0, 3] = np.nan
    unbalanced = icc11Interval(matrix)
    counts = np.array([3, 4, 4, 4, 4, 4])
    assert unbalanced.repeats == pytest.approx((23 - np.sum(counts**2) / 23) / 5)
    # Removing a whole repeat column equals the balanced ICC on the rest.
    matrix = SHROUT_FLEISS.copy()
    matrix[:, 1] = np.nan
    assert icc11(matrix) == pytest.approx(referenceIcc11(SHROUT_FLEISS[:, [0, 2, 3]]))


def test_undefined_and_invalid_tables_are_refused_with_reasons():
    with pytest.raises(IccUndefinedError, match="constant"):
        icc11(np.full((4, 3), 2.5))
    with pytest.raises(IccUndefinedError, match="two or more values"):
        icc11(np.array([[1.0, np.nan], [2.0, np.nan]]))
    with pytest.raises(InputError, match="at least 2 subjects"):
        icc11(np.array([[1.0, 2.0, 3.0]]))
    with pytest.raises(InputError, match="2-D"):
        icc11(np.arange(6.0))
    with pytest.raises(InputError, match="infinite"):
        icc11(np.array([[1.0, np.inf], [2.0, 3.0]]))


@pytest.mark.parametrize(
    "icc, band",
    [
        (-0.2, "poor"),
        (0.49, "poor"),
        (0.5, "moderate"),
        (0.74, "moderate"),
        (0.75, "good"),
        (0.9, "good"),
        (0.91, "excellent"),
        (float("nan"), "undefined"),
    ],
)
def test_koo_li_bands(icc, band):
    assert iccBand(icc) == band
