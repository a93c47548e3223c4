"""StaticResource: a directory served under a URL prefix (``router.add_static``).

Safety by construction, in this order:

1. the file name taken from the URL (``%2F`` and ``%25`` decoded, as in aiohttp) is
   checked lexically by :func:`heron._util.paths.split_relative`: NUL and control
   characters, backslashes, absolute and UNC paths, drive letters and any ``..`` that
   climbs above the root are refused with 404 before the file system is touched;
2. in a worker thread, the path is resolved and must still be inside the root unless
   ``follow_symlinks=True`` (then links may point anywhere, but ``..`` still cannot);
3. directories answer 403 unless ``show_index=True``; the index page escapes every name,
   sorts entries and hides dot-files; precompressed siblings obey rule 2 too.

Differences from aiohttp 3.14, on purpose: a missing file raises ``HTTPNotFound`` from the
handler (aiohttp returns a FileResponse that turns into an empty 404 when sent), so
middlewares can catch it; ``..`` that stays inside the root is resolved lexically, before
any symlink is followed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import os
import posixpath
import re
import stat as stat_mod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from yarl import URL

from .. import hdrs
from .._util.paths import confine, resolve_plain, split_relative
from .exceptions import HTTPForbidden, HTTPNotFound
from .fileresponse import DEFAULT_CHUNK_SIZE, FileResponse, _Ask, plan_file
from .handler_types import ExpectHandler, Handler
from .match_info import UrlMappingMatchInfo
from .resources import PrefixResource, ResolveResult, match_form
from .response import Response, StreamResponse
from .routes import AbstractRoute, ResourceRoute

__all__ = ("StaticResource",)

#: Entries listed at most on an index page (the rest are counted, not shown).
MAX_INDEX_ENTRIES: Final = 10_000
#: Content hashes kept per resource for ``url_for(append_version=True)``.
MAX_VERSION_CACHE: Final = 1024
_HASH_CHUNK: Final = 1024 * 1024
# yarl's path_safe keeps "/" and "%" encoded; the file name gets them back (one pass).
_SAFE_ESCAPE_RE: Final = re.compile(r"%2[fF5]")


def _unquote_safe(text: str) -> str:
    if "%" not in text:
        return text
    return _SAFE_ESCAPE_RE.sub(lambda m: "%" if m.group(0) == "%25" else "/", text)


class StaticResource(PrefixResource):
    """Serve the files under ``directory`` at ``prefix`` (GET and HEAD)."""

    VERSION_KEY = "v"

    def __init__(
        self,
        prefix: str,
        directory: str | os.PathLike[str],
        *,
        name: str | None = None,
        expect_handler: ExpectHandler | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        show_index: bool = False,
        follow_symlinks: bool = False,
        append_version: bool = False,
    ) -> None:
        super().__init__(prefix, name=name)
        try:
            resolved = Path(directory).expanduser().resolve(strict=True)
        except FileNotFoundError as error:
            raise ValueError(f"'{directory}' does not exist") from error
        if not resolved.is_dir():
            raise ValueError(f"'{directory}' is not a directory")
        self._directory = resolved
        self._root = str(resolved)
        self._chunk_size = chunk_size
        self._show_index = show_index
        self._follow_symlinks = follow_symlinks
        self._append_version = append_version
        self._expect_handler = expect_handler
        self._routes: dict[str, ResourceRoute] = {
            method: ResourceRoute(method, self._handle, self, expect_handler=expect_handler)
            for method in (hdrs.METH_GET, hdrs.METH_HEAD)
        }
        self._allowed_methods = set(self._routes)
        self._match_prefix = match_form(self._prefix).rstrip("/")
        self._versions: dict[tuple[str, int, int, int], str] = {}

    # ------------------------------------------------------------------ aiohttp's API

    def url_for(  # type: ignore[override]
        self,
        *,
        filename: str | os.PathLike[str],
        append_version: bool | None = None,
    ) -> URL:
        """The URL of ``filename``; with ``append_version``, ``?v=`` its content hash.

        The hash is computed once per version of the file (keyed by its path, size,
        modification time and inode) and only for files this resource would serve.
        Like aiohttp, this reads the file on the calling thread on a cache miss.
        """
        if append_version is None:
            append_version = self._append_version
        name = str(filename).lstrip("/")
        url = URL.build(path=self._prefix or "/", encoded=True) / name
        if append_version:
            version = self._version_of(name)
            if version is not None:
                url = url.with_query({self.VERSION_KEY: version})
        return url

    def _version_of(self, name: str) -> str | None:
        parts = split_relative(name)
        if parts is None:
            return None
        path = confine(os.path.join(self._root, *parts), self._root, self._follow_symlinks)
        if path is None:
            return None
        try:
            st = os.stat(path)
            if not stat_mod.S_ISREG(st.st_mode):
                return None
            key = (path, st.st_size, st.st_mtime_ns, st.st_ino)
            cached = self._versions.get(key)
            if cached is not None:
                return cached
            digest = hashlib.sha256()
            with open(path, "rb") as fobj:
                while chunk := fobj.read(_HASH_CHUNK):
                    digest.update(chunk)
        except OSError:
            return None
        version = base64.urlsafe_b64encode(digest.digest()).decode("ascii")
        if len(self._versions) >= MAX_VERSION_CACHE:
            del self._versions[next(iter(self._versions))]
        self._versions[key] = version
        return version

    def get_info(self) -> dict[str, Any]:
        """``{"directory": Path, "prefix": str, "routes": {method: route}}``."""
        return {"directory": self._directory, "prefix": self._prefix, "routes": self._routes}

    def set_options_route(self, handler: Handler) -> None:
        """Answer OPTIONS requests under the prefix with ``handler`` (e.g. for CORS)."""
        if hdrs.METH_OPTIONS in self._routes:
            raise RuntimeError("OPTIONS route was set already")
        self._routes[hdrs.METH_OPTIONS] = ResourceRoute(
            hdrs.METH_OPTIONS, handler, self, expect_handler=self._expect_handler
        )
        self._allowed_methods.add(hdrs.METH_OPTIONS)

    def add_prefix(self, prefix: str) -> None:
        """Prepend ``prefix`` (sub-applications)."""
        super().add_prefix(prefix)
        self._match_prefix = match_form(self._prefix).rstrip("/")

    # ------------------------------------------------------------------ resolving

    async def resolve(self, request: Any) -> ResolveResult:
        """Match paths under the prefix; the rest of the path is ``match_info["filename"]``."""
        return self._resolve_path(request.method, request.rel_url.path_safe, request)

    def _can_resolve_sync(self) -> bool:
        return type(self).resolve is StaticResource.resolve

    def _resolve_path(self, method: str, path: str, request: Any) -> ResolveResult:
        prefix = self._match_prefix
        inside = prefix + "/"
        if path != prefix and not path.startswith(inside):
            return None, set()
        # As aiohttp: a path that climbs out of the prefix is not ours at all.
        norm = posixpath.normpath(path)
        if norm != prefix and not norm.startswith(inside):
            return None, set()
        route = self._routes.get(method)
        if route is None:
            return None, self._allowed_methods
        filename = _unquote_safe(path[len(inside) :])
        return UrlMappingMatchInfo({"filename": filename}, route), self._allowed_methods

    def __len__(self) -> int:
        return len(self._routes)

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(self._routes.values())

    # ------------------------------------------------------------------ handling

    async def _handle(self, request: Any) -> StreamResponse:
        parts = split_relative(request.match_info["filename"])
        if parts is None:
            raise HTTPNotFound()
        response = FileResponse(
            os.path.join(self._root, *parts) if parts else self._root,
            chunk_size=self._chunk_size,
        )
        response._root = self._root
        response._follow_symlinks = self._follow_symlinks
        ask = response._make_ask(request)
        loop = asyncio.get_running_loop()
        # PERF: one executor job resolves, stats, evaluates the request and opens (and,
        # for a small file, reads) it ("static 64 KiB").
        kind, value = await loop.run_in_executor(None, self._lookup, parts, ask)
        if kind == "file":
            real, plan = value
            response._path = real
            response._plan = plan
            return response
        if kind == "index":
            return Response(text=value, content_type="text/html")
        if kind == "forbidden":
            raise HTTPForbidden()
        raise HTTPNotFound()

    def _lookup(self, parts: tuple[str, ...], ask: _Ask) -> tuple[str, Any]:
        """Worker thread: find what ``parts`` names and plan the answer."""
        st: os.stat_result | None
        try:
            plain = resolve_plain(self._root, parts)
        except (OSError, ValueError) as exc:
            kind = _lookup_failure(exc, ask, parts)
            if kind is not None:
                return kind, None
            plain = None  # maybe a precompressed sibling exists without the file
        if plain is not None:
            real, st = plain
        else:
            # A symbolic link below the root (or the root itself, or a missing name):
            # resolve and confine.
            confined = confine(os.path.join(self._root, *parts), self._root, self._follow_symlinks)
            if confined is None:
                return "missing", None
            real = confined
            try:
                st = os.stat(real)
            except (OSError, ValueError) as exc:
                kind = _lookup_failure(exc, ask, parts)
                if kind is not None:
                    return kind, None
                st = None  # plan_file looks for a sibling the client accepts
        if st is not None and stat_mod.S_ISDIR(st.st_mode):
            if not self._show_index:
                return "forbidden", None
            try:
                return "index", self._index_html(real, parts)
            except PermissionError:
                return "forbidden", None
            except OSError:
                return "missing", None
        plan = plan_file(real, ask, self._root, self._follow_symlinks, st)
        if plan.status == 404:
            return "missing", None
        if plan.status == 403:
            return "forbidden", None
        return "file", (real, plan)

    def _index_html(self, directory: str, parts: tuple[str, ...]) -> str:
        """Worker thread: the HTML index of ``directory`` (escaped, sorted, no dot-files)."""
        entries: list[tuple[str, bool]] = []
        hidden = 0
        with os.scandir(directory) as scan:
            for entry in scan:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if (
                        entry.is_symlink()
                        and confine(entry.path, self._root, self._follow_symlinks) is None
                    ):
                        continue  # it could not be served: do not advertise it
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if len(entries) >= MAX_INDEX_ENTRIES:
                    hidden += 1
                    continue
                entries.append((name, is_dir))
        entries.sort()
        # aiohttp's page, byte for byte (the root is "Index of /.", directory links have no
        # trailing slash), except that the link is HTML-escaped too.
        base = "/".join(parts)
        title = f"Index of /{html.escape(base or '.')}"
        items = []
        for name, is_dir in entries:
            path = f"/{base}/{name}" if base else f"/{name}"
            href = self._prefix + URL.build(path=path, encoded=False).raw_path
            label = name + "/" if is_dir else name
            items.append(f'<li><a href="{html.escape(href)}">{html.escape(label)}</a></li>')
        if hidden:
            items.append(f"<li>({hidden} more entries not shown)</li>")
        listing = "\n".join(items)
        return (
            f"<html>\n<head>\n<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n"
            f"<ul>\n{listing}\n</ul>\n</body>\n</html>"
        )

    def __repr__(self) -> str:
        name = f"'{self.name}'" if self.name is not None else ""
        return f"<StaticResource {name} {self._prefix} -> {self._directory!r}>"


def _lookup_failure(exc: Exception, ask: _Ask, parts: tuple[str, ...]) -> str | None:
    """What a failed stat of the requested file answers: "forbidden", "missing", or None
    when the file is missing but a precompressed sibling the client accepts may exist."""
    if isinstance(exc, PermissionError):
        return "forbidden"
    if isinstance(exc, FileNotFoundError) and ask.codings and parts:
        return None
    return "missing"
