"""Writing files safely, the one home for it: a file, a file with companions, or a whole results folder appears
complete under its final name or not at all; path and extension checks; exclusive locks."""

from VirtualBiopsy.files.atomicFiles import (
    atomicOutput,
    sha256File,
    temporarySibling,
    writeImageAtomically,
    writeTextAtomically,
)
from VirtualBiopsy.files.locks import exclusiveLock
from VirtualBiopsy.files.outputFolders import requireNewFolder, stagedOutputFolder
from VirtualBiopsy.files.paths import PathConfinement, confinedPath, extensionOf, requireExisting, requireExtension
from VirtualBiopsy.files.tables import TableFormat, readTable

__all__ = [
    "PathConfinement",
    "TableFormat",
    "confinedPath",
    "readTable",
    "atomicOutput",
    "exclusiveLock",
    "extensionOf",
    "requireExisting",
    "requireExtension",
    "requireNewFolder",
    "sha256File",
    "stagedOutputFolder",
    "temporarySibling",
    "writeImageAtomically",
    "writeTextAtomically",
]
