"""File-name checks: extensions (double ones such as ``.nii.gz`` included), existing paths, and the confinement
of a manifest's paths to its folder (:class:`PathConfinement`, :func:`confinedPath`)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from VirtualBiopsy.errors import InputError

#: Extensions made of two suffixes, checked before the single ones.
_DOUBLE_EXTENSIONS = (".nii.gz", ".seg.nrrd", ".seg.nhdr", ".schema.csv", ".schema.tsv")


def extensionOf(path: pathlib.Path) -> str:
    """The lower-case file extension, keeping double ones such as ``.nii.gz`` and ``.seg.nrrd``."""
    name = path.name.lower()
    for extension in _DOUBLE_EXTENSIONS:
        if name.endswith(extension):
            return extension
    return path.suffix.lower()


def requireExisting(path: str | os.PathLike, what: str) -> pathlib.Path:
    """Return ``path`` as an absolute :class:`pathlib.Path`, or raise :class:`InputError` if it does not exist."""
    path = pathlib.Path(path).expanduser().absolute()
    if not path.exists():
        raise InputError(f"The {what} was not found: {path}. Check the path (and that the folder is mounted).")
    return path


def requireExtension(path: pathlib.Path, supported: Iterable[str], what: str) -> str:
    """Return the extension of ``path`` or raise :class:`InputError` listing the ``supported`` ones."""
    extension = extensionOf(path)
    supported = list(supported)
    if extension not in supported:
        shown = extension or "no extension"
        raise InputError(
            f"Cannot use {path} as a {what}: '{shown}' is not supported. Supported extensions: {', '.join(supported)}."
        )
    return extension


@dataclass(frozen=True)
class PathConfinement:
    """Where the paths of a manifest may lead: inside the manifest's folder or a data root, unless allowed anywhere.

    A cell is resolved against the folder (``..`` and every symbolic link followed, :meth:`pathlib.Path.resolve`)
    and refused when the target lies outside, before anything at that path is opened.

    :ivar folder: the manifest's folder (resolved).
    :ivar dataRoots: further folders the paths may lead into (resolved).
    :ivar allowOutside: accept any path (the user trusts the manifest: ``--allow-outside-paths``).
    """

    folder: pathlib.Path
    dataRoots: tuple[pathlib.Path, ...] = ()
    allowOutside: bool = False

    @classmethod
    def of(
        cls,
        folder: str | os.PathLike,
        dataRoots: Iterable[str | os.PathLike] = (),
        allowOutside: bool = False,
    ) -> PathConfinement:
        """The confinement of a manifest in ``folder``.

        :raises InputError: for a data root that is not an existing folder.
        """
        roots = []
        for root in dataRoots:
            resolved = pathlib.Path(root).expanduser().resolve()
            if not resolved.is_dir():
                raise InputError(
                    f"The data root {root} is not an existing folder (resolves to {resolved}); give the folder "
                    "that holds the manifest's images with --data-root DIR."
                )
            roots.append(resolved)
        return cls(pathlib.Path(folder).expanduser().resolve(), tuple(dict.fromkeys(roots)), allowOutside)

    def toDict(self) -> dict[str, Any]:
        """Where the paths were allowed to lead, as recorded in provenance."""
        return {"dataRoots": [str(root) for root in self.dataRoots], "allowOutsidePaths": self.allowOutside}

    def resolve(self, cell: str) -> pathlib.Path:
        """The absolute target of a path cell (relative to :attr:`folder`), with ``..`` and links resolved.

        :raises InputError: for a cell that cannot be resolved (a link loop, a NUL character).
        """
        text = cell.replace("\\", "/") if os.sep == "/" else cell
        try:
            candidate = pathlib.Path(text).expanduser()
            return (candidate if candidate.is_absolute() else self.folder / candidate).resolve()
        except (OSError, RuntimeError, ValueError) as error:
            raise InputError(
                f"The path '{cell}' cannot be resolved ({error}); fix the cell or the symbolic link it names."
            ) from error

    def allows(self, resolved: pathlib.Path) -> bool:
        """Whether a resolved path may be opened."""
        return self.allowOutside or any(resolved.is_relative_to(root) for root in (self.folder, *self.dataRoots))

    def places(self) -> str:
        """Where paths may lead, for messages."""
        roots = f" or the data root(s) {', '.join(map(str, self.dataRoots))}" if self.dataRoots else ""
        return f"the manifest's folder {self.folder}{roots}"

    def fix(self) -> str:
        """Both ways out, for messages."""
        return (
            f"Move the file(s) into {self.folder} or name the folder that holds them with --data-root DIR "
            "(dataRoots= in Python), or, if you trust every path of this manifest, pass --allow-outside-paths "
            "(allowOutsidePaths=True)."
        )

    def refusal(self, where: str, cell: str, resolved: pathlib.Path) -> str:
        """The message for one refused cell: where it is, the cell, its target and both fixes."""
        return (
            f"{where}: the path '{cell}' resolves to {resolved}, outside {self.places()}; it was not opened. "
            + self.fix()
        )

    def confined(self, cell: str, where: str) -> pathlib.Path:
        """The resolved target of ``cell``.

        :param where: the file, line and column of the cell, for the message.
        :raises InputError: when the target lies outside (nothing is opened).
        """
        resolved = self.resolve(cell)
        if not self.allows(resolved):
            raise InputError(self.refusal(where, cell, resolved))
        return resolved


def confinedPath(
    cell: str,
    root: str | os.PathLike,
    dataRoots: Iterable[str | os.PathLike] = (),
    allowOutside: bool = False,
    where: str = "A manifest cell",
) -> pathlib.Path:
    """Resolve a manifest's path cell against its folder ``root`` and refuse it when it leads outside ``root`` and
    ``dataRoots`` (see :class:`PathConfinement`).

    :raises InputError: naming ``where``, the cell, its resolved target and the fixes.
    """
    return PathConfinement.of(root, dataRoots, allowOutside).confined(cell, where)
