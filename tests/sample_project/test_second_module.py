from __future__ import annotations

from conftest import OPENED


async def test_a_new_module_gets_a_new_database(client, database):
    # The module-scoped fixture was set up again for this module, with no notes.
    assert len(OPENED) >= 2
    assert OPENED[-1] is database
    assert all(db.closed for db in OPENED[:-1])
    resp = await client.get("/notes")
    assert await resp.json() == []
