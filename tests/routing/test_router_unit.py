"""Router corner cases at the unit level (no server)."""

from __future__ import annotations

from heron import web


def test_app_mounted_in_itself_does_not_recurse() -> None:
    """aiohttp accepts ``app.add_subapp(prefix, app)`` (the resource works; serving such an
    app cannot). Compiling the router must not chase the cycle."""
    app = web.Application()
    resource = app.add_subapp("/pre", app)
    assert resource.get_info() == {"prefix": "/pre", "app": app}
    assert resource.canonical == "/pre"
    assert app.router.sync_resolver() is None
