"""Files, the one home for them: a file, a file with companions, or a whole results folder appears complete under
its final name or not at all; outputs checked before the work; user images and tables read with their checks; path
confinement and extension checks; exclusive locks."""

from VirtualBiopsy.files.atomicFiles import (
    atomicOutput,
    finalPathsInErrors,
    makeTemporaryFile,
    makeTemporaryFolder,
    ordinaryFileMode,
    ordinaryFolderMode,
    sha256File,
    temporarySibling,
    writeImage,
    writeImageAtomically,
    writeTextAtomically,
)
from VirtualBiopsy.files.imageFiles import checkImageFile, readerComplaint, readImageFile
from VirtualBiopsy.files.locks import exclusiveLock
from VirtualBiopsy.files.outputChecks import MINIMUM_FREE_BYTES, checkOutputLocation, explainPathError
from VirtualBiopsy.files.outputFolders import requireNewFolder, stagedOutputFolder
from VirtualBiopsy.files.paths import PathConfinement, confinedPath, extensionOf, requireExisting, requireExtension
from VirtualBiopsy.files.tables import TableFormat, readTable

__all__ = [
    "checkImageFile",
    "readImageFile",
    "readerComplaint",
    "MINIMUM_FREE_BYTES",
    "PathConfinement",
    "TableFormat",
    "confinedPath",
    "readTable",
    "atomicOutput",
    "checkOutputLocation",
    "explainPathError",
    "finalPathsInErrors",
    "makeTemporaryFile",
    "makeTemporaryFolder",
    "ordinaryFileMode",
    "ordinaryFolderMode",
    "exclusiveLock",
    "extensionOf",
    "requireExisting",
    "requireExtension",
    "requireNewFolder",
    "sha256File",
    "stagedOutputFolder",
    "temporarySibling",
    "writeImage",
    "writeImageAtomically",
    "writeTextAtomically",
]
