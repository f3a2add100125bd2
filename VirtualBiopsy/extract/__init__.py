"""Extraction: radiomics and other quantitative features of a segmented tumour."""
