"""Random sequences of register/promote/retire by random actors keep the invariants:
stage only changes along allowed moves, every change has exactly one audit event, and the
chain always verifies."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mlgov.governance import approvals
from mlgov.governance.clock import FixedClock
from mlgov.governance.errors import MlgovError
from mlgov.governance.gates import Gates
from mlgov.governance.lifecycle import ALLOWED_MOVES, Stage
from mlgov.governance.service import Governance
from mlgov.governance.store import Store
from mlgov.governance.testing import FakeRegistry

ACTORS = ["admin", "ds1", "ro1", "eng", "aud", "ghost"]
ROLES = {
    "ds1": ["data_scientist"],
    "ro1": ["risk_officer"],
    "eng": ["ml_engineer"],
    "aud": ["auditor"],
}


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.gov = Governance(
            Store(f"sqlite:///{Path(self.dir.name) / 'g.db'}"),
            clock=FixedClock(),
            gates=Gates(),
            registry=FakeRegistry(),
        )
        self.gov.store.upgrade()
        self.gov.init("admin")
        for name, roles in ROLES.items():
            self.gov.add_user("admin", name, roles)
        self.stages: dict[str, str] = {}  # version -> stage, as the model expects it
        self.events = len(self.gov.audit_log("aud"))

    def teardown(self) -> None:
        self.gov.store.engine.dispose()
        self.dir.cleanup()

    def _attempt(self, fn, *args, **kwargs) -> bool:
        try:
            fn(*args, **kwargs)
            return True
        except MlgovError:
            return False

    @rule(actor=st.sampled_from(ACTORS), tier=st.sampled_from(["high", "low", "bogus"]))
    def register(self, actor, tier):
        before = {v["version"] for v in self.gov.list_versions("aud")}
        if self._attempt(self.gov.register, actor, "m", risk_tier=tier, purpose="p", run_id="r"):
            (new,) = {v["version"] for v in self.gov.list_versions("aud")} - before
            self.stages[new] = "develop"
            self.events += 1

    @rule(
        actor=st.sampled_from(ACTORS),
        pick=st.integers(0, 20),
        to=st.sampled_from([s.value for s in Stage] + ["nowhere"]),
    )
    def promote(self, actor, pick, to):
        if not self.stages:
            return
        version = sorted(self.stages)[pick % len(self.stages)]
        old = self.stages[version]
        if self._attempt(self.gov.promote, actor, "m", version, to, reason="because"):
            assert Stage(to) in ALLOWED_MOVES[Stage(old)], (old, to)
            self.stages[version] = to
            self.events += 1

    @rule(actor=st.sampled_from(ACTORS), pick=st.integers(0, 20))
    def request(self, actor, pick):
        if not self.stages:
            return
        version = sorted(self.stages)[pick % len(self.stages)]
        if self._attempt(approvals.request_approval, self.gov, actor, "m", version):
            assert self.stages[version] == "train"
            self.events += 1

    @rule(actor=st.sampled_from(ACTORS), pick=st.integers(0, 20), approve=st.booleans())
    def decide(self, actor, pick, approve):
        if not self.stages:
            return
        version = sorted(self.stages)[pick % len(self.stages)]
        if self._attempt(
            approvals.decide, self.gov, actor, "m", version, approve=approve, comment="looked at it"
        ):
            shown = approvals.show_request(self.gov, "aud", "m", version)
            me = [d for d in shown["decisions"] if d["approver"] == actor]
            assert len(me) == 1  # counted once, never twice
            snap = shown["snapshot"]
            assert actor not in (shown["requested_by"], snap["registered_by"], snap["owner"])
            self.events += 1

    @invariant()
    def stages_match_and_chain_verifies(self):
        actual = {v["version"]: v["stage"] for v in self.gov.list_versions("aud")}
        assert actual == self.stages
        report = self.gov.audit_verify("aud")
        assert report.ok, report
        assert report.events == self.events


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
