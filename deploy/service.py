"""mlgov's governed BentoML service. Runs only inside the server process.

`bentoml serve mlgov.deploy.service:GovernedService` with MLGOV_SERVING_MANIFEST pointing at
a serving manifest. Per request, /predict: obeys the kill switch (status file, cached),
parses and validates the raw JSON body itself (BentoML's pydantic path, whose errors log the
input values, is never used), predicts with the pinned model, appends to the prediction log
and answers. No request value ever goes into a response or a log line.
"""

from __future__ import annotations

import hmac
import logging
import os
import uuid
from typing import Any, cast

import bentoml
from pydantic import ConfigDict, Field, create_model
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlgov.deploy.http_guard import RequestGuard
from mlgov.deploy.log_redaction import redact_server_logs
from mlgov.deploy.manifest import DEFAULT_MAX_BODY_BYTES, ServingManifest, read_manifest
from mlgov.deploy.model_runner import ModelRunner
from mlgov.deploy.openapi_doc import governed_openapi
from mlgov.deploy.prediction_log import PredictionLogWriter
from mlgov.deploy.service_env import MANIFEST_ENV, PROBE_TOKEN_ENV, WORKERS_ENV
from mlgov.deploy.status import StatusWatcher, refusal_reason
from mlgov.deploy.validation import RequestRejected, parse_json_body, validate_records
from mlgov.governance.errors import MlgovError

STATUS_REFRESH_SECONDS = 1.0
logger = logging.getLogger("mlgov.deploy.service")

_PY_TYPES: dict[str, Any] = {
    "double": float,
    "float": float,
    "long": int,
    "integer": int,
    "boolean": bool,
    "string": str,
}


def _manifest_from_env() -> ServingManifest | None:
    """The manifest, when this module is imported by a server (None at Bento build time)."""
    path = os.environ.get(MANIFEST_ENV)
    return read_manifest(path) if path else None


_MANIFEST = _manifest_from_env()


def _record_schema() -> Any:
    """A pydantic model of one record, for the OpenAPI document only (not for validation)."""
    if _MANIFEST is None:
        return dict[str, Any]
    fields: dict[str, Any] = {}
    for i, feature in enumerate(_MANIFEST.features):
        typ = _PY_TYPES[feature.type]
        # Aliases: a column may be named like a pydantic attribute ("model_config", "copy").
        fields[f"f{i}"] = (
            (typ, Field(alias=feature.name))
            if feature.required
            else (typ | None, Field(None, alias=feature.name))
        )
    return create_model(
        "Record", __config__=ConfigDict(extra="forbid", allow_inf_nan=False), **fields
    )


Record = _record_schema()


class PredictInput(bentoml.IODescriptor):
    """{"records": [...]}; the schema documents it, the handler validates the raw body."""

    records: list[Record]  # type: ignore[valid-type]

    @classmethod
    async def from_http_request(cls, request: Request, serde: Any) -> PredictInput:
        # Skip BentoML's serde entirely: whatever the media type says, the body stays bytes
        # here and is parsed as JSON by the handler (never unpickled, never form-decoded).
        body = await request.body()
        return cls.model_construct(records=body)


class PredictOutput(bentoml.IODescriptor):
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    model: str
    version: str
    request_id: str


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


class GovernedRuntime:
    """Everything the hot path needs, loaded once per worker."""

    probe_token: str | None = None

    def __init__(self, manifest: ServingManifest) -> None:
        self.manifest = manifest
        self.probe_token = os.environ.get(PROBE_TOKEN_ENV) or None
        self.runner: ModelRunner | None = None
        self.load_error: str | None = None
        try:
            self.runner = ModelRunner.load(manifest.bento_model_tag, manifest.features)
        except MlgovError as exc:
            # Stay up and say why: the launcher reads this from /metadata and fails fast,
            # instead of BentoML restarting a worker that can never start.
            self.load_error = exc.message
            logger.error("model failed to load: %s", exc.message)
        else:
            self.runner.warm_up()
        self.status = StatusWatcher(manifest.status_file, refresh_seconds=STATUS_REFRESH_SECONDS)
        self.log = PredictionLogWriter(
            manifest.prediction_log_dir, model=manifest.model, version=manifest.version
        )

    def refusal(self) -> str | None:
        if self.load_error is not None:
            return f"model failed to load: {self.load_error}"
        return refusal_reason(
            self.status.current(),
            version=self.manifest.version,
            bento_model_tag=self.manifest.bento_model_tag,
        )

    def predict(self, body: bytes) -> Response:
        reason = self.refusal()
        if reason is not None:
            return _json(503, {"error": reason})
        manifest = self.manifest
        try:
            payload = parse_json_body(body)
            probe = self._is_probe(payload)
            valid = validate_records(payload, manifest.features, max_records=manifest.max_records)
        except RequestRejected as exc:
            return _json(exc.status, {"error": exc.message})
        request_id = uuid.uuid4().hex
        assert self.runner is not None  # refusal() is not None without a runner
        try:
            result = self.runner.predict(valid.columns)
        except (ValueError, TypeError) as exc:
            # Well-typed values the model still refuses (e.g. a category unseen in training).
            # Its message may quote the values: log and return the exception type only.
            logger.warning("model refused input (%s) request_id=%s", type(exc).__name__, request_id)
            return _json(
                422,
                {
                    "error": f"the model could not score these records ({type(exc).__name__}): "
                    "check values against the model's training data",
                    "request_id": request_id,
                },
            )
        except Exception as exc:
            logger.error("prediction failed (%s) request_id=%s", type(exc).__name__, request_id)
            return _json(500, {"error": "the model failed to predict", "request_id": request_id})
        answer: dict[str, Any] = {
            "predictions": result.predictions,
            "model": manifest.model,
            "version": manifest.version,
            "request_id": request_id,
        }
        if result.probabilities is not None:
            answer["probabilities"] = result.probabilities
        try:
            # Rendered before logging: JSON has no NaN or infinity (nor lone surrogates), so a
            # model that outputs them (a regression on extreme inputs) gets a 422, not a 500.
            response = _json(200, answer, headers={"X-Request-ID": request_id})
        except ValueError:
            logger.warning("model output is not valid JSON request_id=%s", request_id)
            return _json(
                422,
                {
                    "error": "the model's output for these records cannot be sent as JSON "
                    "(NaN, infinity or invalid text): check values against the model's "
                    "training data",
                    "request_id": request_id,
                },
            )
        try:
            self.log.write(
                request_id=request_id,
                features=valid.columns,
                outputs=result.outputs,
                count=valid.count,
                probe=probe,
            )
        except OSError as exc:
            # No prediction leaves unlogged: monitoring and audit depend on the log.
            logger.error("prediction log write failed (%s) request_id=%s", exc.strerror, request_id)
            return _json(503, {"error": "prediction log unavailable", "request_id": request_id})
        return response

    def _is_probe(self, payload: Any) -> bool:
        """Takes a valid "probe" field out of the payload: mlgov's own check, still logged."""
        if not isinstance(payload, dict) or "probe" not in payload:
            return False
        given = payload.pop("probe")
        if (
            self.probe_token is None
            or not isinstance(given, str)
            or not hmac.compare_digest(
                given.encode("utf-8", "surrogatepass"), self.probe_token.encode()
            )
        ):
            raise RequestRejected("field 'probe' is reserved for mlgov's own health checks")
        return True

    def metadata(self) -> dict[str, Any]:
        manifest = self.manifest
        status = self.status.current()
        reason = self.refusal()
        return {
            "target": manifest.target,
            "model": manifest.model,
            "version": manifest.version,
            "stage": status.stage if status is not None else None,
            "status": status.to_dict() if status is not None else None,
            "serving": reason is None,
            "reason": reason,
            "load_error": self.load_error,
            "bento_model_tag": manifest.bento_model_tag,
            "bento_tag": manifest.bento_tag,
            "model_uri": manifest.model_uri,
            "fingerprint_digest": manifest.fingerprint_digest,
            "approvals": dict(manifest.approvals),
            "features": [{"name": f.name, "type": f.type} for f in manifest.features],
            "max_records": manifest.max_records,
            "max_body_bytes": manifest.max_body_bytes,
        }


_runtime: GovernedRuntime | None = None


async def _metadata_endpoint(request: Request) -> Response:
    if _runtime is None:
        return _json(503, {"error": "service is starting"})
    return _json(200, _runtime.metadata())


_openapi_document: dict[str, Any] | None = None


async def _openapi_endpoint(request: Request) -> Response:
    # Matched before BentoML's own /docs.json: mounted apps' routes come first.
    global _openapi_document
    if _MANIFEST is None:
        return _json(503, {"error": "service is starting"})
    if _openapi_document is None:
        _openapi_document = governed_openapi(
            _SERVICE.openapi_spec.asdict(),
            features=_MANIFEST.features,
            max_records=_MANIFEST.max_records,
            max_body_bytes=_MANIFEST.max_body_bytes,
        )
    return _json(200, _openapi_document)


metadata_app = Starlette(
    routes=[
        Route("/metadata", _metadata_endpoint, methods=["GET"]),
        Route("/docs.json", _openapi_endpoint, methods=["GET"]),
    ]
)


@bentoml.service(
    name="mlgov_governed",
    workers=int(os.environ.get(WORKERS_ENV, "1")),
    traffic={"timeout": 60},
    # The access log would print the request's Content-Type verbatim: client-controlled text.
    logging={"access": {"request_content_type": False}},
)
class GovernedService:
    def __init__(self) -> None:
        global _runtime
        redact_server_logs()
        if _MANIFEST is None:
            raise RuntimeError(f"{MANIFEST_ENV} is not set: start the server with mlgov serve")
        self.runtime = GovernedRuntime(_MANIFEST)
        _runtime = self.runtime
        logger.info(
            "serving %s version %s (%s) on target %s",
            _MANIFEST.model,
            _MANIFEST.version,
            _MANIFEST.bento_model_tag,
            _MANIFEST.target,
        )

    def __is_ready__(self) -> bool:
        return self.runtime.refusal() is None

    @bentoml.api(route="/predict", input_spec=PredictInput, output_spec=PredictOutput)
    def predict(self, records: bytes) -> Response:
        return self.runtime.predict(records)


# @bentoml.service made the class a bentoml.Service: mypy does not apply a class decorator's type.
_SERVICE = cast("bentoml.Service[GovernedService]", GovernedService)
_SERVICE.mount_asgi_app(metadata_app, path="/")
_SERVICE.add_asgi_middleware(
    RequestGuard,
    max_body_bytes=_MANIFEST.max_body_bytes if _MANIFEST else DEFAULT_MAX_BODY_BYTES,
)
