"""Shared fixtures: a real headless MRML scene, the public sample cases and the
IBSI reference data (skipped with a reason where absent)."""

from __future__ import annotations

import pathlib

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPOSITORY.parent / "shared" / "data"


@pytest.fixture
def scene():
    """A fresh headless scene with the module logics registered."""
    from VirtualBiopsy.mrml.scene import createScene

    newScene = createScene()
    yield newScene
    newScene.Clear(True)


@pytest.fixture(scope="session")
def ibsiData() -> pathlib.Path:
    """The IBSI phantoms and reference values from ``../shared/data/ibsi``."""
    folder = SHARED_DATA / "ibsi"
    if not folder.is_dir():
        pytest.skip(f"IBSI reference data not found at {folder} (only on machines that carry ../shared/data)")
    return folder


@pytest.fixture(scope="session")
def sampleCases():
    """pyradiomics' public sample cases (brain1, brain2, breast1, lung1, lung2) as
    :class:`~VirtualBiopsy.data.sampleData.SampleCase` by name: fetched once through
    pip from PyPI, verified by SHA-256 and cached (mark tests that use it ``network``)."""
    from VirtualBiopsy.data.sampleData import fetchSampleData

    return fetchSampleData()
