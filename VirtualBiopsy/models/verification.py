"""Check a model's files against the SHA-256 its manifest records."""

from __future__ import annotations

import logging
import pathlib
from dataclasses import dataclass

from VirtualBiopsy.errors import InputError, ModelError
from VirtualBiopsy.models.hashing import fileSha256, scanTree, treeDigest
from VirtualBiopsy.models.modelEntry import ModelEntry
from VirtualBiopsy.progress import ProgressCallback, noProgress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileChange:
    """A file whose SHA-256 differs from the manifest's."""

    path: str
    expected: str
    actual: str


@dataclass(frozen=True)
class VerificationReport:
    """What :func:`verifyModel` found.

    :ivar changed: files whose hash differs.
    :ivar missing: listed files that are absent.
    :ivar extra: files in the model that the manifest does not list.
    :ivar unsafe: links and special files in the model.
    :ivar manifestProblem: non-empty when the entry's tree hash does not match its own file hashes.
    """

    modelId: str
    root: pathlib.Path
    checked: int = 0
    changed: tuple[FileChange, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    unsafe: tuple[str, ...] = ()
    manifestProblem: str = ""

    @property
    def ok(self) -> bool:
        """Whether the model's files are exactly those the manifest records."""
        return not (self.changed or self.missing or self.extra or self.unsafe or self.manifestProblem)

    def lines(self) -> list[str]:
        """One line per problem (or one line saying all is well), for people."""
        if self.ok:
            return [f"{self.modelId}: OK ({self.checked} file(s) match the manifest) at {self.root}"]
        lines = [f"{self.modelId}: FAILED at {self.root}"]
        lines += [f"  changed  {c.path}: sha256 {c.actual}, manifest {c.expected}" for c in self.changed]
        lines += [f"  missing  {name}" for name in self.missing]
        lines += [f"  extra    {name} (not in the manifest)" for name in self.extra]
        lines += [f"  unsafe   {name} (a link or special file)" for name in self.unsafe]
        lines += [f"  manifest {self.manifestProblem}"] if self.manifestProblem else []
        lines.append("  Restore the model's files from its source, or import the source again under a new --id.")
        return lines


def verifyModel(entry: ModelEntry, root: pathlib.Path, progress: ProgressCallback | None = None) -> VerificationReport:
    """Compare the files at ``root`` (the model's folder or file) with ``entry.files``."""
    progress = progress or noProgress
    problem = (
        ""
        if treeDigest(entry.files) == entry.sha256
        else (f"tree hash {entry.sha256} does not match the listed files ({treeDigest(entry.files)})")
    )
    if root.is_symlink():
        return VerificationReport(
            entry.id, root, missing=tuple(sorted(entry.files)), unsafe=(root.name,), manifestProblem=problem
        )
    try:
        found, unsafe = scanTree(root)
    except InputError:
        found, unsafe = [], []
    present = set(found)
    changed, missing = [], []
    for index, name in enumerate(sorted(entry.files)):
        if name not in present:
            missing.append(name)
            continue
        actual = fileSha256(root / name if root.is_dir() else root)
        if actual != entry.files[name]:
            changed.append(FileChange(name, entry.files[name], actual))
        progress((index + 1) / len(entry.files), f"checked {name}")
    return VerificationReport(
        entry.id,
        root,
        checked=len(entry.files),
        changed=tuple(changed),
        missing=tuple(missing),
        extra=tuple(sorted(present - set(entry.files))),
        unsafe=tuple(unsafe),
        manifestProblem=problem,
    )


def requireIntact(entry: ModelEntry, root: pathlib.Path) -> None:
    """Refuse a model whose listed files differ from its manifest entry, before any of them is used.

    Files the entry does not list (an nnU-Net results folder's ``progress.png``, ``debug.json``) are never read
    (each file is checked again as it is opened), so they are only logged.

    :raises ModelError: listing every changed, missing or unsafe file (and the extra ones).
    """
    report = verifyModel(entry, pathlib.Path(root))
    if report.changed or report.missing or report.unsafe or report.manifestProblem:
        problems = "\n".join(report.lines()[1:])
        raise ModelError(
            f"Model '{entry.id}' at {root} does not match its manifest, so none of its files is used:\n"
            f"{problems}\nCheck with 'virtual-biopsy models verify {entry.id}'."
        )
    if report.extra:
        logger.info(
            "Model '%s' at %s holds %d file(s) its manifest does not list (never read): %s",
            entry.id,
            root,
            len(report.extra),
            ", ".join(report.extra[:5]),
        )
