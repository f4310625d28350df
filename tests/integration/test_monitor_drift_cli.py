"""Issue 6 acceptance through `mlgov monitor drift` with real Evidently and the fast engine.

Data: sklearn's bundled breast-cancer features, split 75/25 (seed 0). The 25% holdout is the
same population as the reference (no column drifts: every K-S p-value is above 0.14); the
shifted file moves two features by three reference standard deviations (K-S p-values near
zero). The session policy makes 2 of 30 drifted columns dataset drift (share 0.05).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

MODEL = "biopsy"
SHIFTED = ("mean radius", "worst texture")
ENGINES = ("evidently", "fast")
PRIVATE = "ZZ-PRIVATE-7731"  # a cell value that must never reach an error message


@pytest.fixture(scope="module")
def versions(home) -> dict[str, str]:
    """biopsy/1 with its reference recorded; biopsy/2 without a reference."""
    return {
        "with_reference": home.new_version(MODEL),
        "without_reference": home.new_version(MODEL, reference=False),
    }


@pytest.fixture(scope="module")
def data_files(home) -> dict[str, Path]:
    reference, current = home.data["reference"], home.data["current"]
    folder = home.files / "drift-cli"
    folder.mkdir()
    shifted = current.copy()
    for column in SHIFTED:
        shifted[column] = shifted[column] + 3 * reference[column].std()
    shifted.to_csv(folder / "shifted.csv", index=False)
    return {"same": home.files / "cur.csv", "shifted": folder / "shifted.csv", "dir": folder}


@pytest.fixture(scope="module")
def checks(home, versions, data_files) -> dict[tuple[str, str], dict[str, Any]]:
    """`mlgov monitor drift --format json` per (data, engine); shifted runs also write --html."""
    version = versions["with_reference"]
    outputs = {}
    for data in ("same", "shifted"):
        for engine in ENGINES:
            args = ["--current", str(data_files[data]), "--engine", engine]
            if data == "shifted":
                args += ["--html", str(data_files["dir"] / f"{engine}.html")]
            outputs[data, engine] = home.json("eve", "monitor", "drift", MODEL, version, *args)
    return outputs


def _drifted(output: dict[str, Any]) -> set[str]:
    return {c["column"] for c in output["columns"] if c["drifted"]}


@pytest.mark.parametrize("engine", ENGINES)
def test_same_distribution_is_not_drift(checks, home, engine: str) -> None:
    out = checks["same", engine]
    assert {"drift_detected", "drifted_share", "columns", "result_id"} <= out.keys()
    assert out["drift_detected"] is False
    assert out["drifted_share"] == 0.0
    assert _drifted(out) == set()
    assert sorted(c["column"] for c in out["columns"]) == sorted(home.data["reference"].columns)
    assert out["engine"] == engine


@pytest.mark.parametrize("engine", ENGINES)
def test_two_shifted_features_are_drift_naming_exactly_them(checks, engine: str) -> None:
    out = checks["shifted", engine]
    assert out["drift_detected"] is True
    assert _drifted(out) == set(SHIFTED)
    assert out["drifted_share"] == pytest.approx(2 / 30)
    assert sorted(out["drifted_columns"]) == sorted(SHIFTED)


def test_both_engines_take_the_same_decisions(checks) -> None:
    for data in ("same", "shifted"):
        evidently, fast = checks[data, "evidently"], checks[data, "fast"]
        assert evidently["drift_detected"] == fast["drift_detected"]
        assert evidently["drifted_share"] == pytest.approx(fast["drifted_share"])
        by_column = {c["column"]: c for c in fast["columns"]}
        for column in evidently["columns"]:
            other = by_column[column["column"]]
            assert (column["test"], column["drifted"]) == (other["test"], other["drifted"])
            assert column["score"] == pytest.approx(other["score"], abs=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_reference_file_given_on_the_command_line_decides_like_the_recorded_one(
    checks, home, versions, data_files, engine: str
) -> None:
    given = data_files["dir"] / "given-reference.csv"
    home.data["reference"].to_csv(given, index=False)
    out = home.json(
        "eve", "monitor", "drift", MODEL, versions["with_reference"],
        "--current", str(data_files["shifted"]), "--reference", str(given), "--engine", engine,
    )  # fmt: skip
    recorded = checks["shifted", engine]
    assert out["drift_detected"] is True and _drifted(out) == set(SHIFTED)
    assert out["drifted_share"] == pytest.approx(recorded["drifted_share"])


def test_history_holds_each_result_as_printed(checks, home, versions) -> None:
    history = home.json("aud", "monitor", "history", MODEL, versions["with_reference"])
    stored = {r["result_id"]: r for r in history}
    for out in checks.values():
        record = stored[out["result_id"]]
        for key in ("drift_detected", "drifted_share", "columns", "engine", "current_sha256"):
            assert record[key] == out[key], key
        reference, current = home.data["reference"], home.data["current"]
        assert (record["reference_rows"], record["current_rows"]) == (len(reference), len(current))


def _download_reports(home, run_id: str, folder: str, into: Path) -> dict[str, Path]:
    from mlflow.artifacts import download_artifacts

    local = Path(
        download_artifacts(
            artifact_uri=f"runs:/{run_id}/{folder}",
            dst_path=str(into),
            tracking_uri=home.tracking_uri,
        )
    )
    return {p.name: p for p in local.iterdir()}


def _evidently_view(report: dict[str, Any]) -> dict[str, Any]:
    """Share, per-column scores and verdicts, read straight from Evidently's snapshot JSON."""
    share = next(
        m["value"]["share"]
        for m in report["metrics"]
        if m["config"]["type"].endswith("DriftedColumnsCount")
    )
    scores = {
        m["config"]["column"]: m["value"]
        for m in report["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    share_test = next(t for t in report["tests"] if t["id"] == "lt")
    column_tests = {
        t["metric_config"]["params"]["column"]: t["status"]
        for t in report["tests"]
        if t["id"] == "drift"
    }
    return {
        "drifted_share": share,
        "drift_detected": share_test["status"] == "FAIL",
        "scores": scores,
        "drifted": {c for c, status in column_tests.items() if status == "FAIL"},
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_mlflow_artifacts_and_html_agree_with_the_output(
    checks, home, versions, data_files, engine: str
) -> None:
    version = versions["with_reference"]
    run_id = home.json("aud", "models", "show", MODEL, version)["run_id"]
    with tempfile.TemporaryDirectory() as tmp:
        for data in ("same", "shifted"):
            out = checks[data, engine]
            folder = f"mlgov/{MODEL}/v{version}/drift/{out['result_id']}"
            files = _download_reports(home, run_id, folder, Path(tmp) / data)
            assert set(files) == {"report.html", "report.json"}
            html = files["report.html"].read_bytes()
            assert html == Path(out["report_html"]).read_bytes()
            assert b"<html" in html[:2000].lower()
            if data == "shifted":
                assert html == (data_files["dir"] / f"{engine}.html").read_bytes()
            report = json.loads(files["report.json"].read_text())
            assert report == json.loads(Path(out["report_json"]).read_text())
            if engine == "fast":
                assert report["drift_detected"] == out["drift_detected"]
                assert report["drifted_share"] == pytest.approx(out["drifted_share"])
                assert report["columns"] == out["columns"]
            else:
                view = _evidently_view(report)
                assert view["drift_detected"] == out["drift_detected"]
                assert view["drifted_share"] == pytest.approx(out["drifted_share"])
                assert view["drifted"] == _drifted(out)
                assert view["scores"] == {c["column"]: c["score"] for c in out["columns"]}


# --- bad input ---------------------------------------------------------------------------


def _bad_file(case: str, folder: Path, current) -> tuple[Path, str | None]:
    """The file for one bad-input case and a word its error must name (None: any)."""
    frame = current.copy()
    if case == "missing file":
        return folder / "no-such-file.csv", "no-such-file.csv"
    if case == "unknown format":
        path = folder / "current.txt"
        frame.to_csv(path, index=False)
        return path, ".txt"
    if case == "empty file":
        path = folder / "empty.csv"
        path.write_bytes(b"")
        return path, "empty"
    if case == "header only":
        path = folder / "header-only.csv"
        frame.head(0).to_csv(path, index=False)
        return path, "no rows"
    if case == "missing column":
        path = folder / "missing-column.csv"
        frame.drop(columns=["mean area"]).to_csv(path, index=False)
        return path, "mean area"
    if case == "extra column":
        path = folder / "extra-column.csv"
        frame.assign(applicant_id=range(len(frame))).to_csv(path, index=False)
        return path, "applicant_id"
    if case == "text in a numeric column":
        path = folder / "text-in-numeric.csv"
        frame["mean radius"] = frame["mean radius"].astype(object)
        frame.loc[frame.index[3], "mean radius"] = PRIVATE
        frame.to_csv(path, index=False)
        return path, "mean radius"
    if case == "all-empty column":
        path = folder / "empty-column.csv"
        frame["mean texture"] = math.nan
        frame.to_csv(path, index=False)
        return path, "mean texture"
    raise ValueError(case)


BAD_CASES = [
    "missing file",
    "unknown format",
    "empty file",
    "header only",
    "missing column",
    "extra column",
    "text in a numeric column",
    "all-empty column",
    "version without reference",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_exits_2_with_one_line_and_stores_nothing(
    case: str, home, versions, data_files
) -> None:
    folder = data_files["dir"] / "bad"
    folder.mkdir(exist_ok=True)
    if case == "version without reference":
        version, path, named = versions["without_reference"], data_files["same"], "reference"
    else:
        version = versions["with_reference"]
        path, named = _bad_file(case, folder, home.data["current"])
    db_before = home.table_dump()
    reports_before = sorted(p.relative_to(home.root) for p in (home.root / "reports").rglob("*"))

    result = home.cli(
        "eve", "monitor", "drift", MODEL, version, "--current", str(path), "--format", "json",
        expect=None,
    )  # fmt: skip

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlgov: error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    assert "Traceback" not in result.output
    assert PRIVATE not in result.output
    if named:
        assert named in errors[0]
    assert home.table_dump() == db_before
    reports_after = sorted(p.relative_to(home.root) for p in (home.root / "reports").rglob("*"))
    assert reports_after == reports_before
