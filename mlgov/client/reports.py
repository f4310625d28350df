"""Remote twin of mlgov.api.reports: the pack is built on the server and arrives as a zip;
a pack is verified where it lies, on this machine."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgov.api.actor import Actor
from mlgov.api.errors import BadInput
from mlgov.api.reports import (
    INTERNAL_ONLY,
    INVENTORY_FIELDS,
    EvidencePack,
    Inventory,
    PackVerification,
    verify_pack_files,
)
from mlgov.api.results import Record
from mlgov.client._paths import version_path
from mlgov.client.connection import ServerConnection

__all__ = ["INTERNAL_ONLY", "INVENTORY_FIELDS", "create_report", "inventory", "verify_report"]


def inventory(
    conn: ServerConnection, actor: Actor, *, at: str | None = None, stage: str | None = None
) -> Inventory:
    rows = conn.get("/inventory", at=at, stage=stage)
    return Inventory(tuple(Record(r) for r in rows), at)


def create_report(
    conn: ServerConnection,
    actor: Actor,
    model: str,
    version: str,
    out: Path,
    *,
    lang: str | Sequence[str] = "en",
    pdf: bool = False,
    matrix: Path | None = None,
) -> EvidencePack:
    if matrix is not None:
        raise BadInput(
            "--matrix is read where the pack is built: set MLGOV_COVERAGE_MATRIX on the server"
        )
    langs = lang if isinstance(lang, str) else ",".join(lang)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInput(f"--out {out} exists and is not an empty directory")
    if not out.parent.is_dir():
        raise BadInput(f"cannot write {out}: directory {out.parent} does not exist")
    with tempfile.TemporaryDirectory(prefix="mlgov-pack-") as tmp:
        archive = Path(tmp) / "pack.zip"
        query = f"?lang={langs}" + ("&pdf=true" if pdf else "")
        headers = conn.download(
            "POST", f"{version_path(model, version)}/evidence-packs{query}", archive
        )
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():  # a member never lands outside the folder
                target = (unpacked / member).resolve()
                if not target.is_relative_to(unpacked.resolve()):
                    raise BadInput(f"the server's pack names a file outside it: {member!r}")
            zipped.extractall(unpacked)
        (root,) = list(unpacked.iterdir())
        out.mkdir(exist_ok=True)
        for item in root.iterdir():
            shutil.move(str(item), out / item.name)
        files = sum(1 for p in out.rglob("*") if p.is_file())
    manifest = _json_file(out / "manifest.json")
    signature = _json_file(out / "manifest.sig")
    return EvidencePack(
        directory=str(out),
        model=model,
        version=version,
        files=files,
        listed_files=len(manifest.get("files", [])),
        manifest_sha256=headers.get("x-mlgov-manifest-sha256", ""),
        signed_by_key=signature.get("key_id"),
        audit_head=manifest.get("audit_head") or {},
        export_event_seq=int(headers.get("x-mlgov-export-event", "0")),
        languages=tuple(langs.split(",")),
        pdf=pdf,
    )


def _json_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def verify_report(
    conn: ServerConnection,
    actor: Actor,
    directory: Path,
    *,
    with_audit: bool = False,
    public_keys: Sequence[Path] = (),
) -> PackVerification:
    if with_audit:
        raise BadInput(
            "--with-audit reads the governance store: run it on the server's host",
            hint="without it, the pack's manifest and signature are checked here",
        )
    # Without --public-key only the pack's internal consistency is proven (it says so).
    return verify_pack_files(directory, public_keys)
