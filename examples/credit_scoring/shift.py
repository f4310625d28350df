"""Applicant batches for monitoring: today's population, and a population that changed."""

from __future__ import annotations

import pandas as pd

# Even two random halves of this data differ in about 4 of 20 attributes by Evidently's
# chi-square test (a goodness-of-fit against the reference's proportions), so a moderate
# change of 3 attributes lands near a 0.35 share (the policy's warning band, 0.25 to 0.5) and
# a strong one of 12 far above 0.5 (breach).
MODERATE = {
    "age_in_years": lambda s: s + 25,
    "credit_amount": lambda s: s * 3,
    "duration_in_month": lambda s: s + 24,
}
STRONG = {
    **MODERATE,
    "purpose": lambda s: s.map(lambda _: "business"),
    "housing": lambda s: s.map(lambda _: "for free"),
    "job": lambda s: s.map(lambda _: "unemployed/ unskilled - non-resident"),
    "savings_account_and_bonds": lambda s: s.map(lambda _: "... >= 1000 DM"),
    "status_of_existing_checking_account": lambda s: s.map(
        lambda _: "... >= 200 DM / salary assignments for at least 1 year"
    ),
    "present_employment_since": lambda s: s.map(lambda _: "unemployed"),
    "property": lambda s: s.map(lambda _: "unknown / no property"),
    "credit_history": lambda s: s.map(lambda _: "no credits taken/ all credits paid back duly"),
    "installment_rate_in_percentage_of_disposable_income": lambda s: s.map(lambda _: 1),
}


def shifted(applicants: pd.DataFrame, change: dict) -> pd.DataFrame:
    out = applicants.copy()
    for column, fn in change.items():
        out[column] = fn(out[column])
    return out
