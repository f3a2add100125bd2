"""Data for tests and demos: the virtual cohort, public sample cases and cohort manifests.

- :mod:`.virtualCohort`: :func:`~.virtualCohort.generateCase`, :func:`~.virtualCohort.generateCohort`
  (seeded MR-like cases with tumours, site effects, ground truth and survival; the
  model is in :mod:`.anatomy`, :mod:`.tumour`, :mod:`.mrPhysics`, :mod:`.scanner`, :mod:`.survival`);
- :mod:`.sampleData`: :func:`~.sampleData.fetchSampleData` (pyradiomics' sample cases, through pip);
- :mod:`.manifest`: :func:`~.manifest.readManifest`, :func:`~.manifest.writeManifest`,
  :func:`~.manifest.readClinical`.
"""
