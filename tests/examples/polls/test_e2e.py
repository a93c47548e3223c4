"""The polls app end to end over real sockets, against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from heron_polls import db
from heron_polls.main import create_app

from heron import web
from heron.test_utils import TestClient

from .conftest import sqlite_config

RESULT_RE = re.compile(
    r'data-choice-id="(\d+)">[^<]*<span class="votes">(\d+)</span>', re.MULTILINE
)


def engine_of(client: TestClient) -> Any:
    return client.server.app[db.engine_key]  # type: ignore[union-attr]


async def votes_in_db(client: TestClient) -> dict[int, int]:
    async with engine_of(client).connect() as conn:
        rows = await conn.execute(sa.select(db.choice.c.id, db.choice.c.votes))
        return {row.id: row.votes for row in rows}


async def votes_on_page(client: TestClient, question_id: int = 1) -> dict[int, int]:
    resp = await client.get(f"/poll/{question_id}/results")
    assert resp.status == 200
    text = await resp.text()
    return {int(cid): int(votes) for cid, votes in RESULT_RE.findall(text)}


async def test_index_lists_the_seeded_question(polls_client: TestClient) -> None:
    resp = await polls_client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    text = await resp.text()
    assert '<a href="/poll/1">What&#39;s new?</a>' in text
    assert 'href="/static/style.css"' in text


async def test_detail_is_the_vote_form(polls_client: TestClient) -> None:
    resp = await polls_client.get("/poll/1")
    assert resp.status == 200
    text = await resp.text()
    assert '<form action="/poll/1/vote" method="post">' in text
    radios = re.findall(r'<input type="radio" name="choice" id="choice\d" value="(\d+)">', text)
    assert radios == ["1", "2", "3"]
    for label in ("Not much", "The sky", "Just hacking again"):
        assert label in text


async def test_vote_redirects_to_results_with_the_count_incremented(
    polls_client: TestClient,
) -> None:
    assert await votes_on_page(polls_client) == {1: 0, 2: 0, 3: 0}
    resp = await polls_client.post("/poll/1/vote", data={"choice": "2"}, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/poll/1/results"
    resp = await polls_client.post("/poll/1/vote", data={"choice": "2"})  # as a browser does
    assert resp.status == 200
    assert resp.url.path == "/poll/1/results"
    assert await votes_on_page(polls_client) == {1: 0, 2: 2, 3: 0}
    assert await votes_in_db(polls_client) == {1: 0, 2: 2, 3: 0}


BAD_CHOICES = [
    ({}, "You didn&#39;t select a choice."),
    ({"choice": "abc"}, "You didn&#39;t select a choice."),
    ({"choice": "999"}, "That is not a choice of this question."),
    ({"choice": "4"}, "That is not a choice of this question."),  # question 2's choice
]


async def test_missing_or_foreign_choice_is_a_400_page(polls_client: TestClient) -> None:
    async with engine_of(polls_client).begin() as conn:
        await conn.execute(
            db.question.insert(),
            [{"id": 2, "question_text": "Other?", "pub_date": date(2016, 1, 1)}],
        )
        await conn.execute(db.choice.insert(), [{"id": 4, "choice_text": "x", "question_id": 2}])
    for data, message in BAD_CHOICES:
        resp = await polls_client.post("/poll/1/vote", data=data, allow_redirects=False)
        assert resp.status == 400, data
        text = await resp.text()
        assert message in text, data
        assert '<form action="/poll/1/vote" method="post">' in text  # the form again
    assert await votes_in_db(polls_client) == {1: 0, 2: 0, 3: 0, 4: 0}


async def test_missing_question_or_page_is_the_custom_404(polls_client: TestClient) -> None:
    for method, path in [
        ("GET", "/poll/99"),
        ("GET", "/poll/99/results"),
        ("POST", "/poll/99/vote"),
        ("GET", "/no/such/page"),
    ]:
        resp = await polls_client.request(method, path, data={"choice": "1"})
        assert resp.status == 404, path
        assert resp.content_type == "text/html"
        text = await resp.text()
        assert "<h1>404: Page not found</h1>" in text, path
        assert 'href="/static/style.css"' in text  # the site's page, not a bare error


async def test_static_css(polls_client: TestClient) -> None:
    resp = await polls_client.get("/static/style.css")
    assert resp.status == 200
    assert resp.content_type == "text/css"
    assert "font-family" in await resp.text()


@pytest.mark.heron_timeout(120)
async def test_200_concurrent_votes_are_all_counted(polls_client: TestClient) -> None:
    before = await votes_in_db(polls_client)

    async def one_vote() -> int:
        resp = await polls_client.post("/poll/1/vote", data={"choice": "3"}, allow_redirects=False)
        await resp.release()
        return resp.status

    statuses = await asyncio.gather(*(one_vote() for _ in range(200)))
    assert statuses == [302] * 200
    after = await votes_in_db(polls_client)
    assert after[3] - before[3] == 200
    assert after == {**before, 3: before[3] + 200}
    assert (await votes_on_page(polls_client))[3] == before[3] + 200


async def test_schema_cascade_and_default(polls_client: TestClient) -> None:
    async with engine_of(polls_client).begin() as conn:
        await conn.execute(
            db.question.insert(), [{"id": 7, "question_text": "Q?", "pub_date": date(2020, 2, 2)}]
        )
        await conn.execute(db.choice.insert(), [{"choice_text": "a", "question_id": 7}])
        default_votes = await conn.scalar(
            sa.select(db.choice.c.votes).where(db.choice.c.question_id == 7)
        )
        assert default_votes == 0
        await conn.execute(db.question.delete().where(db.question.c.id == 7))
        left = await conn.scalar(
            sa.select(sa.func.count()).select_from(db.choice).where(db.choice.c.question_id == 7)
        )
        assert left == 0  # ON DELETE CASCADE


async def test_engine_is_disposed_on_cleanup(polls_config: Any, aiohttp_server: Any) -> None:
    if polls_config.database.engine == "postgres":
        # fresh data; tables may hold another test's rows
        engine = db.create_engine(polls_config)
        try:
            await db.init_db(engine, drop=True)
        finally:
            await engine.dispose()
    server = await aiohttp_server(create_app(polls_config))
    client = TestClient(server)
    try:
        assert (await client.get("/poll/1")).status == 200
        engine = server.app[db.engine_key]
        idle = engine.pool.checkedin()
        assert idle >= 1
        closed: list[object] = []
        sa.event.listen(engine.sync_engine, "close", lambda *args: closed.append(args))
    finally:
        await client.close()  # closes the server too: the app's cleanup runs
    assert len(closed) == idle
    assert engine.pool.checkedin() == 0


async def test_unexpected_error_is_the_custom_500_page_and_logged(
    tmp_path: Path, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(sqlite_config(tmp_path / "polls.db"))

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("kaboom")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR, logger="heron_polls"):
        resp = await client.get("/boom")
        text = await resp.text()
    assert resp.status == 500
    assert "<h1>500: Internal server error</h1>" in text
    assert "kaboom" not in text
    assert any("GET /boom" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_sqlite_database_is_created_and_seeded_once(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    path = tmp_path / "fresh.db"
    assert not path.exists()
    client = await aiohttp_client(create_app(sqlite_config(path)))
    assert path.exists()
    resp = await client.post("/poll/1/vote", data={"choice": "1"})
    assert resp.status == 200
    await client.close()
    # a second start keeps the data (and does not seed twice)
    client = await aiohttp_client(create_app(sqlite_config(path)))
    assert await votes_in_db(client) == {1: 1, 2: 0, 3: 0}
