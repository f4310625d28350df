"""Applicant batches for monitoring: today's population, and a population that changed."""

from __future__ import annotations

import pandas as pd

# A moderate change touches 6 of 20 attributes (share 0.3: the policy's warning level);
# a strong one 12 (share 0.6: breach).
MODERATE = {
    "age_in_years": lambda s: s + 25,
    "credit_amount": lambda s: s * 3,
    "duration_in_month": lambda s: s + 24,
    "purpose": lambda s: s.map(lambda _: "business"),
    "housing": lambda s: s.map(lambda _: "for free"),
    "job": lambda s: s.map(lambda _: "unemployed/ unskilled - non-resident"),
}
STRONG = {
    **MODERATE,
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
