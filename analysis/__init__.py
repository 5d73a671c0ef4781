"""The formulas: every normalization and score lives here once; plots only draw what this computes."""
