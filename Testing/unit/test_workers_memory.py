"""The inference memory estimate: known answers, monotone in every size, conservative against
measured peaks of real sliding-window inference; the refusal says the numbers and the fix."""

import math
import pathlib

import numpy as np
import psutil
import pytest

from VirtualBiopsy.errors import InputError
from VirtualBiopsy.workers.memory import (
    availableMemoryBytes,
    estimateInferenceBytes,
    requireMemory,
)
from VirtualBiopsy.workers.processRunner import ProcessRunner

TASKS = str(pathlib.Path(__file__).resolve().parent)
GIB = 1 << 30


def test_known_answer_whole_volume():
    # 1000 voxels: values 1000 * (2*1 + 3*2 + 1) = 9000 + network 1000 * (1 + 2 + 0); 4 bytes; + 9 bytes/voxel labels
    assert estimateInferenceBytes((10, 10, 10), 1, 2, networkValuesPerPatchVoxel=0) == 4 * (9000 + 3000) + 9000


def test_known_answer_with_windows_batch_and_weights():
    # window 64 voxels, batch 2: network values 2 * 64 * (1 + 2 + 384) = 49536
    expected = 4 * (9000 + 49536) + 9000 + 1234
    assert estimateInferenceBytes((10, 10, 10), 1, 2, patchSize=(4, 4, 4), batchSize=2, modelBytes=1234) == expected


def test_a_volume_smaller_than_the_window_is_counted_padded():
    padded = estimateInferenceBytes((2, 10, 10), 1, 2, patchSize=(4, 4, 4), networkValuesPerPatchVoxel=0)
    assert padded == estimateInferenceBytes((4, 10, 10), 1, 2, patchSize=(4, 4, 4), networkValuesPerPatchVoxel=0)


def test_estimate_grows_with_every_size():
    base = {"shape": (64, 64, 32), "inputChannels": 2, "classes": 3, "patchSize": (32, 32, 32)}
    reference = estimateInferenceBytes(**base)
    for change in (
        {"shape": (64, 64, 64)},
        {"inputChannels": 3},
        {"classes": 4},
        {"patchSize": (32, 32, 48)},
        {"batchSize": 2},
        {"dtypeBytes": 8},
        {"modelBytes": 1},
        {"networkValuesPerPatchVoxel": 400.0},
    ):
        assert estimateInferenceBytes(**{**base, **change}) > reference, change


def test_half_precision_halves_the_float_part():
    single = estimateInferenceBytes((50, 40, 30), 1, 3, dtypeBytes=4)
    half = estimateInferenceBytes((50, 40, 30), 1, 3, dtypeBytes=2)
    labels = 9 * 50 * 40 * 30
    assert single - labels == 2 * (half - labels)


def test_numpy_shapes_are_accepted():
    shape = np.array([64, 64, 32])
    assert estimateInferenceBytes(tuple(shape), np.int64(1), 2) == estimateInferenceBytes((64, 64, 32), 1, 2)


@pytest.mark.parametrize(
    "arguments",
    [
        {"shape": (0, 10, 10)},
        {"shape": (-4, 10, 10)},
        {"shape": ()},
        {"shape": (10.5, 10, 10)},
        {"shape": (True, 4, 4)},
        {"inputChannels": 0},
        {"classes": -1},
        {"classes": 2.0},
        {"dtypeBytes": 0},
        {"batchSize": 0},
        {"patchSize": (32, 32)},
        {"patchSize": (0, 32, 32)},
        {"networkValuesPerPatchVoxel": math.nan},
        {"networkValuesPerPatchVoxel": -1.0},
        {"modelBytes": -5},
    ],
)
def test_hostile_sizes_are_refused(arguments):
    with pytest.raises(InputError):
        estimateInferenceBytes(**{"shape": (10, 10, 10), "inputChannels": 1, "classes": 2, **arguments})


def test_refusal_states_estimate_available_and_fix():
    with pytest.raises(InputError) as raised:
        requireMemory(3 * GIB, "Segmenting a 512×512×300 image with model demo", availableBytes=GIB)
    message = str(raised.value)
    assert message.startswith("Segmenting a 512×512×300 image with model demo needs an estimated 3.00 GiB")
    assert "only 1.00 GiB is available" in message
    assert "Crop the image" in message and "coarser spacing" in message and "smaller batch" in message


def test_enough_memory_passes():
    requireMemory(GIB, "a job", availableBytes=GIB)
    requireMemory(1, "a small job")


def test_default_available_memory_is_the_system_available_memory():
    assert abs(availableMemoryBytes("cpu") - psutil.virtual_memory().available) < 512 * (1 << 20)
    with pytest.raises(
        InputError, match=r"needs an estimated 1048576\.00 GiB of memory but only \d+\.\d\d GiB is available"
    ):
        requireMemory(1 << 50, "An absurd job")


def test_negative_sizes_are_refused():
    with pytest.raises(InputError, match="must not be negative"):
        requireMemory(-1, "a job", availableBytes=GIB)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("network", "shape", "patchSize", "inputChannels", "classes"),
    [
        ("monaiUNet", (160, 160, 64), (64, 64, 64), 4, 4),
        ("plainConvUNet", (96, 96, 64), (64, 64, 64), 1, 3),
    ],
)
def test_estimate_is_above_the_measured_peak_of_real_sliding_window_inference(
    network, shape, patchSize, inputChannels, classes
):
    pytest.importorskip("monai")
    arguments = {
        "network": network,
        "shape": shape,
        "patchSize": patchSize,
        "inputChannels": inputChannels,
        "classes": classes,
    }
    measured = ProcessRunner(extraPythonPath=[TASKS]).run("workerTasks:measureSlidingWindowPeak", arguments)
    assert measured["peakIncrease"] > measured["highWaterBefore"] + 100 * (1 << 20), "inference did not set the peak"
    estimate = estimateInferenceBytes(
        shape, inputChannels, classes, patchSize=patchSize, modelBytes=measured["modelBytes"]
    )
    ratio = estimate / measured["peakIncrease"]
    print(
        f"{network} {shape} window {patchSize}: measured {measured['peakIncrease'] / GIB:.3f} GiB, "
        f"estimate {estimate / GIB:.3f} GiB, ratio {ratio:.2f}"
    )
    assert 1.0 <= ratio <= 8.0
