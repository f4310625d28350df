"""Drift checks as governance records: run through the DriftChecker port, stored with their
reports, and read by the deploy gate's "drift" check."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance.clock import isoformat
from mlgov.governance.drift import DriftResult, DriftSpec, disagreements
from mlgov.governance.errors import BadInput, IllegalTransition, Refused
from mlgov.governance.findings import DRIFT, open_automatic
from mlgov.governance.fingerprints import file_sha256
from mlgov.governance.gates import Gates, MoveContext
from mlgov.governance.lifecycle import Stage
from mlgov.governance.references import SUFFIXES, check_columns_match, current_reference
from mlgov.governance.roles import Action
from mlgov.governance.tables import DriftRecord, ModelVersion

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

CHECK, MONITOR = "check", "monitor"
ROW_OVERLAP = "rows_shared_with_reference"
# A pre-deployment check must be made on data newer than the reference. Genuinely newer data
# shares rows with the reference about as often as the reference repeats its own rows (a row
# of the population matches one of the reference's n rows with the same chance whichever
# sample it comes from): nearly never for continuous features, often for a few categories.
# So a check is refused when more of its rows than that, plus a margin for sampling noise,
# and more than MAX_SHARED_ROW_SHARE, are rows of the reference. Constants until the policy
# has keys for them (helper A owns policy.py this round).
MAX_SHARED_ROW_SHARE = 0.2
SHARED_ROW_MARGIN = 0.1


def check_data_file(path: Path, what: str) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise BadInput(f"{what} {path} must be CSV or Parquet (.csv or .parquet)")
    if not path.is_file():
        raise BadInput(f"{what} {path} not found")


def record_view(r: DriftRecord, version: ModelVersion) -> dict[str, Any]:
    tests = r.columns.get("tests", [])
    return {
        "result_id": r.id,
        "model": version.model.name,
        "version": version.version,
        "purpose": r.purpose,
        "time": isoformat(r.created_at),
        "by": r.created_by,
        "engine": r.engine,
        "drift_detected": r.drift_detected,
        "drifted_share": r.drifted_share,
        "share_threshold": r.share_threshold,
        "drifted_columns": [t["column"] for t in tests if t["drifted"]],
        "health": r.health,
        "columns": tests,
        "quality": r.quality.get("findings", []),
        ROW_OVERLAP: r.quality.get(ROW_OVERLAP),
        "reference_sha256": r.reference_sha256,
        "reference_rows": r.reference_rows,
        "current_sha256": r.current_sha256,
        "current_rows": r.current_rows,
        "current_source": r.current_source,
        "sample": r.sample,
        "seed": r.seed,
        "report_html": r.report_html,
        "report_json": r.report_json,
        "window_start": isoformat(r.window_start) if r.window_start else None,
        "window_end": isoformat(r.window_end) if r.window_end else None,
    }


def _quality_record(result: DriftResult) -> dict[str, Any]:
    """The record's quality column: the findings, and how much of the current data is the
    reference's own rows (kept here: the reference-self check must not need a migration)."""
    quality: dict[str, Any] = {"findings": [q.__dict__ for q in result.quality]}
    if result.row_overlap is not None:
        quality[ROW_OVERLAP] = asdict(result.row_overlap)
    return quality


def _spec(
    gov: Governance, v: ModelVersion, kinds: dict[str, str], sample: int | None, seed: int | None
) -> DriftSpec:
    tier = gov.policy.for_tier(v.risk_tier)
    return DriftSpec(
        share_threshold=tier.drift_share,
        column_kinds=kinds,  # type: ignore[arg-type]
        per_column_method=dict(tier.drift_column_methods),
        per_column_threshold=dict(tier.drift_column_thresholds),
        sample=sample,
        seed=seed if seed is not None else (secrets.randbelow(2**31) if sample else 0),
    )


def run_check(
    gov: Governance,
    v: ModelVersion,
    reference: Path,
    kinds: dict[str, str],
    current: Path,
    *,
    sample: int | None,
    seed: int | None,
    engine: str | None,
    report_dir: Path,
    cross_check: bool = False,
) -> tuple[DriftResult, DriftSpec]:
    """Run the policy's engine outside any transaction (it can take a while). With
    `cross_check`, the other engine runs on the same data and any disagreement refuses."""
    if sample is not None and sample < 1:
        raise BadInput("--sample must be a positive number of rows")
    tier = gov.policy.for_tier(v.risk_tier)
    spec = _spec(gov, v, kinds, sample, seed)
    checker = gov.ports["drift"](engine or tier.drift_engine, tier.ignore_extra_columns)
    report_dir.mkdir(parents=True, exist_ok=True)
    result = checker.check(
        reference,
        current,
        spec,
        html_out=report_dir / "report.html",
        json_out=report_dir / "report.json",
    )
    if cross_check:
        other = "evidently" if result.engine != "evidently" else "fast"
        second = gov.ports["drift"](other, tier.ignore_extra_columns).check(
            reference, current, replace(spec)
        )
        differences = disagreements(result, second)
        if differences:
            raise Refused(
                f"cross-check failed: the {result.engine} and {second.engine} engines disagree "
                f"on {len(differences)} point(s): " + "; ".join(differences[:10]),
                hint="nothing was recorded",
            )
    return result, spec


def store_result(
    gov: Governance,
    s: Session,
    actor: str,
    v: ModelVersion,
    result: DriftResult,
    spec: DriftSpec,
    *,
    purpose: str,
    reference_sha256: str,
    current_sha256: str,
    current_source: str,
    report_dir: Path,
    health: str | None = None,
    window: tuple[Any, Any] | None = None,
) -> DriftRecord:
    """Insert the record, move its reports into place, log them to MLflow, audit it."""
    record = DriftRecord(
        version_id=v.id,
        created_at=gov.now(),
        created_by=actor,
        purpose=purpose,
        engine=result.engine,
        reference_sha256=reference_sha256,
        current_sha256=current_sha256,
        current_source=current_source,
        reference_rows=result.reference_rows,
        current_rows=result.current_rows,
        share_threshold=result.share_threshold,
        drifted_share=result.drifted_share,
        drift_detected=result.drift_detected,
        health=health,
        columns={"tests": [c.__dict__ for c in result.columns]},
        quality=_quality_record(result),
        sample=spec.sample,
        seed=spec.seed,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
    )
    s.add(record)
    s.flush()
    final = (
        gov.home_for("drift reports") / "reports" / v.model.name / v.version / f"drift-{record.id}"
    )
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(report_dir), final)
    files = [p for p in (final / "report.html", final / "report.json") if p.exists()]
    record.report_html = str(final / "report.html") if (final / "report.html").exists() else None
    record.report_json = str(final / "report.json") if (final / "report.json").exists() else None
    gov.touch(v)
    gov.audit(
        s,
        actor,
        f"drift.{purpose}",
        f"model:{v.label}",
        {
            "result_id": record.id,
            "engine": result.engine,
            "drift_detected": result.drift_detected,
            "drifted_share": result.drifted_share,
            "drifted_columns": list(result.drifted_columns),
            "current_sha256": current_sha256,
            "reference_sha256": reference_sha256,
            "current_rows": result.current_rows,
            "health": health,
            ROW_OVERLAP: record.quality.get(ROW_OVERLAP),
        },
    )
    registry = gov.ports.get("registry")
    if registry is not None and files:
        registry.log_artifacts(v.model.name, v.version, files, f"drift/{record.id}")
    return record


def record_drift(
    gov: Governance,
    actor: str,
    model: str,
    version: str,
    current: Path,
    *,
    reference: Path | None = None,
    html_out: Path | None = None,
    sample: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    cross_check: bool = False,
    overwrite_html: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`mlgov monitor drift`: compare a dataset with the version's reference and record it.
    An existing `html_out` is replaced only with `overwrite_html`."""
    check_data_file(current, "current data file")
    if reference is not None:
        check_data_file(reference, "reference file")
    if html_out is not None:
        check_html_out(html_out, overwrite_html, current, reference)
    # A --reference file is profiled as `models reference` profiles one: the engines need
    # each column's kind, which only a recorded reference carries.
    given = gov.ports["datasets"].describe(reference) if reference is not None else None
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.MONITOR)
        v = gov.version(s, model, version)
        if v.stage == Stage.RETIRE.value:
            raise IllegalTransition(f"{v.label} is retired: it is no longer monitored")
        ref = current_reference(s, v)
        if reference is None and ref is None:
            raise BadInput(
                f"{v.label} has no reference dataset",
                hint=f"record one with `mlgov models reference {model} {version} FILE`"
                " or pass --reference",
            )
        if given is not None:
            assert reference is not None  # given describes it
            check_columns_match(v, list(given.columns))
            ref_path, ref_sha, columns = Path(reference), given.sha256, given.columns
        else:
            assert ref is not None  # without --reference, a recorded one is required above
            ref_path, ref_sha, columns = Path(ref.path), ref.sha256, ref.columns
        kinds = {c: d["kind"] for c, d in columns.items()}
    if progress is not None:
        progress(f"checking drift of {current.name} against {v.label}'s reference...")
    staging = Path(tempfile.mkdtemp(prefix="drift-", dir=gov.home_for("drift reports") / "reports"))
    try:
        result, spec = run_check(
            gov,
            v,
            ref_path,
            kinds,
            current,
            sample=sample,
            seed=seed,
            engine=engine,
            report_dir=staging / "r",
            cross_check=cross_check,
        )
        with gov.store.transaction() as s:
            gov.authorize(s, actor, Action.MONITOR)
            v = gov.version(s, model, version, lock=True)
            record = store_result(
                gov,
                s,
                actor,
                v,
                result,
                spec,
                purpose=CHECK,
                reference_sha256=ref_sha,
                current_sha256=file_sha256(current),
                current_source=current.name,
                report_dir=staging / "r",
            )
            if result.drift_detected and v.stage == Stage.EVALUATE.value:
                # In production a drift breach is a finding, tracked to closure.
                open_automatic(
                    gov,
                    s,
                    actor,
                    v,
                    source=DRIFT,
                    severity="high",
                    title=f"drift breach in evaluation of {v.label}: "
                    f"{result.drifted_share:.0%} of columns drifted",
                    evidence={"drift_result_id": record.id, "drifted_share": result.drifted_share},
                )
            view = record_view(record, v)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if html_out is not None and view["report_html"]:
        shutil.copyfile(view["report_html"], html_out)
    return view


def check_html_out(html_out: Path, overwrite: bool, *inputs: Path | None) -> None:
    """Refused before any work: a report never silently replaces a file, nor ever the data."""
    if not html_out.parent.is_dir():
        raise BadInput(f"cannot write {html_out}: directory {html_out.parent} does not exist")
    if not (html_out.exists() or html_out.is_symlink()):
        return
    if not html_out.is_file():
        raise BadInput(f"--html {html_out} exists and is not a regular file")
    if any(p is not None and p.exists() and html_out.samefile(p) for p in inputs):
        raise BadInput(f"--html {html_out} is one of the data files being checked")
    if not overwrite:
        raise BadInput(
            f"--html {html_out} already exists",
            hint="give a new file name, or add --force to replace it",
        )


def history(gov: Governance, actor: str, model: str, version: str) -> list[dict[str, Any]]:
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.READ)
        v = gov.version(s, model, version)
        records = s.scalars(
            select(DriftRecord).where(DriftRecord.version_id == v.id).order_by(DriftRecord.id)
        )
        return [record_view(r, v) for r in records]


def latest(session: Session, version: ModelVersion, purpose: str) -> DriftRecord | None:
    return session.scalar(
        select(DriftRecord)
        .where(DriftRecord.version_id == version.id, DriftRecord.purpose == purpose)
        .order_by(DriftRecord.id.desc())
        .limit(1)
    )


def check_predeploy_drift(ctx: MoveContext) -> Iterator[str]:
    tier = ctx.tier_policy
    if not tier.predeploy_drift_required:
        return
    record = latest(ctx.session, ctx.version, CHECK)
    label = ctx.version.label.replace("/", " ")
    if record is None:
        yield (
            f"no pre-deployment drift check: run `mlgov monitor drift {label} --current FILE`"
            " on data newer than the reference"
        )
        return
    ref = current_reference(ctx.session, ctx.version)
    if ref is not None and (
        record.reference_sha256 != ref.sha256 or record.created_at < ref.created_at
    ):
        yield f"drift check {record.id} was made against another reference dataset: run it again"
    if ref is not None and record.current_sha256 == ref.sha256:
        yield f"drift check {record.id} compared the reference with itself: use newer data"
    elif ref is not None and record.reference_sha256 == ref.sha256:
        yield from _reference_rows_reused(record)
    age = ctx.now - record.created_at
    if age > timedelta(days=tier.predeploy_drift_max_age_days):
        yield (
            f"drift check {record.id} is {age.days} days old "
            f"(the policy allows {tier.predeploy_drift_max_age_days})"
        )
    if record.drift_detected:
        drifted = [t["column"] for t in record.columns.get("tests", []) if t["drifted"]]
        yield (
            f"drift check {record.id} detected drift in {', '.join(drifted) or 'the data'} "
            f"(share {record.drifted_share:.2f} >= {record.share_threshold:.2f})"
        )


def shared_row_limit(reference_duplicated_share: float) -> float:
    """The largest share of a check's rows that may be rows of the reference."""
    return min(1.0, max(MAX_SHARED_ROW_SHARE, reference_duplicated_share + SHARED_ROW_MARGIN))


def _reference_rows_reused(record: DriftRecord) -> Iterator[str]:
    overlap = record.quality.get(ROW_OVERLAP)
    if overlap is None:  # made by an engine that does not compare rows
        return
    if overlap["same_rows"]:
        yield (
            f"drift check {record.id} compared the reference with its own rows in another "
            "order: use newer data"
        )
        return
    limit = shared_row_limit(overlap["reference_duplicated_share"])
    if overlap["shared_share"] > limit:
        yield (
            f"drift check {record.id} compared the reference with data whose rows are "
            f"{overlap['shared_share']:.0%} the reference's own (at most {limit:.0%} allowed):"
            " use newer data"
        )


def drift_section(session: Session, version: ModelVersion) -> dict[str, Any] | None:
    record = latest(session, version, CHECK)
    if record is None:
        return None
    return {
        k: v
        for k, v in record_view(record, version).items()
        if k
        in (
            "result_id",
            "time",
            "engine",
            "drift_detected",
            "drifted_share",
            "drifted_columns",
            "current_sha256",
        )
    }


def register(gates: Gates) -> None:
    gates.add_check(Stage.DEPLOY, "drift", check_predeploy_drift)
