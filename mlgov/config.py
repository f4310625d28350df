"""Where mlgov keeps things, from the environment and global options.

Embedded default: everything under MLGOV_HOME (default ./.mlgov): the governance SQLite
database, the MLflow store and artifacts, BentoML's home, prediction logs and reports.
"""

from __future__ import annotations

import getpass
import os
import warnings
from collections.abc import Mapping
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
# A reference or current data set of a credit portfolio runs to hundreds of MB.
DEFAULT_MAX_UPLOAD_MB = 1024
# Clock skew allowed between mlgov and the identity provider when checking exp, nbf and iat.
DEFAULT_OIDC_LEEWAY_S = 60
MAX_OIDC_LEEWAY_S = 300
# The three variables without which OIDC cannot be verified; in the order they are reported.
OIDC_REQUIRED = ("MLGOV_OIDC_ISSUER", "MLGOV_OIDC_AUDIENCE", "MLGOV_OIDC_JWKS")


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
    # The largest file the server accepts in one upload (MLGOV_MAX_UPLOAD_MB).
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
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
    def uploads_dir(self) -> Path:
        """Where the server streams an upload before a use case reads it (then removes it)."""
        return self.home / "uploads"

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


@dataclass(frozen=True)
class OidcSettings:
    """How the server checks JWT bearer tokens from the bank's identity provider."""

    issuer: str  # compared exactly with the token's `iss`
    audience: str  # must be the token's `aud`, or one of them
    jwks: str  # an http(s) URL or a file path holding the provider's public keys
    user_claim: str = "preferred_username"  # the claim naming the mlgov user
    leeway_s: int = DEFAULT_OIDC_LEEWAY_S

    @property
    def jwks_is_url(self) -> bool:
        return self.jwks.startswith(("https://", "http://"))


def load_oidc_settings(env: Mapping[str, str] | None = None) -> OidcSettings | None:
    """OIDC settings from the environment, or None when OIDC is off (none of the three
    required variables set). Half a configuration is refused rather than ignored: whoever
    set some of them believes the server accepts the provider's tokens."""
    env = os.environ if env is None else env
    given = {k: (env.get(k) or "").strip() for k in OIDC_REQUIRED}
    if not any(given.values()):
        return None
    missing = [k for k, v in given.items() if not v]
    if missing:
        raise BadInput(
            f"{missing[0]} is not set: OIDC needs all of {', '.join(OIDC_REQUIRED)} "
            "(unset them all to turn OIDC off)"
        )
    claim = (env.get("MLGOV_OIDC_USER_CLAIM") or "").strip() or "preferred_username"
    return OidcSettings(
        issuer=given["MLGOV_OIDC_ISSUER"],
        audience=given["MLGOV_OIDC_AUDIENCE"],
        jwks=given["MLGOV_OIDC_JWKS"],
        user_claim=claim,
        leeway_s=_leeway(env.get("MLGOV_OIDC_LEEWAY_S")),
    )


def _leeway(value: str | None) -> int:
    if value is None or not value.strip():
        return DEFAULT_OIDC_LEEWAY_S
    try:
        seconds = int(value)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= MAX_OIDC_LEEWAY_S:
        raise BadInput(
            f"MLGOV_OIDC_LEEWAY_S must be a whole number of seconds in 0..{MAX_OIDC_LEEWAY_S}"
        )
    return seconds


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _megabytes(value: str | None) -> int:
    if value is None or not value.strip():
        return DEFAULT_MAX_UPLOAD_MB * 1024 * 1024
    try:
        megabytes = int(value)
    except ValueError:
        megabytes = 0
    if not 1 <= megabytes <= 1024 * 1024:
        raise BadInput("MLGOV_MAX_UPLOAD_MB must be a whole number of megabytes in 1..1048576")
    return megabytes * 1024 * 1024


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
        max_upload_bytes=_megabytes(env.get("MLGOV_MAX_UPLOAD_MB")),
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
    # MLFLOW_TRACKING_URI is NOT set: one process (the server) opens several homes, and a
    # process-wide URI would make the next home's settings (and MLflow's global client) read
    # the previous home's store. Every MLflow call gets its home's URI explicitly; the few
    # MLflow paths that only read the global one are scoped (registry/mlflow_env.py).
    os.environ["BENTOML_HOME"] = str(settings.bentoml_home)
