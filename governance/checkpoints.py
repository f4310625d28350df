"""Signed audit checkpoints, kept outside the governance database.

The hash chain alone cannot catch an insider with database access who edits an event and
recomputes every later hash and the head row, nor one who deletes the newest events and
rewinds the head. A checkpoint is a record `{seq, head_hash, time, database_id}` signed with
an Ed25519 key that lives in a file outside the database; copies go to JSON Lines files
(MLGOV_HOME by default, plus any extra sinks). Verification checks every signature and that
each checkpoint's (seq, head_hash) is still on the chain. Events after the newest checkpoint
are not covered: that is the residual risk SECURITY.md describes.

`cryptography` is imported inside the functions that sign or verify, so importing this module
stays cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgov.governance import audit
from mlgov.governance.clock import isoformat
from mlgov.governance.errors import BadInput, ExternalError, NotInitialized, Refused
from mlgov.governance.roles import Action
from mlgov.governance.tables import AuditEvent, AuditHead, StoreIdentity

if TYPE_CHECKING:
    from mlgov.governance.service import Governance

log = logging.getLogger("mlgov.checkpoints")

FORMAT_VERSION = 1
# Signed bytes start with this label, so a checkpoint signature can never be replayed as a
# signature of anything else made with the same key.
_DOMAIN = b"mlgov-audit-checkpoint\n"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_FIELDS = {"v", "seq", "head_hash", "time", "database_id", "key_id", "sig"}


class ChainContradictsCheckpoint(Refused):
    """The chain no longer matches the last checkpoint: mlgov will not sign over it."""


# --- the record --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head_hash: str
    time: str
    database_id: str
    key_id: str
    sig: str = ""  # base64 Ed25519 signature over signed_bytes()
    v: int = FORMAT_VERSION

    def body(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "time": self.time,
            "database_id": self.database_id,
            "key_id": self.key_id,
        }

    def signed_bytes(self) -> bytes:
        """Sorted-key compact ASCII JSON of everything but the signature, after a label."""
        return _DOMAIN + json.dumps(
            self.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")

    def to_dict(self) -> dict[str, Any]:
        return self.body() | {"sig": self.sig}

    def to_line(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"


def parse_line(text: str) -> Checkpoint:
    """A Checkpoint from one JSON Lines record; ValueError says what is wrong with it."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(doc, dict) or set(doc) != _FIELDS:
        raise ValueError("not a checkpoint record (wrong fields)")
    ok = (
        doc["v"] == FORMAT_VERSION
        and type(doc["seq"]) is int
        and doc["seq"] >= 0
        and isinstance(doc["head_hash"], str)
        and _HEX64.fullmatch(doc["head_hash"])
        and isinstance(doc["key_id"], str)
        and _KEY_ID.fullmatch(doc["key_id"])
        and all(isinstance(doc[k], str) for k in ("time", "database_id", "sig"))
    )
    if not ok:
        raise ValueError("not a checkpoint record (malformed field)")
    return Checkpoint(**doc)


# --- keys ---------------------------------------------------------------------------------


def key_id_of(public_key: Any) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte Ed25519 public key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keys(private_path: Path, public_path: Path) -> dict[str, str]:
    """Create a new Ed25519 pair: the private key 0600, the public key beside the config.

    Never overwrites: an existing key file is refused (rotation is a deliberate procedure,
    see SECURITY.md).
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    refuse_existing_keys(private_path, public_path)
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    for path in (private_path, public_path):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return {
        "key_id": key_id_of(private.public_key()),
        "private_key": str(private_path),
        "public_key": str(public_path),
    }


def refuse_existing_keys(*paths: Path) -> None:
    for path in paths:
        if os.path.lexists(path):
            raise BadInput(
                f"audit signing key file {path} already exists: refusing to overwrite it",
                hint="to rotate keys, move the old pair aside first as SECURITY.md describes",
            )


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # O_EXCL: two concurrent `init --keys` can never both think they made the key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise BadInput(
            f"audit signing key file {path} already exists: refusing to overwrite it"
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot create key file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, mode)  # the umask may have taken bits away from the public key


def check_private_key_file(path: Path) -> None:
    """Refuse a private key that other users could read or replace (like ssh does)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BadInput(
            f"no audit signing key at {path}", hint="run `mlgov init --keys` to create one"
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot read audit signing key {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"audit signing key {path} is not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        raise BadInput(
            f"audit signing key {path} is accessible by other users "
            f"(mode {stat.S_IMODE(st.st_mode):04o}): refusing to use it",
            hint=f"run `chmod 600 {path}`, and rotate the key if others may have read it",
        )


def load_signing_key(path: Path) -> Any:
    """The Ed25519 private key in `path`, after the permission check."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    check_private_key_file(path)
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise BadInput(f"audit signing key {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput(f"audit signing key {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise BadInput(f"public key file {path} does not exist") from None
    except OSError as exc:
        raise BadInput(f"cannot read public key {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise BadInput(f"public key {path} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput(f"public key {path} is not an Ed25519 key")
    return key


def load_verify_keys(paths: Sequence[Path]) -> dict[str, Any]:
    """key_id -> public key, for every file given (old keys too, after a rotation)."""
    if not paths:
        raise BadInput(
            "no public key to verify checkpoints with",
            hint="run `mlgov init --keys`, set MLGOV_VERIFY_KEY, or pass --public-key FILE",
        )
    keys: dict[str, Any] = {}
    for path in paths:
        key = load_public_key(path)
        keys[key_id_of(key)] = key
    return keys


# --- the database's identity ---------------------------------------------------------------


def database_id(session: Session) -> str:
    row = session.get(StoreIdentity, 1)
    if row is None:
        raise NotInitialized(
            "the governance database has no identity row",
            hint="run `mlgov init` to upgrade it",
        )
    return row.database_id


# --- signing ------------------------------------------------------------------------------


def sign(private_key: Any, *, seq: int, head_hash: str, at: datetime, db_id: str) -> Checkpoint:
    unsigned = Checkpoint(
        seq=seq,
        head_hash=head_hash,
        time=isoformat(at),
        database_id=db_id,
        key_id=key_id_of(private_key.public_key()),
    )
    signature = private_key.sign(unsigned.signed_bytes())
    return Checkpoint(**unsigned.body(), sig=base64.b64encode(signature).decode("ascii"))


def signature_ok(cp: Checkpoint, keys: Mapping[str, Any]) -> bool:
    from cryptography.exceptions import InvalidSignature

    key = keys.get(cp.key_id)
    if key is None:
        return False
    try:
        key.verify(base64.b64decode(cp.sig, validate=True), cp.signed_bytes())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of one line with O_APPEND: concurrent writers never interleave within a line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _reversed_lines(path: Path, block: int = 8192) -> Iterator[str]:
    """The file's lines, last first, reading only as much of the end as needed."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        fh.seek(0, os.SEEK_END)
        pos, tail = fh.tell(), b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            fh.seek(pos)
            parts = (fh.read(step) + tail).split(b"\n")
            tail = parts.pop(0)
            for raw in reversed(parts):
                if raw.strip():
                    yield raw.decode("utf-8", "replace")
        if tail.strip():
            yield tail.decode("utf-8", "replace")


def _last_checkpoint(path: Path, db_id: str, keys: Mapping[str, Any]) -> Checkpoint | None:
    """The newest checkpoint of this database signed by the signing key, or None.

    Lines of other databases, of earlier keys (after a rotation) and damaged lines are passed
    over here (`audit verify --checkpoints` reports them); a line that claims the signing key
    but does not verify is refused: someone forged it.
    """
    for text in _reversed_lines(path):
        try:
            cp = parse_line(text)
        except ValueError:
            continue
        if cp.database_id != db_id or cp.key_id not in keys:
            continue
        if not signature_ok(cp, keys):
            raise ChainContradictsCheckpoint(
                f"a checkpoint in {path} claims the signing key but does not verify: "
                "refusing to sign after it",
                hint=f"run `mlgov audit verify --checkpoints {path}`",
            )
        return cp
    return None


def _verify_since(session: Session, since: Checkpoint | None) -> str | None:
    """Check the chain from the last checkpoint to the head; the problem, or None.

    Only the events after the last checkpoint are rehashed, so a checkpoint per stage change
    stays cheap on a long chain; the link to the earlier chain is the checkpoint's hash.
    """
    after = (0, audit.GENESIS)
    if since is not None and since.seq == 0 and since.head_hash != audit.GENESIS:
        return f"checkpoint at seq 0 names head {since.head_hash}, not the genesis hash"
    if since is not None and since.seq > 0:
        anchor = session.get(AuditEvent, since.seq)
        if anchor is None or anchor.hash != since.head_hash:
            return (
                f"the event at seq {since.seq} no longer has the hash the last checkpoint "
                "signed: the chain was rewritten or cut"
            )
        after = (since.seq, since.head_hash)
    report = audit.verify_chain(session, after=after)
    return None if report.ok else f"seq {report.first_bad_seq}: {report.problem}"


@dataclass
class Checkpointer:
    """Writes signed checkpoints of the current chain head to every configured file.

    `key_path` missing means checkpoints are off (the embedded default before `init --keys`),
    unless `required` (the key was configured explicitly, so a missing file is an error).
    """

    key_path: Path
    file: Path
    sinks: Sequence[Path] = ()
    required: bool = False

    @property
    def enabled(self) -> bool:
        return self.required or os.path.lexists(self.key_path)

    def preflight(self) -> None:
        """Cheap check before a move: a key others can read is refused before anything moves."""
        if self.enabled:
            check_private_key_file(self.key_path)

    def signing_key(self) -> Any:
        # Read on every use (it is cheap): a rotated or re-permissioned key takes effect at once.
        return load_signing_key(self.key_path)

    def write(
        self, session: Session, *, at: datetime, extra: Sequence[Path] = ()
    ) -> dict[str, Any]:
        """Sign the head seen by `session` and append it to every file.

        Refuses (without writing) when the chain contradicts the newest checkpoint in the
        main file: a signature must never bless a rewritten chain.
        """
        key = self.signing_key()
        own = {key_id_of(key.public_key()): key.public_key()}
        db_id = database_id(session)
        problem = _verify_since(session, _last_checkpoint(self.file, db_id, own))
        if problem:
            raise ChainContradictsCheckpoint(
                f"audit chain does not match its last checkpoint ({problem}): not signing it",
                hint=f"run `mlgov audit verify --checkpoints {self.file}`",
            )
        head = session.get(AuditHead, 1)
        assert head is not None  # the first migration inserts the one head row
        cp = sign(key, seq=head.seq, head_hash=head.hash, at=at, db_id=db_id)
        line = cp.to_line()
        written, failed = [], []
        for path in _unique([self.file, *self.sinks, *extra]):
            try:
                _append(path, line)
                written.append(str(path))
            except OSError as exc:
                log.warning("audit checkpoint not written to %s: %s", path, exc)
                failed.append(f"{path} ({exc.strerror or exc})")
        if failed:
            raise ExternalError(
                f"audit checkpoint at seq {cp.seq} not written to {', '.join(failed)}"
                + (f" (written to {', '.join(written)})" if written else "")
            )
        return {"checkpoint": cp.to_dict(), "files": written}


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: dict[str, Path] = {}
    for p in paths:
        seen.setdefault(os.path.abspath(p), p)
    return list(seen.values())


def write_checkpoint(gov: Governance, actor: str, *, extra: Sequence[Path] = ()) -> dict[str, Any]:
    """`mlgov audit checkpoint`: any role that may verify the audit trail may run it (it
    writes no database state)."""
    checkpointer = gov.checkpointer
    if checkpointer is None or not checkpointer.enabled:
        raise BadInput(
            "no audit signing key is configured", hint="run `mlgov init --keys` to create one"
        )
    for path in extra:
        if not path.parent.is_dir():
            raise BadInput(f"cannot write {path}: directory {path.parent} does not exist")
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.VERIFY_AUDIT)
        return checkpointer.write(s, at=gov.now(), extra=extra)


def checkpoint_after_commit(gov: Governance) -> None:
    """After a committed stage change: best effort. A failure is logged and kept in
    `gov.warnings` for the CLI to show; the move stays committed and the next checkpoint
    covers it."""
    checkpointer = gov.checkpointer
    if checkpointer is None or not checkpointer.enabled:
        return
    try:
        with gov.store.read() as s:
            checkpointer.write(s, at=gov.now())
    except Exception as exc:  # noqa: BLE001 - a checkpoint never undoes a committed move
        log.warning("audit checkpoint not written after a stage change: %s", exc)
        gov.warnings.append(
            f"audit checkpoint not written: {exc}. The stage change is committed; "
            "the next checkpoint (or `mlgov audit checkpoint`) covers it"
        )


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointProblem:
    line: int
    seq: int | None
    problem: str
    bad_from_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "seq": self.seq,
            "problem": self.problem,
            "bad_from_seq": self.bad_from_seq,
        }


@dataclass(frozen=True)
class CheckpointReport:
    ok: bool
    chain: audit.ChainReport
    file: str
    checkpoints: int  # records read
    verified: int  # signature good, this database, still on the chain
    covered_seq: int  # newest seq a good checkpoint vouches for
    first_bad_seq: int | None
    first_bad_line: int | None
    problem: str | None
    problems: tuple[CheckpointProblem, ...] = ()

    @property
    def uncovered_events(self) -> int:
        return max(0, self.chain.head_seq - self.covered_seq)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "file": self.file,
            "checkpoints": self.checkpoints,
            "verified": self.verified,
            "covered_seq": self.covered_seq,
            "uncovered_events": self.uncovered_events,
            "first_bad_seq": self.first_bad_seq,
            "first_bad_line": self.first_bad_line,
            "problem": self.problem,
            "problems": [p.to_dict() for p in self.problems],
            "chain": self.chain.to_dict(),
        }


def verify_with_checkpoints(
    session: Session, lines: Iterable[str], keys: Mapping[str, Any], *, file: str = "-"
) -> CheckpointReport:
    """Verify the chain, every checkpoint's signature, and that each (seq, head_hash) is on it.

    A recomputed chain shows as a checkpoint whose seq now has another hash; a cut tail as a
    checkpoint beyond the chain's end. Either way the events after the newest checkpoint that
    still matches are no longer vouched for, so that seq + 1 is the first bad seq.
    """
    chain = audit.verify_chain(session)
    db_id = database_id(session)
    problems: list[CheckpointProblem] = []
    good: list[tuple[int, Checkpoint]] = []
    count = 0
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        count += 1
        try:
            cp = parse_line(text)
        except ValueError as exc:
            problems.append(CheckpointProblem(number, None, f"{exc}: forged or damaged"))
            continue
        if cp.key_id not in keys:
            problems.append(
                CheckpointProblem(
                    number,
                    None,
                    f"signed by key {cp.key_id}, which is not among the verification keys "
                    f"({', '.join(sorted(keys))}): forged, or made with a key not given",
                )
            )
            continue
        if not signature_ok(cp, keys):
            problems.append(
                CheckpointProblem(number, None, "signature does not verify: forged or altered")
            )
            continue
        if cp.database_id != db_id:
            problems.append(
                CheckpointProblem(
                    number,
                    None,
                    f"checkpoint of database {cp.database_id}, but this database is {db_id}",
                )
            )
            continue
        good.append((number, cp))

    on_chain = _hashes_at(session, {cp.seq for _, cp in good if cp.seq > 0})
    matching = sorted(cp.seq for _, cp in good if _matches(cp, on_chain))
    verified = 0
    for number, cp in good:
        if _matches(cp, on_chain):
            verified += 1
            continue
        below = [s for s in matching if s < cp.seq]
        bad_from = (below[-1] if below else 0) + 1
        if cp.seq in on_chain:
            what = (
                f"the event at seq {cp.seq} no longer has the signed hash: the chain was "
                f"rewritten and rehashed somewhere in seqs {bad_from}-{cp.seq}"
            )
        else:
            what = (
                f"seq {cp.seq} is signed but no longer on the chain (it ends at seq "
                f"{_chain_end(session)}): events were deleted; seqs from {bad_from} on are "
                "no longer vouched for"
            )
        problems.append(CheckpointProblem(number, cp.seq, what, bad_from))

    if count == 0 or not good:
        problems.append(
            CheckpointProblem(0, None, f"no valid checkpoint of database {db_id} in {file}")
        )
    # A broken link names its seq exactly; checkpoints at or after it differ because of it.
    # Before it, a checkpoint that no longer matches means a rehash somewhere after the
    # newest checkpoint that still does.
    broken_at = chain.first_bad_seq if not chain.ok else None
    bad_seqs = [
        p.bad_from_seq
        for p in problems
        # only a signed checkpoint's problem (with its seq) has a bad_from_seq
        if p.bad_from_seq is not None
        and p.seq is not None
        and (broken_at is None or p.seq < broken_at)
    ]
    if broken_at is not None:
        bad_seqs.append(broken_at)
    first_bad_seq = min(bad_seqs) if bad_seqs else None
    line_problems = [p for p in problems if p.line]
    first_bad_line = min((p.line for p in line_problems), default=None)
    # Vouched for: up to the newest matching checkpoint below every sign of tampering.
    limit = min([s for s in (first_bad_seq, *(p.seq for p in problems)) if s], default=None)
    covered = max((s for s in matching if limit is None or s < limit), default=0)
    ok = chain.ok and not problems
    return CheckpointReport(
        ok=ok,
        chain=chain,
        file=file,
        checkpoints=count,
        verified=verified,
        covered_seq=covered,
        first_bad_seq=first_bad_seq,
        first_bad_line=first_bad_line,
        problem=None if ok else _summary(chain, problems, first_bad_seq),
        problems=tuple(sorted(problems, key=lambda p: (p.line == 0, p.line))),
    )


def _matches(cp: Checkpoint, on_chain: Mapping[int, str]) -> bool:
    if cp.seq == 0:
        return cp.head_hash == audit.GENESIS
    return on_chain.get(cp.seq) == cp.head_hash


def _hashes_at(session: Session, seqs: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    ordered = sorted(seqs)
    for i in range(0, len(ordered), 500):  # keep IN lists small for every backend
        chunk = ordered[i : i + 500]
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(chunk))
        )
        found.update({seq: h for seq, h in rows})
    return found


def _chain_end(session: Session) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.max(AuditEvent.seq))) or 0


def _summary(
    chain: audit.ChainReport, problems: Sequence[CheckpointProblem], first_bad_seq: int | None
) -> str:
    if not chain.ok and chain.first_bad_seq == first_bad_seq:
        return f"chain broken at seq {chain.first_bad_seq}: {chain.problem}"
    seq_problems = [p for p in problems if p.bad_from_seq == first_bad_seq and first_bad_seq]
    if seq_problems:
        p = seq_problems[0]
        return f"checkpoint on line {p.line}: {p.problem}"
    if not problems:
        return f"chain broken at seq {chain.first_bad_seq}: {chain.problem}"
    p = problems[0]
    return f"checkpoint on line {p.line}: {p.problem}" if p.line else p.problem


def verify_checkpoints(
    gov: Governance, actor: str, file: Path, key_files: Sequence[Path]
) -> CheckpointReport:
    """`mlgov audit verify --checkpoints FILE`."""
    keys = load_verify_keys(key_files)
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise BadInput(f"checkpoint file {file} does not exist") from None
    except OSError as exc:
        raise BadInput(f"cannot read checkpoint file {file}: {exc.strerror}") from exc
    with gov.store.read() as s:
        gov.authorize(s, actor, Action.VERIFY_AUDIT)
        return verify_with_checkpoints(s, text.splitlines(), keys, file=str(file))


def record_new_key(gov: Governance, actor: str, info: Mapping[str, str]) -> None:
    """The key's id goes on the audit trail, so the record says when each key began."""
    with gov.store.transaction() as s:
        gov.audit(
            s,
            actor,
            "audit.signing_key",
            "system",
            {"key_id": info["key_id"], "public_key": info["public_key"]},
        )
