"""ModelRegistry over MLflow 3: register versions with lineage, mirror governed state, read it back.

Every MLflow call goes through one MlflowClient bound to this instance's URIs. MLflow is
imported lazily (inside methods) so importing this module stays cheap for the CLI.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgov.governance.errors import BadInput, ExternalError, MlgovError, NotFound, Refused
from mlgov.governance.operations import OP_TAG
from mlgov.governance.ports import (
    RUN_ACTIVE,
    RUN_DELETED,
    RUN_MISSING,
    RegisteredVersion,
    RegistryModelState,
    RegistryVersionState,
)
from mlgov.registry import lineage
from mlgov.registry.artifacts import local_artifacts
from mlgov.registry.datasets import reference_dataset_input
from mlgov.registry.fingerprint import hash_tree
from mlgov.registry.locations import as_artifact_uri, default_artifact_location
from mlgov.registry.mlflow_env import apply_env_defaults, global_tracking_uri
from mlgov.registry.mlflow_errors import error_code_of, mlflow_errors, reason_of
from mlgov.registry.names import (
    filter_literal,
    parse_source_uri,
    redact_uri,
    validate_alias,
    validate_model_name,
    validate_run_id,
    validate_version,
)
from mlgov.registry.reachability import check_reachable
from mlgov.registry.tags import (
    CARD_ARTIFACT,
    CARD_TAG_PREFIX,
    CREATED_TAG,
    card_tags,
    validate_tag,
    version_artifact_dir,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_LOGGED_MODEL_NAME = "model"
REFERENCE_SUFFIXES = frozenset({".csv", ".parquet", ".pq"})
_PAGE = 1000
PROMPT_TAG = "mlflow.prompt.is_prompt"  # MLflow prompts are registered models with this tag
CREATE_WAIT_S = 60.0


@dataclass(frozen=True)
class _Source:
    """What a new version is created from (or which existing version is adopted)."""

    uri: str  # what create_model_version receives as `source`
    storage: str  # where the files are, for hashing
    run_id: str | None
    model_id: str | None = None
    adopt_version: str | None = None  # set when an existing version is adopted as is


class MlflowRegistry:
    """mlgov's ModelRegistry port over an MLflow tracking/registry store.

    tracking_uri: sqlite:///... (embedded) or http(s)://... (an `mlflow server`).
    artifact_location: where experiments created through this registry keep artifacts in
    embedded mode; by default beside the SQLite database, never ./mlruns.
    """

    def __init__(
        self,
        tracking_uri: str,
        artifact_location: str | None = None,
        *,
        registry_uri: str | None = None,
    ) -> None:
        if not tracking_uri or not isinstance(tracking_uri, str):
            raise BadInput("MLflow tracking URI is empty: set MLFLOW_TRACKING_URI")
        # Before the first client call: MLflow reads these per request.
        apply_env_defaults()
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_location = (
            as_artifact_uri(artifact_location)
            if artifact_location
            else default_artifact_location(tracking_uri)
        )
        self.shown_uri = redact_uri(tracking_uri)
        self._client: MlflowClient | None = None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
            )
        return self._client

    @property
    def _writer(self) -> Any:
        """Tag and alias writes without MlflowClient's per-write prompt check.

        MlflowClient.set_model_version_tag / set_registered_model_alias first call
        get_registered_model, which loads every version of the model (measured: ~10 ms per
        write at 500 versions against <1 ms for the write itself). mirror() reads the version
        once and does that check itself.
        """
        registry_client = getattr(self.client, "_get_registry_client", None)
        return registry_client() if registry_client is not None else self.client

    @property
    def embedded(self) -> bool:
        return not self.registry_uri.startswith(("http://", "https://", "databricks"))

    def _errors(self, action: str, *, not_found: str | None = None) -> Any:
        return mlflow_errors(action, self.shown_uri, not_found=not_found)

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Fast probe: ExternalError naming the URI when the tracking server does not answer."""
        check_reachable(self.tracking_uri, timeout)

    def ensure_experiment(self, name: str) -> str:
        """Id of experiment `name`, created with this registry's artifact location if missing."""
        with self._errors(f"find or create experiment '{name}'"):
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            location = None
            if self.artifact_location:
                location = f"{self.artifact_location.rstrip('/')}/{_safe_segment(name)}"
            return self.client.create_experiment(name, artifact_location=location)

    # -- register ---------------------------------------------------------------------------

    def register(
        self,
        model: str,
        *,
        run_id: str | None = None,
        model_uri: str | None = None,
        artifact_path: str | None = None,
        op_id: str | None = None,
    ) -> RegisteredVersion:
        """Create (or adopt) an MLflow version of `model` and return its lineage and fingerprint.

        Exactly one of run_id / model_uri. On any failure nothing created here is left behind.
        `op_id`: the registration's operation; a version created here carries it as the tag
        `mlgov.op_id` from its first moment, so after a crash reconcile finds it.
        """
        validate_model_name(model)
        if (run_id is None) == (model_uri is None):
            raise BadInput("give exactly one of a run id or a model URI")
        if artifact_path is not None and model_uri is not None:
            raise BadInput("an artifact path goes with a run id; a model URI already names one")
        if run_id is not None:
            run_id = validate_run_id(run_id)

        action = f"register model '{model}'"
        with self._errors(action):
            run = self._get_run(run_id) if run_id else None
            source = self._resolve_source(model, run, model_uri, artifact_path)
            if source.adopt_version is not None:
                version, created = source.adopt_version, False
            else:
                version, created = self._create_version(model, source, op_id), True
        try:
            with self._errors(action):
                if run is None and source.run_id:
                    run = self._get_run(source.run_id)
                return self._describe(model, version, source, run, created)
        except BaseException as exc:
            if created:
                self._undo_create(model, version, exc)
            raise

    def _get_run(self, run_id: str) -> Any:
        with self._errors(
            f"read run '{run_id}'",
            not_found=f"run '{run_id}' does not exist at MLflow {self.shown_uri}",
        ):
            run = self.client.get_run(run_id)
        if run.info.lifecycle_stage == "deleted":
            raise NotFound(f"run '{run_id}' is deleted at MLflow {self.shown_uri}")
        return run

    def _resolve_source(
        self, model: str, run: Any, model_uri: str | None, artifact_path: str | None
    ) -> _Source:
        if run is not None:
            return self._source_from_run(run, artifact_path)
        assert model_uri is not None
        parsed = parse_source_uri(model_uri)
        if parsed.kind == "run":
            run = self._get_run(parsed.run_id or "")
            return self._source_from_run(run, parsed.path)
        if parsed.kind == "logged_model":
            logged = self._get_logged_model(parsed.model_id or "")
            return _Source(
                uri=f"models:/{logged.model_id}",
                storage=logged.artifact_location,
                run_id=logged.source_run_id,
                model_id=logged.model_id,
            )
        existing = self._existing_version(parsed.name or "", parsed.version, parsed.alias)
        if existing.name == model:
            return _Source(
                uri=existing.source,
                storage=self._download_uri(model, existing.version),
                run_id=existing.run_id,
                adopt_version=str(existing.version),
            )
        # Another registered model's version: a new version of `model` from the same files.
        return _Source(
            uri=existing.source,
            storage=self._download_uri(existing.name, existing.version),
            run_id=existing.run_id,
            model_id=_logged_model_id(existing.source),
        )

    def _existing_version(self, name: str, version: str | None, alias: str | None) -> Any:
        shown = f"models:/{name}/{version}" if version else f"models:/{name}@{alias}"
        with self._errors(
            f"read {shown}", not_found=f"{shown} does not exist at MLflow {self.shown_uri}"
        ):
            if version is not None:
                return self.client.get_model_version(name, version)
            return self.client.get_model_version_by_alias(name, alias or "")

    def _get_logged_model(self, model_id: str) -> Any:
        with self._errors(
            f"read logged model '{model_id}'",
            not_found=f"logged model models:/{model_id} does not exist at MLflow {self.shown_uri}",
        ):
            logged = self.client.get_logged_model(model_id)
        _require_ready(logged)
        return logged

    def _source_from_run(self, run: Any, artifact_path: str | None) -> _Source:
        run_id = run.info.run_id
        with self._errors(f"list the logged models of run '{run_id}'"):
            logged = self._logged_models_of_run(run)
        chosen = _pick_logged_model(run_id, logged, artifact_path)
        if chosen is not None:
            _require_ready(chosen)
            return _Source(
                uri=f"models:/{chosen.model_id}",
                storage=chosen.artifact_location,
                run_id=run_id,
                model_id=chosen.model_id,
            )
        # MLflow 2 style: the model folder lives among the run's own artifacts.
        path = artifact_path or DEFAULT_LOGGED_MODEL_NAME
        with self._errors(f"list the artifacts of run '{run_id}'"):
            names = {info.path for info in self.client.list_artifacts(run_id, path)}
        if f"{path}/MLmodel" in names:
            base = run.info.artifact_uri.rstrip("/")
            return _Source(uri=f"{base}/{path}", storage=f"{base}/{path}", run_id=run_id)
        wanted = f" named '{artifact_path}'" if artifact_path else ""
        raise BadInput(
            f"run '{run_id}' has no logged model{wanted}",
            hint="log one with mlflow.<flavor>.log_model(..., name=...) in that run",
        )

    def _logged_models_of_run(self, run: Any) -> list[Any]:
        """Logged models produced by the run: one search by source run, paged."""
        found: list[Any] = []
        token = None
        while True:
            page = self.client.search_logged_models(
                experiment_ids=[run.info.experiment_id],
                filter_string=f"source_run_id = '{run.info.run_id}'",
                max_results=100,
                page_token=token,
            )
            found.extend(page)
            token = page.token
            if not token:
                return found

    def _create_version(self, model: str, source: _Source, op_id: str | None = None) -> str:
        """Create the version; create the registered model only when MLflow says it is missing
        (one call in the common case of a model that already exists)."""
        created_model = False
        version: str | None = None
        try:
            with self._errors(f"create a version of model '{model}'"):
                try:
                    created = self._create_model_version(model, source, op_id)
                except Exception as exc:
                    if not _is_missing_registered_model(exc):
                        raise
                    self.client.create_registered_model(model, tags={CREATED_TAG: "true"})
                    created_model = True
                    created = self._create_model_version(model, source, op_id)
                version = str(created.version)
                self._await_ready(created)
        except BaseException:
            if version is not None:
                self._quietly(lambda: self.client.delete_model_version(model, version))
            if created_model:
                self._quietly(lambda: self.client.delete_registered_model(model))
            raise
        return version

    def _create_model_version(self, model: str, source: _Source, op_id: str | None) -> Any:
        # MLflow's SQL registry store resolves a models:/m-<id> source with MlflowClient() on the
        # process-wide tracking URI, not ours (a TODO in mlflow's sqlalchemy_store): scope it.
        scope = (
            global_tracking_uri(self.tracking_uri)
            if self.embedded and source.uri.startswith("models:/")
            else nullcontext()
        )
        with scope:
            return self.client.create_model_version(
                name=model,
                source=source.uri,
                run_id=source.run_id,
                tags={CREATED_TAG: "true", **({OP_TAG: op_id} if op_id else {})},
                model_id=source.model_id,
                # MLflow's own wait logs at INFO on every call; wait here only if needed.
                await_creation_for=0,
            )

    def _await_ready(self, mv: Any) -> Any:
        """Wait (briefly) for a version a remote registry reports as pending."""
        deadline = time.monotonic() + CREATE_WAIT_S
        while str(mv.status) == "PENDING_REGISTRATION":
            if time.monotonic() > deadline:
                raise ExternalError(
                    f"MLflow at {self.shown_uri} did not finish creating {mv.name} version "
                    f"{mv.version} within {CREATE_WAIT_S:.0f} s"
                )
            time.sleep(0.5)
            mv = self.client.get_model_version(mv.name, mv.version)
        if str(mv.status) not in ("READY", ""):
            raise ExternalError(
                f"MLflow at {self.shown_uri} failed to create {mv.name} version {mv.version}: "
                f"status {mv.status}"
            )
        return mv

    def _describe(
        self, model: str, version: str, source: _Source, run: Any, created: bool
    ) -> RegisteredVersion:
        with self._errors(f"read the artifacts of {model} version {version}"):
            with local_artifacts(source.storage, self.tracking_uri) as folder:
                fingerprint = hash_tree(folder)
                if "MLmodel" not in fingerprint:
                    raise BadInput(
                        f"the source of {model} version {version} has no MLmodel file: "
                        "it is not an MLflow model"
                    )
                signature, flavors = lineage.read_mlmodel(folder)
        return RegisteredVersion(
            model=model,
            version=version,
            source_uri=source.uri,
            run_id=run.info.run_id if run is not None else None,
            experiment_id=run.info.experiment_id if run is not None else None,
            datasets=lineage.run_datasets(run) if run is not None else (),
            git_commit=lineage.run_git_commit(run),
            signature=signature,
            flavors=flavors,
            fingerprint=fingerprint,
            metrics=lineage.run_metrics(run) if run is not None else {},
            created=created,
        )

    def _undo_create(self, model: str, version: str, cause: BaseException) -> None:
        try:
            self._delete_created_version(model, version)
        except Exception as exc:  # keep the original error; say what is left behind
            if isinstance(cause, MlgovError):
                cause.message += (
                    f"; and the half-created version {version} of '{model}' could not be "
                    f"removed from MLflow ({reason_of(exc)}): delete it by hand"
                )

    # -- discard ----------------------------------------------------------------------------

    def discard(self, model: str, version: str) -> None:
        """Delete a version mlgov created (and its registered model when mlgov created it and
        it is now empty). A version that does not exist is already discarded."""
        validate_model_name(model)
        version = validate_version(version)
        with self._errors(f"discard {model} version {version}"):
            try:
                mv = self.client.get_model_version(model, version)
            except Exception as exc:
                if error_code_of(exc) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                    return
                raise
            if (mv.tags or {}).get(CREATED_TAG) != "true":
                raise Refused(
                    f"{model} version {version} was not created by mlgov: not deleting it"
                )
            self._delete_created_version(model, version)

    def _delete_created_version(self, model: str, version: str) -> None:
        self.client.delete_model_version(model, version)
        registered = self.client.get_registered_model(model)
        if (registered.tags or {}).get(CREATED_TAG) == "true" and not self._has_versions(model):
            self.client.delete_registered_model(model)

    def _has_versions(self, model: str) -> bool:
        page = self.client.search_model_versions(
            filter_string=f"name = {filter_literal(model)}", max_results=1
        )
        return len(page) > 0

    # -- fingerprint and metrics ------------------------------------------------------------

    def fingerprint(self, model: str, version: str) -> dict[str, str]:
        """SHA-256 of every artifact file of the version, hashed now."""
        validate_model_name(model)
        version = validate_version(version)
        storage = self._download_uri(model, version)
        with self._errors(f"read the artifacts of {model} version {version}"):
            with local_artifacts(storage, self.tracking_uri) as folder:
                return hash_tree(folder)

    def _download_uri(self, model: str, version: str) -> str:
        """Through the registry client: MlflowClient's method first loads the registered model
        with every version (its prompt check), which made reconcile's per-version hashing grow
        with the square of the versions (17 s at 500). A prompt never gets here: registering
        one as a version's source fails on its missing MLmodel, and mirror refuses it."""
        with self._errors(
            f"locate {model} version {version}",
            not_found=f"{model} version {version} does not exist at MLflow {self.shown_uri}",
        ):
            return str(self._writer.get_model_version_download_uri(model, str(version)))

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return lineage.run_metrics(self._get_run(validate_run_id(run_id)))

    # -- mirror -----------------------------------------------------------------------------

    def mirror(
        self,
        model: str,
        version: str,
        *,
        tags: Mapping[str, str | None],
        set_aliases: Sequence[str] = (),
        remove_aliases: Sequence[str] = (),
    ) -> int:
        """Make MLflow show the governed state of one version; returns the number of writes.

        Tags are set (a None value deletes the tag); `set_aliases` point at this version;
        `remove_aliases` are deleted only where they point at this version. One read, then
        only the writes whose value differs.
        """
        validate_model_name(model)
        version = validate_version(version)
        for key, value in tags.items():
            validate_tag(key, value)
        for alias in (*set_aliases, *remove_aliases):
            validate_alias(alias)
        if set(set_aliases) & set(remove_aliases):
            raise BadInput("an alias cannot be both set and removed in one mirror")
        mv = self._version(model, version)
        current_tags = dict(mv.tags or {})
        if current_tags.get(PROMPT_TAG) == "true":
            raise BadInput(f"'{model}' is an MLflow prompt, not a model: mlgov does not govern it")
        current_aliases = set(mv.aliases or ())
        writer = self._writer
        writes = 0
        with self._errors(f"mirror governed state onto {model} version {version}"):
            for key, value in tags.items():
                if value is None:
                    if key in current_tags:
                        writer.delete_model_version_tag(model, version, key)
                        writes += 1
                elif current_tags.get(key) != value:
                    writer.set_model_version_tag(model, version, key, value)
                    writes += 1
            for alias in set_aliases:
                if alias not in current_aliases:
                    writer.set_registered_model_alias(model, alias, version)
                    writes += 1
            for alias in remove_aliases:
                if alias in current_aliases:
                    writer.delete_registered_model_alias(model, alias)
                    writes += 1
        return writes

    def _version(self, model: str, version: str) -> Any:
        with self._errors(
            f"read {model} version {version}",
            not_found=f"{model} version {version} does not exist at MLflow {self.shown_uri}",
        ):
            return self.client.get_model_version(model, version)

    # -- evidence that travels with the model -----------------------------------------------

    def log_card(self, model: str, version: str, card: Mapping[str, str]) -> str | None:
        """Write the card as `mlgov.card.<field>` version tags and, when the version has a run,
        as a JSON artifact of that run. Returns the artifact URI (None without a run)."""
        validate_model_name(model)
        version = validate_version(version)
        mv = self._version(model, version)
        folder = version_artifact_dir(model, version, "card")
        artifact_uri = f"runs:/{mv.run_id}/{folder}/{CARD_ARTIFACT}" if mv.run_id else None
        wanted = card_tags(card, artifact_uri)
        stale = {key: None for key in (mv.tags or {}) if key.startswith(CARD_TAG_PREFIX)}
        if mv.run_id:
            document = {"model": model, "version": version, "card": dict(card)}
            with self._errors(f"log the model card of {model} version {version}"):
                self.client.log_dict(mv.run_id, document, f"{folder}/{CARD_ARTIFACT}")
        self.mirror(model, version, tags={**stale, **wanted})
        return artifact_uri

    def log_reference(self, model: str, version: str, path: Path) -> str:
        """Log the reference (drift baseline) file on the version's run, as an artifact and as
        an MLflow dataset input with context 'reference'. Returns the artifact URI."""
        validate_model_name(model)
        version = validate_version(version)
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"reference file '{path}' does not exist")
        if path.suffix.lower() not in REFERENCE_SUFFIXES:
            raise BadInput(f"reference file '{path.name}' must be CSV or Parquet")
        frame = _read_table(path)
        run_id = self._run_of(model, version, "a reference dataset")
        folder = version_artifact_dir(model, version, "reference")
        artifact_uri = f"runs:/{run_id}/{folder}/{path.name}"
        with self._errors(f"log the reference dataset of {model} version {version}"):
            self.client.log_artifact(run_id, str(path), artifact_path=folder)
            dataset = reference_dataset_input(frame, f"{model}-v{version}-reference", artifact_uri)
            self.client.log_inputs(run_id, datasets=[dataset])
        return artifact_uri

    def log_artifacts(
        self, model: str, version: str, files: Sequence[Path], subdir: str
    ) -> list[str]:
        """Log report files (drift HTML/JSON...) on the version's run under
        mlgov/<model>/v<version>/<subdir>/. Returns their artifact URIs."""
        validate_model_name(model)
        version = validate_version(version)
        paths = [Path(f) for f in files]
        for p in paths:
            if not p.is_file():
                raise NotFound(f"report file '{p}' does not exist")
        folder = version_artifact_dir(model, version, subdir)
        run_id = self._run_of(model, version, "reports")
        with self._errors(f"log reports of {model} version {version}"):
            for p in paths:
                self.client.log_artifact(run_id, str(p), artifact_path=folder)
        return [f"runs:/{run_id}/{folder}/{p.name}" for p in paths]

    def _run_of(self, model: str, version: str, what: str) -> str:
        mv = self._version(model, version)
        if not mv.run_id:
            raise BadInput(f"{model} version {version} has no MLflow run to hold {what}")
        return str(mv.run_id)

    # -- state for reconcile ----------------------------------------------------------------

    def state(self, model: str) -> RegistryModelState:
        """The model as MLflow shows it now: versions with tags and source, and aliases."""
        with self._errors(f"read registered model '{model}'"):
            try:
                registered = self.client.get_registered_model(model)
            except Exception as exc:
                if error_code_of(exc) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                    return RegistryModelState(model=model, exists=False, versions={}, aliases={})
                raise
            versions = {
                str(mv.version): RegistryVersionState(
                    version=str(mv.version),
                    tags=dict(mv.tags or {}),
                    source_uri=mv.source,
                    legacy_stage=_legacy_stage(mv),
                )
                for mv in self._all_versions(model)
            }
        aliases = {alias: str(v) for alias, v in (registered.aliases or {}).items()}
        return RegistryModelState(model=model, exists=True, versions=versions, aliases=aliases)

    def _all_versions(self, model: str) -> Iterator[Any]:
        token = None
        while True:
            page = self.client.search_model_versions(
                filter_string=f"name = {filter_literal(model)}",
                max_results=_PAGE,
                page_token=token,
            )
            yield from page
            token = page.token
            if not token:
                return

    def list_models(self) -> list[str]:
        names: list[str] = []
        with self._errors("list registered models"):
            token = None
            while True:
                page = self.client.search_registered_models(max_results=_PAGE, page_token=token)
                names.extend(rm.name for rm in page)
                token = page.token
                if not token:
                    break
        return sorted(names)

    def run_states(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Whether each run is active, soft-deleted (`mlflow runs restore` brings it back) or
        gone (never existed here, or deleted for good by `mlflow gc`). One read per run."""
        states: dict[str, str] = {}
        for run_id in dict.fromkeys(run_ids):
            with self._errors(f"read run '{run_id}'"):
                try:
                    run = self.client.get_run(run_id)
                except Exception as exc:
                    if error_code_of(exc) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                        states[run_id] = RUN_MISSING
                        continue
                    raise
            deleted = run.info.lifecycle_stage == "deleted"
            states[run_id] = RUN_DELETED if deleted else RUN_ACTIVE
        return states

    def clear_legacy_stage(self, model: str, version: str) -> None:
        """Set MLflow's deprecated stage back to "None" (governance never uses stages).

        Through the registry client: MlflowClient's method of the same name emits a
        FutureWarning on every call, which would reach the user's stderr.
        """
        validate_model_name(model)
        version = validate_version(version)
        with (
            self._errors(f"clear the legacy stage of {model} version {version}"),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", FutureWarning)  # should _writer be the MlflowClient
            self._writer.transition_model_version_stage(
                model, version, _NO_LEGACY_STAGE, archive_existing_versions=False
            )

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _quietly(action: Any) -> None:
        try:
            action()
        except Exception:  # best effort cleanup; the caller re-raises the real error
            pass


_NO_LEGACY_STAGE = "None"  # how MLflow spells "no stage"


def _legacy_stage(mv: Any) -> str | None:
    stage = getattr(mv, "current_stage", None)
    return None if stage in (None, "", _NO_LEGACY_STAGE) else str(stage)


def _is_missing_registered_model(exc: BaseException) -> bool:
    return error_code_of(exc) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") and (
        "registered model" in str(exc).lower()
    )


def _pick_logged_model(run_id: str, logged: list[Any], artifact_path: str | None) -> Any | None:
    if not logged:
        return None
    if artifact_path is not None:
        named = [m for m in logged if m.name == artifact_path]
        if not named:
            names = ", ".join(sorted({m.name for m in logged}))
            raise BadInput(
                f"run '{run_id}' has no logged model named '{artifact_path}' (it has: {names})"
            )
        # Logged again under the same name: the newest one.
        return max(named, key=lambda m: m.creation_timestamp or 0)
    if len(logged) == 1:
        return logged[0]
    default = [m for m in logged if m.name == DEFAULT_LOGGED_MODEL_NAME]
    if default:
        return max(default, key=lambda m: m.creation_timestamp or 0)
    names = ", ".join(sorted({m.name for m in logged}))
    raise BadInput(
        f"run '{run_id}' has several logged models ({names}): name one with --artifact-path"
    )


def _require_ready(logged: Any) -> None:
    status = str(getattr(logged.status, "value", logged.status) or "")
    if status and status.upper() != "READY":
        raise BadInput(
            f"logged model models:/{logged.model_id} is {status.lower()}, not ready: "
            "finish logging it before registering"
        )


def _logged_model_id(source: str) -> str | None:
    try:
        parsed = parse_source_uri(source)
    except BadInput:
        return None
    return parsed.model_id if parsed.kind == "logged_model" else None


def _safe_segment(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip(".") or "exp"


def _read_table(path: Path) -> Any:
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:
        kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
        raise BadInput(
            f"reference file '{path.name}' cannot be read as {kind} ({type(exc).__name__})"
        ) from exc
