"""Inputs and runners for the output cases: a tiny case (image, mask, tables), each command's argument list for a
given output path, a run under a file size limit (``RLIMIT_FSIZE``) in a subprocess, and what a failed run left.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
from collections.abc import Callable

import numpy as np
import SimpleITK as sitk
from hostile import CommandResult

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]

#: Each command's arguments, by name: ``(inputs, out) -> argv``, and the name its output gets (file or folder).
COMMANDS: dict[str, tuple[Callable[[dict[str, pathlib.Path], pathlib.Path], list[str]], str]] = {
    "synth": (lambda i, out: ["synth", "--out", out, "--cases", "2", "--size", "32"], "cohort"),
    "extract": (lambda i, out: ["extract", "--image", i["image"], "--mask", i["mask"], "--out", out], "features.csv"),
    "harmonize": (
        lambda i, out: ["harmonize", "--image", i["image"], "--method", "zscore", "--mask", i["mask"], "--out", out],
        "t1c.nrrd",
    ),
    "segment": (lambda i, out: ["segment", "--model", i["model"], "--image", i["image"], "--out", out], "t.seg.nrrd"),
    "run": (lambda i, out: ["run", "--manifest", i["manifest"], "--preset", "demo", "--out", out], "run"),
    "combat": (
        lambda i, out: (
            ["combat", "fit", "--features", i["features"], "--clinical", i["clinical"], "--batch", "site"]
            + ["--out", out]
        ),
        "combat.json",
    ),
    "qa": (lambda i, out: ["qa", "--reference", i["mask"], "--prediction", i["mask"], "--out", out], "qa"),
    "report": (lambda i, out: ["report", out], "run"),
    "explore": (
        lambda i, out: (
            ["explore", "--features", i["features"], "--clinical", i["clinical"], "--outcome", "grade"] + ["--out", out]
        ),
        "explore",
    ),
    "nyul": (
        lambda i, out: ["nyul", "fit", "--manifest", i["manifest"], "--sequence", "T1c", "--out", out],
        "landmarks.json",
    ),
    "km": (
        lambda i, out: (
            ["outcome", "km", "--table", i["clinical"], "--time", "time", "--event", "event"] + ["--out", out]
        ),
        "km",
    ),
}


def commandArguments(command: str, inputs: dict[str, pathlib.Path], out: pathlib.Path) -> list[str]:
    """``command``'s argument list writing to ``out``."""
    return [str(word) for word in COMMANDS[command][0](inputs, out)]


def outputName(command: str) -> str:
    """The file or folder name ``command``'s output gets in these cases."""
    return COMMANDS[command][1]


def tinyCase(folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """A 24³ MR-like image with a bright sphere, its mask, a two-case manifest, a clinical table with sites,
    grades and survival, and a feature table, written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    grid = np.indices((24, 24, 24)).astype(float)
    sphere = ((grid - 12.0) ** 2).sum(axis=0) <= 25.0
    noise = np.random.default_rng(7).normal(0.0, 5.0, sphere.shape)
    image = sitk.GetImageFromArray((100.0 + 60.0 * sphere + noise).astype(np.float32))
    mask = sitk.GetImageFromArray(sphere.astype(np.uint8))
    for item in (image, mask):
        item.SetSpacing((1.0, 1.0, 1.0))
    paths = {"image": folder / "t1c.nrrd", "mask": folder / "mask.nrrd"}
    sitk.WriteImage(image, str(paths["image"]), True)
    sitk.WriteImage(mask, str(paths["mask"]), True)
    patients = [f"P{index:02d}" for index in range(12)]
    paths["manifest"] = folder / "manifest.csv"
    paths["manifest"].write_text(
        "patient,site,T1c,mask\n" + "".join(f"{p},{'AB'[k % 2]},t1c.nrrd,mask.nrrd\n" for k, p in enumerate(patients))
    )
    paths["clinical"] = folder / "clinical.csv"
    paths["clinical"].write_text(
        "patient,site,grade,time,event\n"
        + "".join(f"{p},{'AB'[k % 2]},{k % 3 == 0:d},{10 + 3 * k},{k % 2}\n" for k, p in enumerate(patients))
    )
    values = np.random.default_rng(3).normal(size=(len(patients), 3)) + np.arange(len(patients))[:, None] % 2
    paths["features"] = folder / "features.csv"
    paths["features"].write_text(
        "patient,original_firstorder_Mean,original_firstorder_Energy,original_shape_Sphericity\n"
        + "".join(f"{p},{a:.6f},{b:.6f},{c:.6f}\n" for p, (a, b, c) in zip(patients, values))
    )
    paths["model"] = folder / "model-not-imported"
    return paths


_LIMITED = textwrap.dedent(
    """
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    from VirtualBiopsy.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def runLimited(argv: list[str], limitBytes: int, cwd: pathlib.Path) -> CommandResult:
    """Run ``virtual-biopsy ARGV`` in a subprocess where no file may grow past ``limitBytes`` (the kernel's
    ``RLIMIT_FSIZE``: a write past it fails with ``EFBIG``, as on a full disk)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    completed = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(limitBytes), *map(str, argv)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return CommandResult(completed.returncode, completed.stdout, completed.stderr)


def leftovers(folder: pathlib.Path) -> list[str]:
    """Hidden temporary files or folders (``.NAME.xxxxxxxx.partial…``, write checks) anywhere under ``folder``."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if ".partial" in path.name or path.name.startswith(".virtual-biopsy-write-check")
    )


def errorLines(result: CommandResult) -> list[str]:
    """The lines of stderr that the command printed as its verdict (progress bars left out)."""
    return [line for line in result.stderr.splitlines() if line.startswith("virtual-biopsy ")]
