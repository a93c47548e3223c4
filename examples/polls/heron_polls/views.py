"""The pages: index, detail (the vote form), results, and the vote itself."""

from __future__ import annotations

from typing import Any

from heron import templating, web

from . import db


def _question_id(request: web.Request) -> int:
    return int(request.match_info["question_id"])  # the route only matches digits


@templating.template("index.html")
async def index(request: web.Request) -> dict[str, Any]:
    async with request.app[db.engine_key].connect() as conn:
        questions = await db.get_questions(conn)
    return {"questions": questions}


async def _question_and_choices(request: web.Request) -> dict[str, Any]:
    async with request.app[db.engine_key].connect() as conn:
        try:
            question, choices = await db.get_question(conn, _question_id(request))
        except db.RecordNotFound as exc:
            raise web.HTTPNotFound(text=str(exc)) from exc
    return {"question": question, "choices": choices}


@templating.template("detail.html")
async def poll(request: web.Request) -> dict[str, Any]:
    return await _question_and_choices(request)


@templating.template("results.html")
async def results(request: web.Request) -> dict[str, Any]:
    return await _question_and_choices(request)


async def vote(request: web.Request) -> web.StreamResponse:
    question_id = _question_id(request)
    data = await request.post()
    try:
        choice_id = int(str(data["choice"]))
    except (KeyError, ValueError):
        return await _vote_refused(request, "You didn't select a choice.")
    async with request.app[db.engine_key].begin() as conn:
        try:
            await db.vote(conn, question_id, choice_id)
        except db.RecordNotFound as exc:
            raise web.HTTPNotFound(text=str(exc)) from exc
        except ValueError:
            refused = True
        else:
            refused = False
    if refused:
        return await _vote_refused(request, "That is not a choice of this question.")
    location = request.app.router["results"].url_for(question_id=str(question_id))
    raise web.HTTPFound(location=location)


async def _vote_refused(request: web.Request, message: str) -> web.Response:
    """The vote form again, with ``message``, as a 400 page."""
    context = await _question_and_choices(request)
    context["error_message"] = message
    return templating.render_template("detail.html", request, context, status=400)
