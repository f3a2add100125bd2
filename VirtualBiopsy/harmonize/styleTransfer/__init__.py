"""Deep style transfer between MR domains (sites, field strengths) with a slice-wise 2D CycleGAN.

torch is imported only by the modules that build or run networks (:mod:`.networks`,
:mod:`.training`, :mod:`.application`); importing this package does not import it.
"""
