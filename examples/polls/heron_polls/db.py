"""The database: SQLAlchemy Core tables and queries, run through its asyncio API.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when the config says so.
"""

from __future__ import annotations

import datetime
import pathlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
)
from sqlalchemy.engine import URL, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from heron import web

from .settings import Config, PostgresConfig, SqliteConfig

meta = MetaData()

question = Table(
    "question",
    meta,
    Column("id", Integer, primary_key=True),
    Column("question_text", String(200), nullable=False),
    Column("pub_date", Date, nullable=False),
)

choice = Table(
    "choice",
    meta,
    Column("id", Integer, primary_key=True),
    Column("choice_text", String(200), nullable=False),
    Column("votes", Integer, server_default="0", nullable=False),
    Column("question_id", Integer, ForeignKey("question.id", ondelete="CASCADE"), nullable=False),
)

SAMPLE_QUESTIONS = [
    {"id": 1, "question_text": "What's new?", "pub_date": datetime.date(2015, 12, 15)},
]
SAMPLE_CHOICES = [
    {"id": 1, "choice_text": "Not much", "votes": 0, "question_id": 1},
    {"id": 2, "choice_text": "The sky", "votes": 0, "question_id": 1},
    {"id": 3, "choice_text": "Just hacking again", "votes": 0, "question_id": 1},
]

config_key = web.AppKey("config", Config)
engine_key = web.AppKey("engine", AsyncEngine)


class RecordNotFound(Exception):
    """The requested row does not exist."""


# ---------------------------------------------------------------------- engine


def database_url(config: Config) -> URL:
    db = config.database
    if isinstance(db, SqliteConfig):
        return URL.create("sqlite+aiosqlite", database=str(pathlib.Path(db.path).resolve()))
    return URL.create(
        "postgresql+asyncpg",
        username=db.user,
        password=db.password,
        host=db.host,
        port=db.port,
        database=db.database,
    )


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # so ON DELETE CASCADE applies
    cursor.execute("PRAGMA busy_timeout=30000")  # writers queue instead of failing
    cursor.close()


def create_engine(config: Config) -> AsyncEngine:
    db = config.database
    if isinstance(db, PostgresConfig):
        return create_async_engine(database_url(config), pool_size=db.maxsize, max_overflow=0)
    engine = create_async_engine(database_url(config))
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def create_tables(conn: AsyncConnection, *, drop: bool = False) -> None:
    if drop:
        await conn.run_sync(meta.drop_all)
    await conn.run_sync(meta.create_all)


async def sample_data(conn: AsyncConnection) -> bool:
    """Insert the tutorial's question and choices into empty tables; False if not empty."""
    if await conn.scalar(select(func.count()).select_from(question)):
        return False
    await conn.execute(question.insert(), SAMPLE_QUESTIONS)
    await conn.execute(choice.insert(), SAMPLE_CHOICES)
    if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        for table in (question, choice):
            await conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT max(id) FROM {table.name}))"
            )
    return True


async def init_db(engine: AsyncEngine, *, drop: bool = False) -> bool:
    """Create the tables (dropping them first if ``drop``) and the sample data.

    Returns whether sample data was inserted (it is not when the tables already have rows).
    """
    async with engine.begin() as conn:
        await create_tables(conn, drop=drop)
        return await sample_data(conn)


async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
    """``app.cleanup_ctx``: open the engine at start-up, dispose of it at clean-up.

    An SQLite database is created and seeded on first start; PostgreSQL needs ``init_db``.
    """
    config: Config = app[config_key]
    engine = create_engine(config)
    try:
        if isinstance(config.database, SqliteConfig):
            await init_db(engine)
        else:
            async with engine.connect() as conn:  # fail at start-up, not at the first request
                await conn.exec_driver_sql("SELECT 1")
        app[engine_key] = engine
        yield
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------- queries


async def get_questions(conn: AsyncConnection) -> list[Row[Any]]:
    result = await conn.execute(question.select().order_by(question.c.pub_date.desc()))
    return list(result.fetchall())


async def get_question(conn: AsyncConnection, question_id: int) -> tuple[Row[Any], list[Row[Any]]]:
    result = await conn.execute(question.select().where(question.c.id == question_id))
    question_record = result.first()
    if question_record is None:
        raise RecordNotFound(f"Question with id: {question_id} does not exist")
    result = await conn.execute(
        choice.select().where(choice.c.question_id == question_id).order_by(choice.c.id)
    )
    return question_record, list(result.fetchall())


async def vote(conn: AsyncConnection, question_id: int, choice_id: int) -> None:
    """Add one vote, atomically in the database (``votes = votes + 1``).

    Raises :class:`RecordNotFound` when the question does not exist and ``ValueError`` when
    the choice does not exist or belongs to another question.
    """
    result = await conn.execute(
        choice.update()
        .where(choice.c.id == choice_id, choice.c.question_id == question_id)
        .values(votes=choice.c.votes + 1)
    )
    if result.rowcount == 1:
        return
    exists = await conn.scalar(select(question.c.id).where(question.c.id == question_id))
    if exists is None:
        raise RecordNotFound(f"Question with id: {question_id} does not exist")
    raise ValueError(f"Choice {choice_id} is not a choice of question {question_id}")
