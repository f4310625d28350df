"""Notifications when approval requests open or are decided, and on health actions.

Best effort by design: a notifier never fails the decision that triggered it. A webhook that
cannot be reached is queued in an outbox file and retried on the next notification.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgov.governance.clock import Clock, SystemClock, isoformat

log = logging.getLogger("mlgov.notify")


def _append_line(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")


class FileNotifier:
    """Appends each notification to a JSON Lines file (the embedded default)."""

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self.clock = clock or SystemClock()

    def notify(self, event: str, payload: Mapping[str, Any]) -> None:
        try:
            _append_line(
                self.path, {"time": isoformat(self.clock.now()), "event": event, **payload}
            )
        except OSError as exc:
            log.warning("notification file %s not written: %s", self.path, exc)


class WebhookNotifier:
    """POSTs JSON to a URL with a timeout; failures go to an outbox retried later."""

    def __init__(
        self, url: str, *, outbox: Path, timeout: float = 5.0, clock: Clock | None = None
    ) -> None:
        self.url = url
        self.outbox = outbox
        self.timeout = timeout
        self.clock = clock or SystemClock()

    def _post(self, record: Mapping[str, Any]) -> bool:
        body = json.dumps(record, sort_keys=True, default=str).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status: int = response.status
                return 200 <= status < 300
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning("webhook %s failed: %s", self.url, exc)
            return False

    def retry_pending(self) -> int:
        """Send queued notifications; keep those that still fail. Returns how many were sent."""
        if not self.outbox.exists():
            return 0
        pending = [json.loads(line) for line in self.outbox.read_text().splitlines() if line]
        still = [r for r in pending if not self._post(r)]
        tmp = self.outbox.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in still))
        tmp.replace(self.outbox)
        return len(pending) - len(still)

    def notify(self, event: str, payload: Mapping[str, Any]) -> None:
        record = {"time": isoformat(self.clock.now()), "event": event, **payload}
        try:
            self.retry_pending()
            if not self._post(record):
                _append_line(self.outbox, record)
        except OSError as exc:
            log.warning("webhook outbox %s not written: %s", self.outbox, exc)


class CompositeNotifier:
    def __init__(self, notifiers: Sequence[Any]) -> None:
        self.notifiers = list(notifiers)

    def notify(self, event: str, payload: Mapping[str, Any]) -> None:
        for notifier in self.notifiers:
            try:
                notifier.notify(event, payload)
            except Exception as exc:  # noqa: BLE001 - a notifier must never fail a decision
                log.warning("notifier %s failed: %s", type(notifier).__name__, exc)
