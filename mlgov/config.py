"""Where mlgov keeps things, from the environment and global options.

Embedded default: everything under MLGOV_HOME (default ./.mlgov): the governance SQLite
database, the MLflow store and artifacts, BentoML's home, prediction logs and reports.
"""

from __future__ import annotations

import getpass
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from mlgov.governance.errors import BadInput, NotInitialized
from mlgov.governance.roles import validate_user_name

# A bank's network is closed and the data is not ours to send.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
# Vendor chatter (schema creation, deprecations) is not the user's business on stderr.
QUIET = {"MLFLOW_LOGGING_LEVEL": "WARNING"}


@dataclass(frozen=True)
class Settings:
    home: Path
    db_url: str
    tracking_uri: str
    artifact_root: Path
    bentoml_home: Path
    user: str
    # Audit checkpoints: the private key lives outside the database (MLGOV_SIGNING_KEY).
    signing_key: Path | None = None  # None: $MLGOV_HOME/keys/audit-signing.key
    signing_key_explicit: bool = False
    checkpoint_sinks: tuple[Path, ...] = ()  # MLGOV_CHECKPOINT_SINKS, os.pathsep-separated
    verify_keys: tuple[Path, ...] = ()  # MLGOV_VERIFY_KEY, os.pathsep-separated
    # Console sessions end after this long without a request, and this long after sign-in.
    console_idle_seconds: int = 15 * 60  # MLGOV_CONSOLE_IDLE_SECONDS
    console_absolute_seconds: int = 12 * 3600  # MLGOV_CONSOLE_MAX_SECONDS
    # Reverse proxies whose X-Forwarded-Proto/-For the console believes (MLGOV_TRUSTED_PROXIES,
    # comma-separated addresses); none by default.
    trusted_proxies: tuple[str, ...] = ()
    # Single sign-on through such a proxy: the header naming the signed-in user
    # (MLGOV_CONSOLE_SSO_HEADER, e.g. X-Forwarded-User); off when unset.
    console_sso_header: str | None = None

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def signing_key_file(self) -> Path:
        return self.signing_key or self.keys_dir / "audit-signing.key"

    @property
    def public_key_file(self) -> Path:
        """Where `mlgov init --keys` writes the public key."""
        return self.keys_dir / "audit-signing.pub"

    @property
    def checkpoint_file(self) -> Path:
        return self.home / "audit-checkpoints.jsonl"

    def verify_key_files(self) -> tuple[Path, ...]:
        """MLGOV_VERIFY_KEY if set, else every *.pub in MLGOV_HOME/keys (old keys kept
        after a rotation still verify the checkpoints they signed)."""
        if self.verify_keys:
            return self.verify_keys
        return tuple(sorted(self.keys_dir.glob("*.pub"))) if self.keys_dir.is_dir() else ()

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def references_dir(self) -> Path:
        return self.home / "references"

    @property
    def predictions_dir(self) -> Path:
        return self.home / "predictions"

    @property
    def targets_dir(self) -> Path:
        return self.home / "targets"

    @property
    def notifications_file(self) -> Path:
        return self.home / "notifications.jsonl"

    @property
    def embedded_db(self) -> bool:
        return self.db_url == _sqlite_url(self.home / "governance.db")

    def ensure_home(self, *, create: bool) -> None:
        """Check MLGOV_HOME; create it (and its folders) only when `create` (mlgov init)."""
        if self.home.exists() and not self.home.is_dir():
            raise BadInput(f"MLGOV_HOME {self.home} exists and is not a directory")
        if not self.home.exists():
            if not self.home.parent.is_dir():
                raise BadInput(
                    f"MLGOV_HOME {self.home}: its parent directory {self.home.parent} "
                    "does not exist",
                    hint="create it or point MLGOV_HOME elsewhere",
                )
            if not create:
                raise NotInitialized(
                    f"MLGOV_HOME {self.home} does not exist", hint="run `mlgov init` first"
                )
        if create:
            for d in (
                self.home,
                self.artifact_root,
                self.bentoml_home,
                self.reports_dir,
                self.references_dir,
                self.predictions_dir,
                self.targets_dir,
            ):
                d.mkdir(mode=0o700, parents=True, exist_ok=True)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _path_list(value: str | None) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in (value or "").split(os.pathsep) if p.strip())


def load_settings(*, user: str | None = None, home: str | None = None) -> Settings:
    env = os.environ
    home_path = Path(home or env.get("MLGOV_HOME") or ".mlgov").expanduser().absolute()
    acting = user or env.get("MLGOV_USER") or getpass.getuser()
    validate_user_name(acting)
    if env.get("MLGOV_POLICY"):
        # Refused rather than ignored: whoever set it believes that file's rules apply.
        raise BadInput(
            "MLGOV_POLICY is no longer read: the policy in force lives in the governance "
            "store. Unset it; an admin puts a file in force with `mlgov policy set FILE`"
        )
    signing_key = env.get("MLGOV_SIGNING_KEY")
    return Settings(
        home=home_path,
        db_url=env.get("MLGOV_DB_URL") or _sqlite_url(home_path / "governance.db"),
        tracking_uri=env.get("MLFLOW_TRACKING_URI") or _sqlite_url(home_path / "mlflow.db"),
        artifact_root=home_path / "mlartifacts",
        bentoml_home=Path(env.get("BENTOML_HOME") or home_path / "bentoml"),
        user=acting,
        signing_key=Path(signing_key).expanduser().absolute() if signing_key else None,
        signing_key_explicit=bool(signing_key),
        checkpoint_sinks=_path_list(env.get("MLGOV_CHECKPOINT_SINKS")),
        verify_keys=_path_list(env.get("MLGOV_VERIFY_KEY")),
        console_idle_seconds=_seconds(env, "MLGOV_CONSOLE_IDLE_SECONDS", 15 * 60),
        console_absolute_seconds=_seconds(env, "MLGOV_CONSOLE_MAX_SECONDS", 12 * 3600),
        console_sso_header=(env.get("MLGOV_CONSOLE_SSO_HEADER") or "").strip() or None,
        trusted_proxies=tuple(
            a.strip() for a in (env.get("MLGOV_TRUSTED_PROXIES") or "").split(",") if a.strip()
        ),
    )


def _seconds(env: os._Environ[str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    if not value.strip().isdigit() or not 1 <= int(value) <= 7 * 24 * 3600:
        raise BadInput(f"{name} must be a whole number of seconds from 1 to 604800")
    return int(value)


def apply_environment(settings: Settings) -> None:
    """Point the third-party tools at mlgov's places and switch their telemetry off."""
    for key, value in {**TELEMETRY_OFF, **QUIET}.items():
        os.environ.setdefault(key, value)
    # Vendor hints (schema inference, deprecations) are for their developers, not our users.
    warnings.filterwarnings("ignore", module=r"(mlflow|bentoml|evidently|skops|_bentoml_impl)\b")
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    os.environ["BENTOML_HOME"] = str(settings.bentoml_home)
