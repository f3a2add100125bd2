"""DICOM in and out: index and curate a hospital export (:mod:`.index`).

Reading headers needs the ``dicom`` extra (pydicom); it is imported only when a
function runs, never when :mod:`VirtualBiopsy` is imported.
"""
