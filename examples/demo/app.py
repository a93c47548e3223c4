"""A small heron demo: the aiohttp hello-world with a few more routes.

Run with ``make demo`` and open http://localhost:8080/.
"""

from heron import web

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return web.Response(
        text=(
            "<!doctype html><title>heron</title>"
            "<h1>Hello from heron</h1>"
            '<p>Try <a href="/hello/world">/hello/world</a> or <a href="/json">/json</a>.</p>'
        ),
        content_type="text/html",
    )


@routes.get("/hello/{name}")
async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"Hello, {request.match_info['name']}")


@routes.get("/json")
async def as_json(request: web.Request) -> web.Response:
    return web.json_response({"framework": "heron", "path": request.path})


def make_app() -> web.Application:
    app = web.Application()
    app.add_routes(routes)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="0.0.0.0", port=8080)
