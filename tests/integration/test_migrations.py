"""The migrations build the schema the models describe, from an empty database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from mailward.db.base import Base
from mailward.db.engine import Database
from mailward.db.migrate import alembic_config, current_revision, upgrade


async def test_upgrade_from_empty_leaves_no_pending_autogenerate_diff(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await current_revision(db.engine) is None
        await upgrade(db.engine)
        head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
        assert await current_revision(db.engine) == head

        def diff(connection: object) -> list[object]:
            context = MigrationContext.configure(
                connection,  # type: ignore[arg-type]
                opts={"compare_type": True},
            )
            return list(compare_metadata(context, Base.metadata))

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
        await upgrade(db.engine)  # a second upgrade is a no-op
    finally:
        await db.dispose()


def test_the_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
