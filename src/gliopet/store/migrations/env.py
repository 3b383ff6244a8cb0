"""Alembic environment of the gliopet cohort store.

Run through :func:`gliopet.store.upgrade`, which hands over an open
connection (``config.attributes["connection"]``) already inside a
transaction that holds the database's write lock, so that two processes
migrating the same new database one after the other do not collide.
"""

from alembic import context

from gliopet.store._models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via gliopet.store.upgrade
    raise RuntimeError("run migrations through gliopet.store.upgrade(engine)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
