from __future__ import annotations

import pytest
from notes_app import Database, create_app

#: Every database the module-scoped fixture opened, in order.
OPENED: list[Database] = []


@pytest.fixture(scope="module")
async def database():
    db = await Database.connect()
    OPENED.append(db)
    yield db
    await db.close()


@pytest.fixture
async def client(aiohttp_client, database):
    return await aiohttp_client(create_app(database))
