"""run_app: serve an application until SIGINT/SIGTERM, then shut down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from .app import Application
from .log import AbstractAccessLogger, AccessLogger, access_logger
from .runners import AppRunner, BaseSite, GracefulExit, SockSite, TCPSite, UnixSite

__all__ = ("close_loop", "run_app")


async def _run_app(
    app: Application | Awaitable[Application],
    *,
    host: str | Iterable[str] | None = None,
    port: int | None = None,
    path: str | Iterable[str] | None = None,
    sock: socket.socket | Iterable[socket.socket] | None = None,
    shutdown_timeout: float = 60.0,
    keepalive_timeout: float = 75.0,
    ssl_context: ssl.SSLContext | None = None,
    print: Callable[..., None] | None = print,
    backlog: int = 128,
    access_log_class: type[AbstractAccessLogger] = AccessLogger,
    access_log_format: str = AccessLogger.LOG_FORMAT,
    access_log: logging.Logger | None = access_logger,
    handle_signals: bool = True,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
    handler_cancellation: bool = False,
    **kwargs: Any,
) -> None:
    if not isinstance(app, Application):
        app = await app
    runner = AppRunner(
        app,
        handle_signals=handle_signals,
        access_log_class=access_log_class,
        access_log_format=access_log_format,
        access_log=access_log,
        keepalive_timeout=keepalive_timeout,
        shutdown_timeout=shutdown_timeout,
        handler_cancellation=handler_cancellation,
        **kwargs,
    )
    try:
        # Inside the try: a failing on_startup still gets its cleanup run.
        await runner.setup()
        sites: list[BaseSite] = []
        if host is not None:
            hosts = [host] if isinstance(host, str) else list(host)
            for h in hosts:
                sites.append(
                    TCPSite(
                        runner,
                        h,
                        port,
                        ssl_context=ssl_context,
                        backlog=backlog,
                        reuse_address=reuse_address,
                        reuse_port=reuse_port,
                    )
                )
        elif (path is None and sock is None) or port is not None:
            sites.append(
                TCPSite(
                    runner,
                    port=port,
                    ssl_context=ssl_context,
                    backlog=backlog,
                    reuse_address=reuse_address,
                    reuse_port=reuse_port,
                )
            )
        if path is not None:
            paths = [path] if isinstance(path, str) else list(path)
            for p in paths:
                sites.append(UnixSite(runner, p, ssl_context=ssl_context, backlog=backlog))
        if sock is not None:
            socks = [sock] if isinstance(sock, socket.socket) else list(sock)
            for s in socks:
                sites.append(SockSite(runner, s, ssl_context=ssl_context, backlog=backlog))
        for site in sites:
            await site.start()
        if print is not None:
            names = sorted(str(s.name) for s in runner.sites)
            print(
                "======== Running on {} ========\n(Press CTRL+C to quit)".format(", ".join(names))
            )
        # Sleep forever; signals raise GracefulExit into this task.
        while True:
            await asyncio.sleep(3600)
    finally:
        await runner.cleanup()


def _cancel_tasks(to_cancel: set[asyncio.Task[Any]], loop: asyncio.AbstractEventLoop) -> None:
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during run_app() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )


def run_app(
    app: Application | Coroutine[Any, Any, Application],
    *,
    host: str | Iterable[str] | None = None,
    port: int | None = None,
    path: str | Iterable[str] | None = None,
    sock: socket.socket | Iterable[socket.socket] | None = None,
    shutdown_timeout: float = 60.0,
    keepalive_timeout: float = 75.0,
    ssl_context: ssl.SSLContext | None = None,
    print: Callable[..., None] | None = print,
    backlog: int = 128,
    access_log_class: type[AbstractAccessLogger] = AccessLogger,
    access_log_format: str = AccessLogger.LOG_FORMAT,
    access_log: logging.Logger | None = access_logger,
    handle_signals: bool = True,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
    handler_cancellation: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    **kwargs: Any,
) -> None:
    """Run ``app`` until interrupted (SIGINT/SIGTERM), then shut it down gracefully."""
    if loop is None:
        loop = asyncio.new_event_loop()
    # Like aiohttp: print access logs to stderr only in asyncio debug mode and only
    # for the default access logger; otherwise logging stays the app's business.
    if loop.get_debug() and access_log is not None and access_log.name == access_logger.name:
        if access_log.level == logging.NOTSET:
            access_log.setLevel(logging.DEBUG)
        if not access_log.hasHandlers():
            access_log.addHandler(logging.StreamHandler())
    asyncio.set_event_loop(loop)
    main_task = loop.create_task(
        _run_app(
            app,
            host=host,
            port=port,
            path=path,
            sock=sock,
            shutdown_timeout=shutdown_timeout,
            keepalive_timeout=keepalive_timeout,
            ssl_context=ssl_context,
            print=print,
            backlog=backlog,
            access_log_class=access_log_class,
            access_log_format=access_log_format,
            access_log=access_log,
            handle_signals=handle_signals,
            reuse_address=reuse_address,
            reuse_port=reuse_port,
            handler_cancellation=handler_cancellation,
            **kwargs,
        )
    )
    try:
        loop.run_until_complete(main_task)
    except (GracefulExit, KeyboardInterrupt):
        pass
    finally:
        close_loop(loop, main_task)


def close_loop(loop: asyncio.AbstractEventLoop, main_task: asyncio.Task[Any]) -> None:
    """Cancel ``main_task`` and run it to its end (its ``finally`` cleans up), cancel the
    tasks left, then close ``loop`` and unset it: the end of a process's serving loop."""
    try:
        main_task.cancel()
        with contextlib.suppress(
            asyncio.CancelledError, GracefulExit, KeyboardInterrupt, Exception
        ):
            # Cancelling the main task runs the runner's graceful cleanup.
            loop.run_until_complete(main_task)
    finally:
        _cancel_tasks(asyncio.all_tasks(loop), loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
