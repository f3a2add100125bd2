"""Segmentation: tumour masks for the clinician to review in the Segment Editor."""
