"""Getting a model's artifact files onto local disk to hash or read them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlgov.registry.locations import local_path_of


@contextmanager
def local_artifacts(artifact_uri: str, tracking_uri: str) -> Iterator[Path]:
    """Yield a local folder holding the files at `artifact_uri` (a storage location, not models:/).

    A local store is read in place (downloading would only copy it); anything else is downloaded
    into a temporary folder that is removed afterwards. A folder that no longer exists yields a
    path without files, so a fingerprint of it reports every file as missing.
    """
    local = local_path_of(artifact_uri)
    if local is not None:
        yield local
        return
    from mlflow.artifacts import download_artifacts

    with tempfile.TemporaryDirectory(prefix="mlgov-artifacts-") as tmp:
        path = download_artifacts(
            artifact_uri=artifact_uri, dst_path=tmp, tracking_uri=tracking_uri
        )
        yield Path(path)
