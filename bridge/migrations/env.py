"""Alembic environment: runs migrations on the engine handed over by bridge.db.migrate."""
from alembic import context

from bridge.db.tables import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
