"""heron.sessions over real sockets: the seed's "Last visited" example, the encrypted cookie
storage (attributes, tampering, server-side expiry, key rotation, size limit), identity
rotation against fixation, and the test-only SimpleCookieStorage."""

from __future__ import annotations

import base64
import json
import logging
import time
from http.cookies import SimpleCookie
from typing import Any

import pytest
from cryptography.fernet import Fernet

from heron import web
from heron.client import ClientPayloadError, DummyCookieJar
from heron.sessions import (
    InsecureStorageWarning,
    Session,
    SessionData,
    SimpleCookieStorage,
    get_session,
    new_session,
    session_middleware,
    setup,
)
from heron.sessions.cookie_storage import CookieTooLargeError, EncryptedCookieStorage


class Clock:
    """An injected clock: tests move time instead of sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def set_cookie_headers(resp: Any) -> list[str]:
    return list(resp.headers.getall("Set-Cookie", []))


def session_cookie(resp: Any, name: str = "AIOHTTP_SESSION") -> str | None:
    for header in set_cookie_headers(resp):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar[name].value
    return None


async def counter(request: web.Request) -> web.Response:
    session = await get_session(request)
    session["n"] = session.get("n", 0) + 1
    return web.json_response({"n": session["n"], "identity": session.identity})


async def show(request: web.Request) -> web.Response:
    session = await get_session(request)
    return web.json_response({"data": dict(session), "new": session.new})


def session_app(storage: Any) -> web.Application:
    app = web.Application()
    setup(app, storage)
    app.router.add_get("/count", counter)
    app.router.add_get("/show", show)
    return app


# -- the seed's example, with only the imports changed ------------------------------------


async def test_seed_last_visited_example(aiohttp_client: Any) -> None:
    # aiohttp's "User Sessions" example; aiohttp_session's imports replaced by heron's.
    import asyncio  # noqa: F401  (the example's imports, kept as written)
    import base64
    import time  # noqa: F401

    from cryptography import fernet

    from heron import web
    from heron.sessions import get_session, session_middleware, setup  # noqa: F401
    from heron.sessions.cookie_storage import EncryptedCookieStorage

    async def handler(request):  # type: ignore[no-untyped-def]
        session = await get_session(request)
        last_visit = session["last_visit"] if "last_visit" in session else None  # noqa: SIM401
        text = "Last visited: {}".format(last_visit)  # noqa: UP032
        return web.Response(text=text)

    def make_app():  # type: ignore[no-untyped-def]
        app = web.Application()
        # secret_key must be 32 url-safe base64-encoded bytes
        fernet_key = fernet.Fernet.generate_key()
        secret_key = base64.urlsafe_b64decode(fernet_key)
        setup(app, EncryptedCookieStorage(secret_key))
        app.router.add_route("GET", "/", handler)
        return app

    client = await aiohttp_client(make_app())
    for _ in range(2):
        async with client.get("/") as resp:
            assert resp.status == 200
            assert await resp.text() == "Last visited: None"


async def test_seed_example_completed_remembers_the_visit(aiohttp_client: Any) -> None:
    # The same example as aiohttp's documentation completes it: the visit is recorded.
    async def handler(request: web.Request) -> web.Response:
        session = await get_session(request)
        last_visit = session.get("last_visit")
        session["last_visit"] = time.time()
        return web.Response(text=f"Last visited: {last_visit}")

    app = web.Application()
    secret_key = base64.urlsafe_b64decode(Fernet.generate_key())
    setup(app, EncryptedCookieStorage(secret_key))
    app.router.add_route("GET", "/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "Last visited: None"
    before = time.time()
    async with client.get("/") as resp:
        visited = float((await resp.text()).removeprefix("Last visited: "))
    assert before - 60 < visited <= before


async def test_session_middleware_in_application_middlewares(aiohttp_client: Any) -> None:
    storage = EncryptedCookieStorage(Fernet.generate_key())
    app = web.Application(middlewares=[session_middleware(storage)])
    app.router.add_get("/count", counter)
    client = await aiohttp_client(app)
    for expected in (1, 2, 3):
        async with client.get("/count") as resp:
            assert (await resp.json())["n"] == expected


# -- EncryptedCookieStorage ----------------------------------------------------------------


async def test_cookie_attributes_and_opaque_value(aiohttp_client: Any) -> None:
    storage = EncryptedCookieStorage(
        Fernet.generate_key(),
        cookie_name="SID",
        domain="127.0.0.1",
        path="/",
        max_age=600,
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    client = await aiohttp_client(session_app(storage))
    async with client.get("/count") as resp:
        assert resp.status == 200
        (header,) = set_cookie_headers(resp)
    lowered = header.lower()
    for attribute in ("httponly", "secure", "samesite=strict", "max-age=600", "path=/"):
        assert attribute in lowered, header
    assert "domain=127.0.0.1" in lowered
    assert "expires=" in lowered
    value = header.split(";", 1)[0].removeprefix("SID=")
    assert '"n"' not in value and "n:" not in value  # encrypted, not readable


async def test_tampered_or_foreign_cookie_starts_a_new_session(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    storage = EncryptedCookieStorage(Fernet.generate_key())
    client = await aiohttp_client(session_app(storage), cookie_jar=DummyCookieJar())
    async with client.get("/count") as resp:
        token = session_cookie(resp)
    assert token is not None
    forged = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"session": {"admin": true}}').decode()
    caplog.set_level(logging.WARNING, "heron.sessions")
    for bad in (forged, foreign, "not-a-token"):
        async with client.get("/show", headers={"Cookie": f"AIOHTTP_SESSION={bad}"}) as resp:
            assert await resp.json() == {"data": {}, "new": True}
    assert "could not be decrypted" in caplog.text


async def test_server_refuses_a_replayed_cookie_after_max_age(aiohttp_client: Any) -> None:
    clock = Clock()
    storage = EncryptedCookieStorage(Fernet.generate_key(), max_age=60, clock=clock)
    client = await aiohttp_client(session_app(storage), cookie_jar=DummyCookieJar())
    async with client.get("/count") as resp:
        token = session_cookie(resp)
    assert token is not None
    replay = {"Cookie": f"AIOHTTP_SESSION={token}"}
    clock.now += 59
    async with client.get("/show", headers=replay) as resp:
        assert await resp.json() == {"data": {"n": 1}, "new": False}
    clock.now += 2  # 61 s after the cookie was written: a browser would have dropped it
    async with client.get("/show", headers=replay) as resp:
        assert await resp.json() == {"data": {}, "new": True}


async def test_per_session_max_age_is_kept_and_enforced(aiohttp_client: Any) -> None:
    clock = Clock()
    storage = EncryptedCookieStorage(Fernet.generate_key(), max_age=60, clock=clock)

    async def remember_me(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["user"] = "ann"
        session.max_age = 3600
        return web.Response()

    app = session_app(storage)
    app.router.add_get("/remember", remember_me)
    client = await aiohttp_client(app, cookie_jar=DummyCookieJar())
    async with client.get("/remember") as resp:
        assert "Max-Age=3600" in set_cookie_headers(resp)[0]
        token = session_cookie(resp)
    replay = {"Cookie": f"AIOHTTP_SESSION={token}"}
    clock.now += 3000
    async with client.get("/show", headers=replay) as resp:
        assert (await resp.json())["data"] == {"user": "ann"}
    clock.now += 601
    async with client.get("/show", headers=replay) as resp:
        assert (await resp.json())["new"] is True


async def test_cookie_from_aiohttp_session_is_read_and_expires_by_its_timestamp(
    aiohttp_client: Any,
) -> None:
    # aiohttp_session's cookies carry no expiry field: Fernet's own timestamp bounds them.
    key = Fernet.generate_key()
    clock = Clock()
    storage = EncryptedCookieStorage(key, max_age=100, clock=clock)
    plain = json.dumps({"created": int(clock.now), "session": {"user": "bob"}}).encode()
    legacy = Fernet(key).encrypt_at_time(plain, int(clock.now)).decode()
    client = await aiohttp_client(session_app(storage), cookie_jar=DummyCookieJar())
    replay = {"Cookie": f"AIOHTTP_SESSION={legacy}"}
    async with client.get("/show", headers=replay) as resp:
        assert await resp.json() == {"data": {"user": "bob"}, "new": False}
    clock.now += 101
    async with client.get("/show", headers=replay) as resp:
        assert await resp.json() == {"data": {}, "new": True}


async def test_key_rotation(aiohttp_client: Any) -> None:
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    old_client = await aiohttp_client(
        session_app(EncryptedCookieStorage(old_key)), cookie_jar=DummyCookieJar()
    )
    async with old_client.get("/count") as resp:
        old_token = session_cookie(resp)
    assert old_token is not None
    replay = {"Cookie": f"AIOHTTP_SESSION={old_token}"}

    rotated = await aiohttp_client(
        session_app(EncryptedCookieStorage([new_key, old_key])), cookie_jar=DummyCookieJar()
    )
    async with rotated.get("/show", headers=replay) as resp:
        assert await resp.json() == {"data": {"n": 1}, "new": False}
        new_token = session_cookie(resp)  # re-issued under the new key
    assert new_token is not None
    assert json.loads(Fernet(new_key).decrypt(new_token.encode()))["session"] == {"n": 1}

    only_new = await aiohttp_client(
        session_app(EncryptedCookieStorage(new_key)), cookie_jar=DummyCookieJar()
    )
    async with only_new.get("/show", headers=replay) as resp:
        assert (await resp.json())["new"] is True
    async with only_new.get("/show", headers={"Cookie": f"AIOHTTP_SESSION={new_token}"}) as r:
        assert await r.json() == {"data": {"n": 1}, "new": False}


async def test_session_too_large_for_a_cookie_is_a_clear_error(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def big(request: web.Request) -> web.Response:
        session = await get_session(request)
        session["blob"] = "x" * 5000
        return web.Response(text="stored?")

    app = session_app(EncryptedCookieStorage(Fernet.generate_key()))
    app.router.add_get("/big", big)
    client = await aiohttp_client(app)
    caplog.set_level(logging.ERROR)
    async with client.get("/big") as resp:
        assert resp.status == 500
        assert "Set-Cookie" not in resp.headers
    assert "CookieTooLargeError" in caplog.text
    assert "4096-byte limit" in caplog.text


def test_storage_size_check_message() -> None:
    storage = EncryptedCookieStorage(Fernet.generate_key(), max_cookie_size=200)
    assert storage.max_cookie_size == 200
    with pytest.raises(ValueError, match="32 random bytes"):
        EncryptedCookieStorage(b"too short")
    with pytest.raises(ValueError, match="At least one"):
        EncryptedCookieStorage([])
    assert issubclass(CookieTooLargeError, ValueError)


# -- identity rotation, invalidation, raised responses ----------------------------------


def login_app(storage: Any) -> web.Application:
    async def login(request: web.Request) -> web.Response:
        session = await new_session(request)
        session["user"] = "ann"
        raise web.HTTPFound("/show")

    async def logout(request: web.Request) -> web.Response:
        session = await get_session(request)
        session.invalidate()
        return web.Response(text="bye")

    app = session_app(storage)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    return app


async def test_new_session_rotates_identity_and_redirect_carries_cookie(
    aiohttp_client: Any,
) -> None:
    storage = EncryptedCookieStorage(Fernet.generate_key())
    client = await aiohttp_client(login_app(storage))
    async with client.get("/count") as resp:
        before = (await resp.json())["identity"]
    async with client.post("/login", allow_redirects=False) as resp:
        assert resp.status == 302
        assert session_cookie(resp) is not None  # the raised HTTPFound carries the cookie
    async with client.get("/count") as resp:
        body = await resp.json()
    assert body["n"] == 1  # the pre-login data is gone
    assert body["identity"] != before
    async with client.get("/show") as resp:
        assert (await resp.json())["data"] == {"user": "ann", "n": 1}


async def test_new_session_without_data_still_replaces_the_cookie(aiohttp_client: Any) -> None:
    async def reset(request: web.Request) -> web.Response:
        await new_session(request)
        return web.Response()

    app = session_app(EncryptedCookieStorage(Fernet.generate_key()))
    app.router.add_get("/reset", reset)
    client = await aiohttp_client(app)
    async with client.get("/count"):
        pass
    async with client.get("/reset") as resp:
        assert any("Max-Age=0" in h for h in set_cookie_headers(resp))
    async with client.get("/show") as resp:
        assert await resp.json() == {"data": {}, "new": True}


async def test_invalidate_deletes_the_cookie(aiohttp_client: Any) -> None:
    client = await aiohttp_client(login_app(EncryptedCookieStorage(Fernet.generate_key())))
    async with client.post("/login"):
        pass
    async with client.post("/logout") as resp:
        assert await resp.text() == "bye"
        (header,) = set_cookie_headers(resp)
        assert header.startswith('AIOHTTP_SESSION=""') or header.startswith("AIOHTTP_SESSION=;")
        assert "Max-Age=0" in header
    async with client.get("/show") as resp:
        assert await resp.json() == {"data": {}, "new": True}


async def test_unchanged_session_sets_no_cookie(aiohttp_client: Any) -> None:
    client = await aiohttp_client(session_app(EncryptedCookieStorage(Fernet.generate_key())))
    async with client.get("/count"):
        pass
    async with client.get("/show") as resp:
        assert set_cookie_headers(resp) == []


async def test_streamed_responses_do_not_save_the_session_and_say_so(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp_session's rule: only a web.Response (or a raised HTTPException) carries it.
    async def streamed(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        if "late" in request.query:
            await resp.prepare(request)
        session = await get_session(request)
        session["streamed"] = True
        if resp.prepared:
            await resp.write(b"body")
        return resp

    app = session_app(EncryptedCookieStorage(Fernet.generate_key()))
    app.router.add_get("/streamed", streamed)
    client = await aiohttp_client(app)
    caplog.set_level(logging.WARNING, "heron.sessions")
    for query in ("", "?late"):
        async with client.get("/streamed" + query) as resp:
            assert resp.status == 200
            assert set_cookie_headers(resp) == []
            assert await resp.read() == (b"body" if query else b"")
    assert caplog.text.count("the session is not saved") == 2
    async with client.get("/show") as resp:
        assert await resp.json() == {"data": {}, "new": True}


async def test_returning_a_prepared_response_or_no_response_is_an_error(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def prepared(request: web.Request) -> web.StreamResponse:
        resp = web.Response(text="early")
        await resp.prepare(request)
        return resp

    async def not_a_response(request: web.Request) -> Any:
        return "text"

    app = session_app(EncryptedCookieStorage(Fernet.generate_key()))
    app.router.add_get("/prepared", prepared)
    app.router.add_get("/none", not_a_response)
    client = await aiohttp_client(app)
    caplog.set_level(logging.ERROR)
    async with client.get("/none") as resp:
        assert resp.status == 500
    assert "Expected a response from the handler" in caplog.text
    async with client.get("/prepared") as resp:
        assert resp.status == 200  # its head was out before the middleware could refuse it
        with pytest.raises(ClientPayloadError):
            await resp.read()
    assert "already prepared" in caplog.text


async def test_get_session_without_setup_raises(aiohttp_client: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        with pytest.raises(RuntimeError, match=r"heron\.sessions\.setup"):
            await get_session(request)
        with pytest.raises(RuntimeError, match=r"heron\.sessions\.setup"):
            await new_session(request)
        return web.Response(text="checked")

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.get("/") as resp:
        assert await resp.text() == "checked"


# -- Session object and SimpleCookieStorage ----------------------------------------------


def test_session_mapping_and_flags() -> None:
    data: SessionData = {"created": 123, "session": {"a": 1}}
    session = Session("id1", data=data, new=False, max_age=5, now=128)
    assert (session.identity, session.created) == ("id1", 123)
    assert (session.new, session.max_age) == (False, 5)
    assert dict(session) == {"a": 1} and "a" in session and len(session) == 1
    assert not session.is_changed
    assert repr(session) == "<Session [new:False, changed:False, created:123] {'a': 1}>"
    session["b"] = 2
    assert session.is_changed
    assert abs(session.created - time.time()) < 60  # a write dates the session anew
    with pytest.raises(RuntimeError, match="not new"):
        session.set_new_identity("other")
    session.invalidate()
    assert session.empty
    fresh = Session(None, data=None, new=True)
    fresh.set_new_identity("k")
    assert fresh.identity == "k" and abs(fresh.created - time.time()) < 60


def test_session_data_rules_of_aiohttp_session() -> None:
    # Data older than max_age is not loaded; {} means "nothing stored": new, no identity.
    data: SessionData = {"created": 100, "session": {"a": 1}}
    assert dict(Session("k", data=data, new=False, max_age=10, now=110)) == {"a": 1}
    assert dict(Session("k", data=data, new=False, max_age=10, now=111)) == {}
    assert dict(Session("k", data=data, new=False, now=10**10)) == {"a": 1}
    nothing = Session("k", data={}, new=False)
    assert (nothing.identity, nothing.new, nothing.empty) == (None, True, True)


async def test_simple_cookie_storage_is_for_tests_and_says_so(aiohttp_client: Any) -> None:
    assert "TESTS ONLY" in (SimpleCookieStorage.__doc__ or "")
    with pytest.warns(InsecureStorageWarning, match="tests only"):
        storage = SimpleCookieStorage()
    client = await aiohttp_client(session_app(storage))
    async with client.get("/count") as resp:
        raw = session_cookie(resp)
    assert raw is not None and json.loads(raw)["session"] == {"n": 1}  # plain JSON
    async with client.get("/count") as resp:
        assert (await resp.json())["n"] == 2


# -- aiohttp_session's own functions on a heron app (the bridge) ---------------------------


async def test_aiohttp_session_functions_see_heron_sessions(aiohttp_client: Any) -> None:
    # What plugins built on aiohttp_session (aiohttp-security...) call, on heron's setup.
    import aiohttp_session

    async def plugin_writes(request: web.Request) -> web.Response:
        session = await aiohttp_session.get_session(request)
        session["by_plugin"] = "yes"
        return web.Response(text="written")

    async def plugin_rotates(request: web.Request) -> web.Response:
        session = await aiohttp_session.new_session(request)
        session["rotated"] = True
        return web.Response(text="rotated")

    async def both_agree(request: web.Request) -> web.Response:
        ours = await get_session(request)
        theirs = await aiohttp_session.get_session(request)
        assert ours is theirs and isinstance(theirs, aiohttp_session.Session)
        assert request[aiohttp_session.SESSION_KEY] is ours
        assert request[aiohttp_session.STORAGE_KEY] is storage
        return web.json_response(dict(ours))

    storage = EncryptedCookieStorage(Fernet.generate_key())
    app = session_app(storage)
    app.router.add_get("/write", plugin_writes)
    app.router.add_get("/rotate", plugin_rotates)
    app.router.add_get("/agree", both_agree)
    client = await aiohttp_client(app)
    async with client.get("/write") as resp:
        assert (resp.status, await resp.text()) == (200, "written")
    async with client.get("/agree") as resp:
        assert await resp.json() == {"by_plugin": "yes"}
    async with client.get("/rotate") as resp:
        assert resp.status == 200
    async with client.get("/agree") as resp:
        assert await resp.json() == {"rotated": True}


async def test_sliding_expiry_and_the_cookie_date_format(aiohttp_client: Any) -> None:
    # aiohttp_session's rules: each write dates the session anew; data older than max_age
    # is not loaded; Expires is written as "Thu, 01-Jan-1970 00:00:10 GMT".
    clock = Clock(0.0)
    with pytest.warns(InsecureStorageWarning):
        storage = SimpleCookieStorage(max_age=10, clock=clock)
    client = await aiohttp_client(session_app(storage))
    async with client.get("/count") as resp:
        assert resp.cookies["AIOHTTP_SESSION"]["expires"] == "Thu, 01-Jan-1970 00:00:10 GMT"
    clock.now = 8.0
    async with client.get("/count") as resp:  # written at 8: good until 18
        assert "00:00:18" in resp.cookies["AIOHTTP_SESSION"]["expires"]
    clock.now = 15.0
    async with client.get("/show") as resp:
        assert (await resp.json())["data"] == {"n": 2}
    clock.now = 30.0  # the client kept the cookie; the server does not load it
    async with client.get("/show") as resp:
        assert (await resp.json())["data"] == {}


async def test_simple_storage_writes_an_empty_session_as_braces(aiohttp_client: Any) -> None:
    with pytest.warns(InsecureStorageWarning):
        storage = SimpleCookieStorage()
    client = await aiohttp_client(login_app(storage))
    async with client.post("/login"):
        pass
    async with client.post("/logout") as resp:
        assert resp.cookies["AIOHTTP_SESSION"].value == "{}"  # as aiohttp_session writes it
    async with client.get("/show") as resp:
        assert await resp.json() == {"data": {}, "new": True}


# -- NaClCookieStorage ---------------------------------------------------------------------


async def test_nacl_cookie_storage(aiohttp_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    import nacl.secret
    import nacl.utils
    from nacl.encoding import Base64Encoder

    from heron.sessions.nacl_storage import NaClCookieStorage

    with pytest.raises(ValueError, match="32 random bytes"):
        NaClCookieStorage(b"short")
    key = nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE)
    clock = Clock()
    client = await aiohttp_client(
        session_app(NaClCookieStorage(key, max_age=60, clock=clock)), cookie_jar=DummyCookieJar()
    )
    async with client.get("/count") as resp:
        token = session_cookie(resp)
    assert token is not None and '"n"' not in token
    box = nacl.secret.SecretBox(key)
    sealed = json.loads(box.decrypt(token.encode(), encoder=Base64Encoder))
    assert sealed["session"] == {"n": 1}
    replay = {"Cookie": f"AIOHTTP_SESSION={token}"}
    clock.now += 59
    async with client.get("/show", headers=replay) as resp:
        assert await resp.json() == {"data": {"n": 1}, "new": False}
    clock.now += 2
    async with client.get("/show", headers=replay) as resp:
        assert (await resp.json())["data"] == {}  # older than max_age: not loaded
    # A cookie sealed the way aiohttp_session seals it is read; a foreign or forged one is not.
    legacy = {"created": int(clock.now), "session": {"user": "bob"}}
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    theirs = box.encrypt(json.dumps(legacy).encode(), nonce, encoder=Base64Encoder).decode()
    async with client.get("/show", headers={"Cookie": f"AIOHTTP_SESSION={theirs}"}) as resp:
        assert await resp.json() == {"data": {"user": "bob"}, "new": False}
    other = nacl.secret.SecretBox(nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))
    foreign = other.encrypt(json.dumps(legacy).encode(), encoder=Base64Encoder).decode()
    caplog.set_level(logging.WARNING, "heron.sessions")
    for bad in (foreign, "not-base64!", token[:-4] + "AAAA"):
        async with client.get("/show", headers={"Cookie": f"AIOHTTP_SESSION={bad}"}) as resp:
            assert await resp.json() == {"data": {}, "new": True}
    assert "could not be decrypted" in caplog.text
