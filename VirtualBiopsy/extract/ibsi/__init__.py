"""IBSI 1 conformance: reference values, pyradiomics ⇄ IBSI feature names, pass counts."""
