"""De-identification of DICOM files: the PS3.15 Basic Application Level Confidentiality Profile with options.

:func:`.folder.deidentifyFolder` de-identifies a folder tree (``virtual-biopsy dicom deidentify``);
:func:`.dataset.deidentifyDataset` one pydicom dataset. The profile's table is data (:mod:`.profile`), the keyed
pseudonyms are in :mod:`.pseudonyms`, the key file in :mod:`.keyFile`. See ``docs/dicom-deidentify.md``.
"""
