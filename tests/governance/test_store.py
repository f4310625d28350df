from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from mlgov.governance.errors import NotInitialized
from mlgov.governance.store import SCHEMA_HEAD, Store, _versions_dir


def test_schema_head_constant_matches_migrations():
    cfg = Config()
    cfg.set_main_option("script_location", str(_versions_dir().parent))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_models_match_migrations(tmp_path):
    """The ORM and the migrations describe the same schema (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mlgov.governance.tables import Base

    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    store.upgrade()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_uninitialized_store_is_refused(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    with pytest.raises(NotInitialized, match="mlgov init"):
        store.check_current()
    store.upgrade()
    store.check_current()
    assert store.upgrade() == SCHEMA_HEAD  # upgrading again is a no-op
