"""Signed checkpoints catch what the plain chain cannot: a rehashed chain and a cut tail.

The tamper matrix edits, deletes, inserts, reorders and truncates events, each naively and
as a careful insider would (every later hash recomputed, head rewound), against checkpoints
written after every event (dense) and after every stage change (sparse).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import tampering

from mlgov.governance import audit
from mlgov.governance.checkpoints import (
    ChainContradictsCheckpoint,
    Checkpointer,
    generate_keys,
    parse_line,
    verify_checkpoints,
    write_checkpoint,
)
from mlgov.governance.clock import FixedClock
from mlgov.governance.errors import BadInput
from mlgov.governance.gates import Gates
from mlgov.governance.service import Governance
from mlgov.governance.store import Store
from mlgov.governance.tables import StoreIdentity
from mlgov.governance.testing import FakeRegistry

ACTORS = ["ds1", "ro1", "eng", "aud", "admin"]
ACTIONS = ["card.set", "approval.decide", "drift.check", "note.add"]


def _keys(where: Path) -> tuple[Path, Path]:
    priv, pub = where / "keys" / "audit-signing.key", where / "keys" / "audit-signing.pub"
    if not priv.exists():
        generate_keys(priv, pub)
    return priv, pub


def _governance(db: Path, cp_file: Path, key: Path, clock: FixedClock | None = None):
    store = Store(f"sqlite:///{db}")
    gov = Governance(
        store,
        clock=clock or FixedClock(),
        gates=Gates(),
        registry=FakeRegistry(),
        checkpointer=Checkpointer(key_path=key, file=cp_file),
    )
    return gov


def _random_event(gov: Governance, rng: random.Random) -> None:
    payload = {
        "n": rng.randint(-(10**9), 10**9),
        "x": rng.random(),
        "text": "".join(rng.choice('abcé€中 \n"\\') for _ in range(rng.randint(0, 12))),
        "nested": {"list": [rng.randint(0, 9) for _ in range(rng.randint(0, 4))]},
    }
    gov.clock.advance(seconds=rng.randint(1, 3600))
    with gov.store.transaction() as s:
        gov.audit(s, rng.choice(ACTORS), rng.choice(ACTIONS), "model:credit/1", payload)


def _copy_db(src: Path, dst: Path) -> None:
    """A consistent copy, WAL included (a plain file copy may miss committed pages)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def _seqs(file: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in file.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> dict:
    """One governed history (users, registrations, stage changes, other events), with a
    checkpoint after every event (dense.jsonl) and after every stage change (sparse.jsonl)."""
    root = tmp_path_factory.mktemp("chain")
    priv, pub = _keys(root)
    db, sparse, dense = root / "g.db", root / "sparse.jsonl", root / "dense.jsonl"
    gov = _governance(db, sparse, priv)
    gov.store.upgrade()
    dense_writer = Checkpointer(key_path=priv, file=dense)
    rng = random.Random(11)

    def dense_checkpoint() -> None:
        with gov.store.read() as s:
            dense_writer.write(s, at=gov.now())

    gov.init("admin")
    dense_checkpoint()
    for name in ACTORS[:-1]:
        role = {"ds1": "data_scientist", "ro1": "risk_officer", "eng": "ml_engineer"}
        gov.add_user("admin", name, [role.get(name, "auditor")])
        dense_checkpoint()
    for n in range(1, 7):
        gov.register("ds1", "credit", risk_tier="low", purpose="scoring", run_id=f"r{n}")
        dense_checkpoint()
        for _ in range(rng.randint(1, 3)):
            _random_event(gov, rng)
            dense_checkpoint()
        gov.promote("ds1", "credit", str(n), "train")  # the hook writes sparse.jsonl
        dense_checkpoint()
    gov.retire("admin", "credit", "1", reason="superseded")
    dense_checkpoint()
    head = gov.audit_verify("aud")
    assert head.ok
    gov.store.engine.dispose()
    return {"db": db, "pub": pub, "priv": priv, "sparse": sparse, "dense": dense, "n": head.events}


def _copy(chain: dict, dest: Path) -> Governance:
    dest.mkdir()
    _copy_db(chain["db"], dest / "g.db")
    return _governance(dest / "g.db", dest / "cp.jsonl", chain["priv"])


def _expected(first_wrong: int, checkpoints: list[int], recomputed: bool) -> int:
    """Naive: the chain names the exact seq. Rehashed: the seq after the newest checkpoint
    that still matches (nothing before it can vouch for more)."""
    if not recomputed:
        return first_wrong
    return max([c for c in checkpoints if c < first_wrong], default=0) + 1


def _cases(n: int, sparse: list[int]) -> list[tuple[str, int]]:
    middle = sparse[len(sparse) // 2]
    cases = [(op, k) for op in ("edit", "delete", "insert") for k in (2, n // 2, n)]
    cases += [("reorder", k) for k in (2, n // 2, n - 1)]
    cases += [("truncate", 1), ("truncate", 5), ("truncate", n - middle)]  # all after a cp
    return cases


def test_tamper_matrix_every_case_caught_with_first_bad_seq(chain, tmp_path):
    n = chain["n"]
    sparse, dense = _seqs(chain["sparse"]), _seqs(chain["dense"])
    assert sparse[-1] == n and len(sparse) >= 7 and len(dense) >= n - 1
    tried = caught = right_seq = plain_caught = 0
    failures = []
    for op, at in _cases(n, sparse):
        for recomputed in (False, True):
            for density, file, seqs in (
                ("dense", chain["dense"], dense),
                ("sparse", chain["sparse"], sparse),
            ):
                tried += 1
                label = f"{op}@{at} {'rehashed' if recomputed else 'naive'} {density}"
                gov = _copy(chain, tmp_path / f"case{tried}")
                first_wrong = tampering.tamper(gov.store, op, at, recompute=recomputed)
                plain = gov.audit_verify("aud")
                plain_caught += not plain.chain.ok  # the chain check alone
                report = verify_checkpoints(gov, "aud", file, [chain["pub"]])
                gov.store.engine.dispose()
                if report.ok:
                    failures.append(f"{label}: not detected")
                    continue
                caught += 1
                want = _expected(first_wrong, seqs, recomputed)
                if report.first_bad_seq == want:
                    right_seq += 1
                else:
                    failures.append(f"{label}: first bad seq {report.first_bad_seq}, want {want}")
                if recomputed:
                    assert plain.chain.ok, f"{label}: the rehash helper left a broken chain"
    print(
        f"tamper cases: {tried} tried, {caught} caught, {right_seq} with the expected first "
        f"bad seq (the plain chain alone caught {plain_caught})"
    )
    assert not failures, failures
    assert tried == caught == right_seq == 2 * 2 * len(_cases(n, sparse))
    assert plain_caught == tried // 2  # every rehashed case fools the plain chain


def test_dense_checkpoints_name_the_exact_seq_of_a_rehash(chain, tmp_path):
    n = chain["n"]
    gov = _copy(chain, tmp_path / "c")
    tampering.tamper(gov.store, "edit", n - 3, recompute=True)
    report = verify_checkpoints(gov, "aud", chain["dense"], [chain["pub"]])
    assert not report.ok and report.first_bad_seq == n - 3
    assert report.covered_seq == n - 4
    assert "rewritten" in report.problem and f"seqs {n - 3}-{n - 3}" in report.problem


def test_truncated_tail_names_the_checkpoint_line(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    tampering.tamper(gov.store, "truncate", 3, recompute=True)
    report = verify_checkpoints(gov, "aud", chain["sparse"], [chain["pub"]])
    seqs = _seqs(chain["sparse"])
    first_gone = next(i for i, seq in enumerate(seqs, start=1) if seq > chain["n"] - 3)
    assert not report.ok and report.first_bad_line == first_gone
    assert "deleted" in report.problem


def test_residual_risk_events_after_the_last_checkpoint(chain, tmp_path):
    """Documented limit: events newer than every checkpoint can be cut without trace."""
    gov = _copy(chain, tmp_path / "c")
    _random_event(gov, random.Random(1))
    _random_event(gov, random.Random(2))
    before = verify_checkpoints(gov, "aud", chain["sparse"], [chain["pub"]])
    assert before.ok and before.uncovered_events == 2
    tampering.tamper(gov.store, "truncate", 2, recompute=True)
    after = verify_checkpoints(gov, "aud", chain["sparse"], [chain["pub"]])
    assert after.ok and after.uncovered_events == 0


# --- the checkpoint file itself -------------------------------------------------------------


def _lines(file: Path) -> list[str]:
    return file.read_text().splitlines()


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 3},
        {"head_hash": "a" * 64},
        {"time": "2020-01-01T00:00:00.000000Z"},
        {"database_id": "0" * 32},
    ],
    ids=lambda c: next(iter(c)),
)
def test_altered_checkpoint_line_reported_with_its_line_number(chain, tmp_path, change):
    lines = _lines(chain["sparse"])
    doc = json.loads(lines[2]) | change
    lines[2] = json.dumps(doc)
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(lines) + "\n")
    gov = _copy(chain, tmp_path / "c")
    report = verify_checkpoints(gov, "aud", forged, [chain["pub"]])
    assert not report.ok and report.first_bad_line == 3
    assert "signature does not verify" in report.problems[0].problem
    assert report.first_bad_seq is None  # the chain itself is fine


def test_checkpoint_signed_by_another_key_is_refused(chain, tmp_path):
    other_priv, _ = _keys(tmp_path / "other")
    gov = _copy(chain, tmp_path / "c")
    gov.checkpointer = Checkpointer(key_path=other_priv, file=gov.checkpointer.file)
    write_checkpoint(gov, "aud")
    report = verify_checkpoints(gov, "aud", gov.checkpointer.file, [chain["pub"]])
    assert not report.ok and report.first_bad_line == 1
    assert "not among the verification keys" in report.problem


def test_forged_line_claiming_the_signing_key_blocks_signing(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    lines = _lines(chain["sparse"])
    lines.append(json.dumps(json.loads(lines[-1]) | {"seq": 1}))
    gov.checkpointer.file.write_text("\n".join(lines) + "\n")
    with pytest.raises(ChainContradictsCheckpoint, match="does not verify"):
        write_checkpoint(gov, "aud")


def test_damaged_last_line_does_not_block_signing(chain, tmp_path):
    """A line cut by a crash is reported by verify, but later checkpoints still get written."""
    gov = _copy(chain, tmp_path / "c")
    text = chain["sparse"].read_text()
    gov.checkpointer.file.write_text(text + text.splitlines()[-1][:40] + "\n")
    write_checkpoint(gov, "aud")
    report = verify_checkpoints(gov, "aud", gov.checkpointer.file, [chain["pub"]])
    assert [p.line for p in report.problems] == [len(text.splitlines()) + 1]


def test_garbage_and_empty_files(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    junk = tmp_path / "junk.jsonl"
    junk.write_text(_lines(chain["sparse"])[0] + "\nnot json\n{}\n")
    report = verify_checkpoints(gov, "aud", junk, [chain["pub"]])
    assert [p.line for p in report.problems] == [2, 3] and report.first_bad_line == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    report = verify_checkpoints(gov, "aud", empty, [chain["pub"]])
    assert not report.ok and "no valid checkpoint" in report.problem
    with pytest.raises(BadInput, match="does not exist"):
        verify_checkpoints(gov, "aud", tmp_path / "missing.jsonl", [chain["pub"]])


def test_swapped_database_id_makes_every_checkpoint_foreign(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    with gov.store.transaction() as s:
        s.get(StoreIdentity, 1).database_id = "f" * 32
    report = verify_checkpoints(gov, "aud", chain["sparse"], [chain["pub"]])
    assert not report.ok and report.verified == 0
    assert "this database is " + "f" * 32 in report.problems[0].problem


def test_each_database_gets_its_own_stable_id(tmp_path):
    ids = []
    for name in ("a.db", "b.db"):
        store = Store(f"sqlite:///{tmp_path / name}")
        store.upgrade()
        store.upgrade()
        with store.read() as s:
            ids.append(s.get(StoreIdentity, 1).database_id)
    assert ids[0] != ids[1] and all(len(i) == 32 for i in ids)


# --- writing ---------------------------------------------------------------------------------


def test_refuses_to_sign_over_a_rehashed_chain(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    shutil.copy(chain["sparse"], gov.checkpointer.file)
    tampering.tamper(gov.store, "edit", 10, recompute=True)
    with pytest.raises(ChainContradictsCheckpoint, match="does not match its last checkpoint"):
        write_checkpoint(gov, "aud")
    assert _lines(gov.checkpointer.file) == _lines(chain["sparse"])


def test_stage_change_writes_a_checkpoint_of_its_own_event(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    gov.register("ds1", "other", risk_tier="low", purpose="scoring", run_id="r9")
    moved = gov.promote("ds1", "other", "1", "train")
    cps = [parse_line(line) for line in _lines(gov.checkpointer.file)]
    assert [c.seq for c in cps] == [moved["audit_seq"] - 1, moved["audit_seq"]]
    assert cps[-1].head_hash == gov.audit_verify("aud").head_hash
    assert verify_checkpoints(gov, "aud", gov.checkpointer.file, [chain["pub"]]).ok


def test_failed_checkpoint_never_undoes_the_move(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    gov.checkpointer.sinks = [blocker / "cp.jsonl"]
    moved = gov.promote("eng", "credit", "2", "deploy")
    assert moved["stage"] == "deploy" and gov.show("aud", "credit", "2")["stage"] == "deploy"
    assert len(gov.warnings) == 1 and "not written" in gov.warnings[0]
    assert "stage change is committed" in gov.warnings[0]
    # the main file got it; the next checkpoint covers everything once the sink is fixed
    assert _seqs(gov.checkpointer.file) == [moved["audit_seq"]]
    gov.checkpointer.sinks = []
    assert write_checkpoint(gov, "aud")["checkpoint"]["seq"] == moved["audit_seq"]


def test_without_a_key_moves_write_no_checkpoint(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    gov.checkpointer.key_path = tmp_path / "absent.key"
    gov.promote("eng", "credit", "2", "deploy")
    assert not gov.checkpointer.file.exists() and gov.warnings == []
    with pytest.raises(BadInput, match="mlgov init --keys"):
        write_checkpoint(gov, "aud")


def test_explicitly_configured_key_missing_warns_after_the_move(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    gov.checkpointer.key_path, gov.checkpointer.required = tmp_path / "absent.key", True
    with pytest.raises(BadInput, match="no audit signing key"):
        gov.promote("eng", "credit", "2", "deploy")  # refused up front: nothing moved
    assert gov.show("aud", "credit", "2")["stage"] == "train"


# --- keys ------------------------------------------------------------------------------------


def test_new_keys_are_private_and_never_overwritten(tmp_path):
    priv, pub = tmp_path / "k" / "a.key", tmp_path / "k" / "a.pub"
    info = generate_keys(priv, pub)
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(priv.parent).st_mode) == 0o700
    assert len(info["key_id"]) == 16 and b"PRIVATE KEY" in priv.read_bytes()
    before = priv.read_bytes()
    with pytest.raises(BadInput, match="already exists"):
        generate_keys(priv, pub)
    pub.unlink()
    with pytest.raises(BadInput, match="already exists"):  # the private key alone blocks too
        generate_keys(priv, pub)
    assert priv.read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_readable_by_others_is_refused_before_a_move(chain, tmp_path, mode):
    gov = _copy(chain, tmp_path / "c")
    key = tmp_path / "loose.key"
    shutil.copy(chain["priv"], key)
    os.chmod(key, mode)
    gov.checkpointer.key_path = key
    with pytest.raises(BadInput, match=f"{key}.*accessible by other users") as err:
        gov.promote("eng", "credit", "2", "deploy")
    assert err.value.exit_code == 2
    assert gov.show("aud", "credit", "2")["stage"] == "train"
    with pytest.raises(BadInput, match="chmod 600"):
        write_checkpoint(gov, "aud")


def test_rotated_keys_verify_old_and_new_checkpoints(chain, tmp_path):
    gov = _copy(chain, tmp_path / "c")
    file = gov.checkpointer.file
    write_checkpoint(gov, "aud")  # old key
    new_priv, new_pub = _keys(tmp_path / "new")
    gov.checkpointer = Checkpointer(key_path=new_priv, file=file)
    gov.promote("eng", "credit", "2", "deploy")  # new key, same file
    assert gov.warnings == []
    assert len({parse_line(line).key_id for line in _lines(file)}) == 2
    assert verify_checkpoints(gov, "aud", file, [chain["pub"], new_pub]).ok
    only_new = verify_checkpoints(gov, "aud", file, [new_pub])
    assert not only_new.ok and only_new.first_bad_line == 1
    assert "not among the verification keys" in only_new.problem


# --- no false alarms --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blank(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("blank")
    priv, pub = _keys(root)
    db = root / "g.db"
    gov = _governance(db, root / "unused.jsonl", priv)
    gov.store.upgrade()
    gov.init("admin")
    gov.store.engine.dispose()
    return {"db": db, "priv": priv, "pub": pub}


_payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_events = st.lists(
    st.tuples(
        st.sampled_from(ACTORS),
        st.text(min_size=1, max_size=30),
        st.dictionaries(st.text(max_size=10), _payloads, max_size=4),
        st.booleans(),  # checkpoint after this event?
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=_events,
    tamper=st.tuples(st.sampled_from(tampering.OPERATIONS), st.integers(1, 40), st.booleans()),
)
def test_random_logs_verify_clean_and_any_tamper_is_caught(blank, tmp_path_factory, events, tamper):
    where = tmp_path_factory.mktemp("rand")
    _copy_db(blank["db"], where / "g.db")
    gov = _governance(where / "g.db", where / "cp.jsonl", blank["priv"])
    clock = gov.clock
    for actor, subject, payload, checkpoint in events:
        clock.advance(microseconds=1)
        with gov.store.transaction() as s:
            audit.append_event(
                s, actor=actor, action="x.y", subject=subject[:200], payload=payload, at=clock.now()
            )
        if checkpoint:
            write_checkpoint(gov, "admin")
    write_checkpoint(gov, "admin")  # the head is always covered here
    clean = verify_checkpoints(gov, "admin", gov.checkpointer.file, [blank["pub"]])
    assert clean.ok, clean.problem  # no false alarm
    n = clean.chain.events
    op, at, recompute = tamper
    at = 1 + at % (n - 1 if op == "reorder" else n)
    if op == "truncate" and at >= n:
        at = n - 1  # keep at least one event; the genesis-only chain is another story
    first_wrong = tampering.tamper(gov.store, op, at, recompute=recompute)
    report = verify_checkpoints(gov, "admin", gov.checkpointer.file, [blank["pub"]])
    gov.store.engine.dispose()
    assert not report.ok
    seqs = _seqs(gov.checkpointer.file)
    assert report.first_bad_seq == _expected(first_wrong, seqs, recompute)
