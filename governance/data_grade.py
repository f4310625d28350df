"""Data grades (《银行保险机构数据安全管理办法》): core, important or general, and whether the data
is sensitive (personal information that harms a person when leaked).

A grade is recorded for the training data at registration and for each reference dataset;
the evidence pack's data-security rows are answered from these records and say "missing"
where none was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgov.governance.errors import BadInput

GRADES = ("core", "important", "general")


@dataclass(frozen=True)
class DataGrade:
    grade: str
    sensitive: bool

    def to_json(self) -> dict[str, Any]:
        return {"grade": self.grade, "sensitive": self.sensitive}


def parse_data_grade(grade: str | None, sensitive: bool | None, *, option: str) -> DataGrade | None:
    """The grade named by `option` (e.g. --data-grade); None when neither part was given.

    A sensitivity mark without a grade is refused: the regulation grades the data first, and
    a half-recorded grade would pass the pack's check on its sensitivity alone."""
    if grade is None:
        if sensitive is not None:
            raise BadInput(
                f"{option} is missing: a sensitivity mark needs the data grade with it",
                hint=f"add {option} {'|'.join(GRADES)}",
            )
        return None
    value = grade.strip().lower()
    if value not in GRADES:
        raise BadInput(
            f"{option} must be one of {', '.join(GRADES)} (core/important/general data)",
            hint=f"for example {option} important",
        )
    return DataGrade(value, bool(sensitive))
