"""URL routes of the polls app."""

from __future__ import annotations

from heron import web

from . import views
from .settings import PACKAGE_DIR


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", views.index, name="index")
    app.router.add_get(r"/poll/{question_id:\d+}", views.poll, name="poll")
    app.router.add_get(r"/poll/{question_id:\d+}/results", views.results, name="results")
    app.router.add_post(r"/poll/{question_id:\d+}/vote", views.vote, name="vote")
    setup_static_routes(app)


def setup_static_routes(app: web.Application) -> None:
    app.router.add_static("/static/", path=PACKAGE_DIR / "static", name="static")
