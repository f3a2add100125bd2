"""Headless runs over a cohort of patients."""
