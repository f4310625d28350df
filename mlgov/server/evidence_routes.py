"""A version's evidence over HTTP: its card, its reference data set, drift checks on a
submitted file (and their Evidently reports), review acknowledgements and evidence packs."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from mlgov.api import Platform, errors
from mlgov.api import models as models_api
from mlgov.api import monitoring as monitoring_api
from mlgov.api import reports as reports_api
from mlgov.api.results import Result
from mlgov.server.deps import MAX_SEED, ROW_ID, AuthenticatedRoute, Body, Plat, Who
from mlgov.server.idempotency import Idem
from mlgov.server.uploads import data_suffix, received

router = APIRouter(route_class=AuthenticatedRoute)
# An upload's body: the file's bytes, CSV or Parquet (uploads.DATA_TYPES).
DATA_BODY = {
    "requestBody": {
        "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
        "required": True,
    }
}
VERSION = "/models/{model}/versions/{version}"


class CardRevision(Body):
    fields: dict[str, str] = Field(min_length=1)
    replace: bool = False


class ReviewAcknowledgement(Body):
    comment: str


@router.get(f"{VERSION}/card")
def show_card(p: Plat, who: Who, model: str, version: str) -> Any:
    return models_api.show_card(p, who, model, version).to_json()


@router.put(f"{VERSION}/card")
def write_card(p: Plat, who: Who, model: str, version: str, body: CardRevision, idem: Idem) -> Any:
    def work() -> Any:
        return models_api.write_card(
            p, who, model, version, fields=body.fields, replace=body.replace
        ).to_json()

    return idem.run(p, who, body, work)


async def _with_upload(
    request: Request, p: Platform, filename: str | None, use: Callable[[Path], Result]
) -> Any:
    """The body streamed to a file of its own, `use`d off the event loop, then removed."""
    settings = p.settings
    async with received(
        request,
        directory=settings.uploads_dir,
        limit=settings.max_upload_bytes,
        suffix=data_suffix(request),
        name=filename,
    ) as file:
        done = await run_in_threadpool(use, file)
    return done.to_json()


@router.put(
    f"{VERSION}/reference",
    openapi_extra=DATA_BODY,
)
async def record_reference(
    request: Request,
    p: Plat,
    who: Who,
    model: str,
    version: str,
    filename: str | None = None,
    data_grade: str | None = None,
    sensitive: bool | None = None,
) -> Any:
    """The body is the CSV (text/csv) or Parquet (application/vnd.apache.parquet) file;
    `data_grade` (core, important, general) and `sensitive` describe it."""
    return await _with_upload(
        request,
        p,
        filename,
        lambda file: models_api.record_reference(
            p, who, model, version, str(file), data_grade=data_grade, sensitive=sensitive
        ),
    )


@router.post(
    f"{VERSION}/drift-checks",
    status_code=201,
    openapi_extra=DATA_BODY,
)
async def check_drift(
    request: Request,
    p: Plat,
    who: Who,
    model: str,
    version: str,
    filename: str | None = None,
    sample: Annotated[int | None, Query(ge=1, le=MAX_SEED)] = None,
    seed: Annotated[int | None, Query(ge=0, le=MAX_SEED)] = None,
    engine: str | None = None,
    cross_check: bool = False,
) -> Any:
    """The body is the current data (CSV or Parquet), checked against the recorded reference."""

    def check(file: Path) -> Result:
        return monitoring_api.check_drift(
            p,
            who,
            model,
            version,
            file,
            sample=sample,
            seed=seed,
            engine=engine,
            cross_check=cross_check,
        )

    return await _with_upload(request, p, filename, check)


@router.post(
    "/targets/{target}/performance-checks",
    status_code=201,
    openapi_extra=DATA_BODY,
)
async def check_performance(
    request: Request,
    p: Plat,
    who: Who,
    target: str,
    filename: str | None = None,
    id_column: Annotated[str, Query(min_length=1, max_length=256)] = "prediction_id",
    label_column: Annotated[str, Query(min_length=1, max_length=256)] = "label",
    task: str | None = None,
) -> Any:
    """The body is the outcomes file (CSV or Parquet), joined to what the target served."""

    def check(file: Path) -> Result:
        return monitoring_api.check_performance(
            p, who, target, file, id_column=id_column, label_column=label_column, task=task
        )

    return await _with_upload(request, p, filename, check)


@router.get(
    f"{VERSION}/drift-checks/{{result_id}}/report",
    response_class=FileResponse,
    responses={200: {"description": "The Evidently report", "content": {"text/html": {}}}},
)
def drift_report(
    p: Plat, who: Who, model: str, version: str, result_id: Annotated[int, ROW_ID]
) -> FileResponse:
    """The check's Evidently HTML report, as a download: its scripts must not run with the
    server's origin (they would see the console's cookies), so it is sandboxed too."""
    checks = monitoring_api.drift_history(p, who, model, version).results
    found = next((c for c in checks if c.result_id == result_id), None)
    if found is None:
        raise errors.NotFound(f"{model}/{version} has no drift check {result_id}")
    if not found.report_html or not Path(found.report_html).is_file():
        raise errors.NotFound(f"drift check {result_id} of {model}/{version} kept no HTML report")
    return FileResponse(
        found.report_html,
        media_type="text/html",
        filename=f"drift-{model}-{version}-{result_id}.html",
        headers={
            "Content-Security-Policy": "sandbox allow-scripts",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post(f"{VERSION}/review-acknowledgements")
def acknowledge_review(
    p: Plat, who: Who, model: str, version: str, body: ReviewAcknowledgement, idem: Idem
) -> Any:
    def work() -> Any:
        return monitoring_api.acknowledge_review(
            p, who, model, version, comment=body.comment
        ).to_json()

    return idem.run(p, who, body, work)


@router.post(
    f"{VERSION}/evidence-packs",
    response_class=FileResponse,
    responses={200: {"description": "The evidence pack", "content": {"application/zip": {}}}},
)
def evidence_pack(
    p: Plat,
    who: Who,
    model: str,
    version: str,
    lang: Annotated[str, Query(max_length=20)] = "en",
    pdf: bool = False,
) -> FileResponse:
    """Build the version's evidence pack (its export audited) and answer it as a zip; the
    headers name the manifest's SHA-256 and the audit event of the export."""
    settings = p.settings
    # The names go into a folder's name: only those of a version that exists (the core's
    # name rule, 404 otherwise), never a 5,000-character path parameter (OSError, 500).
    models_api.show(p, who, model, version)
    settings.uploads_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pack-", dir=settings.uploads_dir))
    try:
        name = f"evidence-{model}-{version}"
        pack = reports_api.create_report(p, who, model, version, work / name, lang=lang, pdf=pdf)
        archive = shutil.make_archive(str(work / name), "zip", root_dir=work, base_dir=name)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{name}.zip",
        headers={
            "X-Mlgov-Manifest-Sha256": pack.manifest_sha256,
            "X-Mlgov-Export-Event": str(pack.export_event_seq),
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
