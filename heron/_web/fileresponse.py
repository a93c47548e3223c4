"""FileResponse: a file on disk as a response.

Every file response carries a strong ``ETag`` and ``Last-Modified`` and honours the
conditional request fields (RFC 9110 §13), byte ranges, one or several (§14; several are
sent as ``multipart/byteranges``), and precompressed siblings (``file.zst``, ``file.br``,
``file.gz``) chosen by ``Accept-Encoding``; as in aiohttp, a sibling is served even
when the file itself does not exist.

All file-system work for a response (stat, choosing a sibling, opening, reading a small
file) happens in one job on the loop's default executor, which produces a :class:`_Plan`;
the loop thread only evaluates headers and writes. Bodies are sent zero-copy where the
transport allows it (see ``heron._io.sendfile``).

Differences from aiohttp, on purpose: Last-Modified is the modification time rounded
*down* (aiohttp rounds up, so its Last-Modified can be later than its Date, and an
``If-Modified-Since`` echoing it never matches a file modified within the second); an
``If-Range`` date must equal Last-Modified (aiohttp accepts any later date); ``Range`` is
only honoured for GET (RFC 9110 §14.2) and 200 responses; conditional fields are ignored
for responses whose status is not 2xx (§13.2.1); a precompressed sibling that is a symlink
is served if it resolves next to the file (or inside the static root) instead of never.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import mimetypes
import os
import stat as stat_mod
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .. import hdrs
from .._io.sendfile import read_chunks, sendfile, zero_copy_fd
from .._io.writer import ResponseWriter
from .._proto.conditional import (
    EntityTag,
    Preconditions,
    coding_weight,
    evaluate_preconditions,
    if_range_holds,
    parse_accept_encoding,
)
from .._proto.ranges import (
    Piece,
    byteranges_pieces,
    content_range,
    parse_range,
    unsatisfied_range,
)
from .._util.dates import http_date
from .._util.paths import confine
from .response import StreamResponse

if TYPE_CHECKING:
    from .request import BaseRequest

__all__ = ("DEFAULT_CHUNK_SIZE", "FileResponse", "content_disposition", "guess_content_type")

#: aiohttp's default: bytes per read when a file is not sent zero-copy.
DEFAULT_CHUNK_SIZE: Final = 256 * 1024
#: Bodies up to this size are read by the job that opens the file and written with the
#: head in one transport write; larger ones are streamed.
SMALL_BODY: Final = 64 * 1024
#: Bytes per ``sendfile`` system call (a fairness bound, not a buffer).
SENDFILE_WINDOW: Final = 1024 * 1024
#: Precompressed siblings: Content-Encoding and file suffix, in the server's order of
#: preference when the client weighs several equally.
SIBLINGS: Final = (("zstd", ".zst"), ("br", ".br"), ("gzip", ".gz"))

FALLBACK_CONTENT_TYPE: Final = "application/octet-stream"

_TYPES: Final = mimetypes.MimeTypes()
# Compressed files served as themselves (archive.tar.gz) are gzip files, not tar files
# with a Content-Encoding: map the suffixes to types and forget them as encodings.
_TYPES.encodings_map.clear()
for _type, _suffix in (
    ("application/gzip", ".gz"),
    ("application/x-brotli", ".br"),
    ("application/zstd", ".zst"),
    ("application/x-bzip2", ".bz2"),
    ("application/x-xz", ".xz"),
    ("application/x-compress", ".Z"),
):
    _TYPES.add_type(_type, _suffix)

_O_FLAGS: Final = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
# os.access checks the effective ids (those open() uses) where the platform can.
_ACCESS_KW: Final[dict[str, bool]] = (
    {"effective_ids": True} if os.access in os.supports_effective_ids else {}
)
# Hold the executor futures that close files until they are done.
_CLOSING: set[asyncio.Future[None]] = set()


@functools.lru_cache(maxsize=512)
def _type_for_suffix(suffix: str) -> str:
    return _TYPES.guess_type("x" + suffix)[0] or FALLBACK_CONTENT_TYPE


def guess_content_type(name: str) -> str:
    """The Content-Type for a file name.

    Without a charset, as aiohttp sends it: the server does not know how a text file is
    encoded, and a wrong charset garbles it where none lets the client detect it.
    """
    # PERF: the answer depends only on the last suffix: cache by suffix.
    base = os.path.basename(name)
    dot = base.rfind(".")
    return _type_for_suffix(base[dot:] if dot > 0 else "")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` value (RFC 6266) naming ``filename``.

    ASCII names are quoted; other names get an ASCII fallback plus ``filename*`` in UTF-8
    (RFC 8187). Control characters are dropped, so the value cannot split headers.
    """
    if disposition.lower() not in ("attachment", "inline"):
        raise ValueError(f"disposition must be 'attachment' or 'inline', not {disposition!r}")
    name = "".join(c for c in filename if c >= " " and c != "\x7f")
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    value = f'{disposition}; filename="{fallback}"'
    if not name.isascii():
        encoded = urllib.parse.quote(name, safe="!#$&+-.^_`|~", encoding="utf-8")
        value += f"; filename*=UTF-8''{encoded}"
    return value


@dataclass(slots=True)
class _Ask:
    """What the request asks for, read on the loop thread for the file job."""

    method: str
    pre: Preconditions
    range: str | None
    if_range: str | None
    codings: dict[str, float]
    content_type: str | None  # set by the job from the file name when None
    status: int
    compress: bool
    now: float


@dataclass(slots=True)
class _Plan:
    """The answer worked out by the file job; ``fd`` (when >= 0) must be closed."""

    status: int
    size: int = 0
    etag: EntityTag | None = None
    mtime: int = 0
    encoding: str | None = None
    pieces: list[Piece] = field(default_factory=list)
    length: int = 0
    body: bytes | None = None
    fd: int = -1
    multipart_type: str | None = None
    content_range: str | None = None
    short: bool = False


def _ask_for(request: BaseRequest, status: int, content_type: str | None, compress: bool) -> _Ask:
    headers = request.headers
    get = headers.get
    if_match = get(hdrs.IF_MATCH)
    if if_match is not None:
        if_match = ",".join(headers.getall(hdrs.IF_MATCH))
    if_none_match = get(hdrs.IF_NONE_MATCH)
    if if_none_match is not None:
        if_none_match = ",".join(headers.getall(hdrs.IF_NONE_MATCH))
    accept = get(hdrs.ACCEPT_ENCODING)
    return _Ask(
        method=request.method,
        pre=Preconditions.parse(
            if_match, if_none_match, get(hdrs.IF_MODIFIED_SINCE), get(hdrs.IF_UNMODIFIED_SINCE)
        ),
        range=get(hdrs.RANGE),
        if_range=get(hdrs.IF_RANGE),
        codings=parse_accept_encoding(accept) if accept else {},
        content_type=content_type,
        status=status,
        compress=compress,
        now=time.time(),
    )


# ---------------------------------------------------------------------- the file job
# Everything below until FileResponse runs in a worker thread.


def plan_file(
    path: str,
    ask: _Ask,
    root: str | None,
    follow_symlinks: bool,
    st: os.stat_result | None = None,
) -> _Plan:
    """Stat, pick a sibling, evaluate the request, open and maybe read: one executor job.

    ``root`` (a resolved directory) confines precompressed siblings that are symlinks;
    without it they must resolve inside the file's own directory. ``st`` is the file's
    stat when the caller has it already.
    """
    if st is None:
        try:
            st = os.stat(path)
        except PermissionError:
            return _Plan(403)
        except (OSError, ValueError):  # missing, not a directory, a loop, a NUL, too long
            # As aiohttp: a precompressed sibling is served without its original.
            found = _sibling(path, None, ask.codings, root, follow_symlinks)
            if found is None:
                return _Plan(404)
            return _plan_found(path, ask, root, follow_symlinks, *found)
    if not stat_mod.S_ISREG(st.st_mode):
        return _Plan(403)
    if ask.codings:
        found = _sibling(path, st, ask.codings, root, follow_symlinks)
        if found is not None:
            return _plan_found(path, ask, root, follow_symlinks, *found)
    return _plan_found(path, ask, root, follow_symlinks, path, st, None)


def _plan_found(
    path: str,
    ask: _Ask,
    root: str | None,
    follow_symlinks: bool,
    serve: str,
    st: os.stat_result,
    encoding: str | None,
) -> _Plan:
    """Evaluate the request against ``serve`` (``path`` or a sibling), then open it."""
    if ask.content_type is None:
        ask.content_type = guess_content_type(path)
    plan = _evaluate(st, encoding, ask)
    if not plan.pieces or plan.length == 0 or ask.method == "HEAD":
        # No body to send: the file need not be opened, but a file the server may not
        # read is still a 403 (as when it is opened), not a 200 that describes it.
        if plan.pieces and not os.access(serve, os.R_OK, **_ACCESS_KW):
            return _Plan(403)
        return plan
    return _open(serve, st, encoding, ask, plan, root is not None and not follow_symlinks)


def _sibling(
    path: str,
    st: os.stat_result | None,
    codings: dict[str, float],
    root: str | None,
    follow_symlinks: bool,
) -> tuple[str, os.stat_result, str] | None:
    """The precompressed sibling of ``path`` to serve, or None.

    ``st`` is the stat of ``path`` itself, None when it does not exist: then any sibling
    the client accepts will do; otherwise the sibling must be at least as new as the file
    and weigh at least as much as identity.
    """
    if not codings:
        return None
    identity = coding_weight(codings, "identity") if st is not None else 0.0
    ranked = sorted(
        (
            (coding_weight(codings, coding), -i, coding, suffix)
            for i, (coding, suffix) in enumerate(SIBLINGS)
        ),
        reverse=True,
    )
    base_root = root
    for weight, _, coding, suffix in ranked:
        if weight <= 0 or weight < identity:
            break
        candidate = path + suffix
        try:
            if stat_mod.S_ISLNK(os.lstat(candidate).st_mode):
                # A symlinked sibling obeys the rule the file itself obeys.
                if base_root is None:
                    base_root = os.path.dirname(os.path.realpath(path))
                real = confine(candidate, base_root, follow_symlinks and root is not None)
                if real is None:
                    continue
                candidate = real
            cst = os.stat(candidate)
        except (OSError, ValueError):
            continue
        if stat_mod.S_ISREG(cst.st_mode) and (st is None or cst.st_mtime_ns >= st.st_mtime_ns):
            return candidate, cst, coding
    return None


def _evaluate(st: os.stat_result, encoding: str | None, ask: _Ask) -> _Plan:
    size = st.st_size
    tag = f"{st.st_mtime_ns:x}-{size:x}"
    etag = EntityTag(f"{tag}-{encoding}" if encoding else tag)
    mtime = st.st_mtime_ns // 1_000_000_000
    plan = _Plan(ask.status, size, etag, mtime, encoding)
    if not 200 <= ask.status < 300:
        # RFC 9110 §13.2.1: conditions do not apply to a response that is not a 2xx.
        plan.pieces = [(0, size)]
        plan.length = size
        return plan
    outcome = evaluate_preconditions(ask.pre, ask.method, etag, mtime)
    if outcome:
        plan.status = outcome
        return plan
    ranges = None
    if (
        ask.range is not None
        and ask.method == "GET"  # RFC 9110 §14.2: range handling is defined for GET only
        and ask.status == 200
        and not ask.compress
        and (ask.if_range is None or if_range_holds(ask.if_range, etag, mtime, ask.now))
    ):
        ranges = parse_range(ask.range, size)
        if ranges.status == 416:
            plan.status = 416
            return plan
    if ranges is None or ranges.status == 200:
        plan.pieces = [(0, size)]
        plan.length = size
        return plan
    plan.status = 206
    if len(ranges.ranges) == 1:
        start, stop = ranges.ranges[0]
        plan.pieces = [(start, stop - start)]
        plan.length = stop - start
        plan.content_range = content_range(start, stop, size)
    else:
        plan.multipart_type, plan.pieces, plan.length = byteranges_pieces(
            ranges.ranges, size, ask.content_type or FALLBACK_CONTENT_TYPE
        )
    return plan


def _open(
    path: str, st: os.stat_result, encoding: str | None, ask: _Ask, plan: _Plan, confined: bool
) -> _Plan:
    try:
        # O_NONBLOCK: if the file became a FIFO since the stat, opening must not hang.
        fd = os.open(path, _O_FLAGS | (_O_NOFOLLOW if confined else 0))
    except PermissionError:
        return _Plan(403)
    except (OSError, ValueError):
        return _Plan(404)
    try:
        fst = os.fstat(fd)
        if not stat_mod.S_ISREG(fst.st_mode):
            os.close(fd)
            return _Plan(403)
        if (fst.st_ino, fst.st_dev, fst.st_size, fst.st_mtime_ns) != (
            st.st_ino,
            st.st_dev,
            st.st_size,
            st.st_mtime_ns,
        ):
            # Replaced or modified since the stat: describe what was opened.
            plan = _evaluate(fst, encoding, ask)
            if not plan.pieces or plan.length == 0:
                os.close(fd)
                return plan
        if plan.length <= SMALL_BODY and not ask.compress:
            plan.body = _read_pieces(fd, plan)
            os.close(fd)
            return plan
    except BaseException:
        os.close(fd)
        raise
    plan.fd = fd
    return plan


def _read_pieces(fd: int, plan: _Plan) -> bytes:
    pieces = plan.pieces
    if len(pieces) == 1 and not isinstance(pieces[0], bytes):
        # PERF: "static 64 KiB": a whole file or one range is usually one pread,
        # without the bytearray and its copy into bytes.
        offset, count = pieces[0]
        data = os.pread(fd, count, offset)
        if len(data) == count:
            return data
    out = bytearray()
    for piece in plan.pieces:
        if isinstance(piece, bytes):
            out += piece
            continue
        offset, count = piece
        while count > 0:
            data = os.pread(fd, count, offset)
            if not data:
                plan.short = True  # the file shrank after the fstat
                return bytes(out)
            out += data
            offset += len(data)
            count -= len(data)
    return bytes(out)


def _close_later(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    future = loop.run_in_executor(None, os.close, fd)
    _CLOSING.add(future)
    future.add_done_callback(_CLOSING.discard)


# ---------------------------------------------------------------------- the response


class FileResponse(StreamResponse):
    """Send the file at ``path`` (aiohttp's ``web.FileResponse``).

    ``chunk_size`` is the read size when the file cannot be sent zero-copy (TLS, or
    ``HERON_NOSENDFILE``/``AIOHTTP_NOSENDFILE`` set). A missing file answers 404, an
    unreadable one 403, a directory or other non-regular file 403.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        status: int = 200,
        reason: str | None = None,
        headers: Any = None,
    ) -> None:
        super().__init__(status=status, reason=reason, headers=headers)
        # PERF: a str, not a Path: building Paths cost 5% of a small static response.
        self._path: str = os.fspath(path)
        self._chunk_size = chunk_size
        self._plan: _Plan | None = None
        self._root: str | None = None
        self._follow_symlinks = False

    def __del__(self) -> None:
        plan = self._plan
        if plan is not None and plan.fd >= 0:
            # Planned by a static handler but never sent (a middleware replaced it).
            with contextlib.suppress(OSError):
                os.close(plan.fd)
            plan.fd = -1

    def _make_ask(self, request: BaseRequest) -> _Ask:
        content_type = self._headers.get(hdrs.CONTENT_TYPE)
        return _ask_for(request, self._status, content_type, self._compression)

    async def _plan_for(self, request: BaseRequest) -> _Plan:
        loop = asyncio.get_running_loop()
        ask = self._make_ask(request)
        return await loop.run_in_executor(
            None, plan_file, self._path, ask, self._root, self._follow_symlinks
        )

    async def prepare(self, request: BaseRequest) -> ResponseWriter | None:
        """Work out the answer (in a worker thread), send the head and the body."""
        if self._eof_sent:
            return None
        if self._writer is not None:
            return self._writer
        self._claim(request)
        plan = self._plan
        if plan is None:
            plan = await self._plan_for(request)
        self._plan = None
        try:
            return await self._send_plan(request, plan)
        finally:
            if plan.fd >= 0:
                _close_later(asyncio.get_running_loop(), plan.fd)
                plan.fd = -1

    def _apply(self, plan: _Plan) -> None:
        """Set status and headers from the plan."""
        headers = self._headers
        status = plan.status
        if plan.etag is None or (not plan.pieces and status != 304):
            # No such file (403/404), or a failed precondition or range (412/416).
            self.set_status(status)
            headers.pop(hdrs.CONTENT_ENCODING, None)
            if status == 416:
                headers[hdrs.CONTENT_RANGE] = unsatisfied_range(plan.size)
            self.content_length = 0
            return
        if plan.encoding is not None:
            headers[hdrs.CONTENT_ENCODING] = plan.encoding
            if hdrs.ACCEPT_ENCODING not in headers.getall(hdrs.VARY, ()):
                headers.add(hdrs.VARY, hdrs.ACCEPT_ENCODING)
            self._compression = False  # never compress a compressed file again
        headers[hdrs.ETAG] = f'"{plan.etag.value}"'
        headers[hdrs.LAST_MODIFIED] = http_date(plan.mtime)
        if status == 304:
            self.set_status(304)
            return
        if status != self._status:
            self.set_status(status)
        if plan.multipart_type is not None:
            headers[hdrs.CONTENT_TYPE] = plan.multipart_type
        elif hdrs.CONTENT_TYPE not in headers:
            headers[hdrs.CONTENT_TYPE] = guess_content_type(self._path)
        if plan.content_range is not None:
            headers[hdrs.CONTENT_RANGE] = plan.content_range
        headers[hdrs.ACCEPT_RANGES] = "bytes"
        headers.pop(hdrs.TRANSFER_ENCODING, None)
        self._chunked = False
        self.content_length = plan.length
        if plan.short:
            self.force_close()

    async def _send_plan(self, request: BaseRequest, plan: _Plan) -> ResponseWriter:
        self._apply(plan)
        await request._prepare_hook(self)
        body = plan.body
        if body is not None and not self._compression and not self._chunked:
            # PERF: small files: head and body in one transport write ("static 64 KiB").
            self._finish_headers(request)
            writer = self._writer = request._payload_writer
            head = self._serialize_head(request.version)
            self._body_length = len(body)
            self._must_be_empty_body = False
            writer.send_all(head + body)
            self._eof_sent = True
            await writer.drain()
            return writer
        writer = self._start(request)
        if not self._must_be_empty_body:
            if body is not None:
                await self.write(body)
            elif plan.fd >= 0:
                await self._send_pieces(request, writer, plan)
        await self.write_eof()
        return writer

    async def _send_pieces(self, request: BaseRequest, writer: ResponseWriter, plan: _Plan) -> None:
        transport = request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("Connection lost")
        sock_fd = None if self._compression else zero_copy_fd(transport)
        timeout = _write_timeout(request)
        for piece in plan.pieces:
            if isinstance(piece, bytes):
                await self.write(piece)
                continue
            offset, count = piece
            if sock_fd is None:
                sent = await read_chunks(plan.fd, offset, count, self._chunk_size, self.write)
            else:
                sent = await sendfile(
                    transport,
                    sock_fd,
                    plan.fd,
                    offset,
                    count,
                    window=max(SENDFILE_WINDOW, self._chunk_size),
                    timeout=timeout,
                )
                writer.output_size += sent
                self._body_length += sent
            if sent < count:
                # The file shrank while being sent: the framing is broken, close.
                self.force_close()
                transport.close()
                raise ConnectionResetError("File shrank while being sent")

    def __repr__(self) -> str:
        info = "eof" if self._eof_sent else ("prepared" if self.prepared else "not prepared")
        return f"<FileResponse {self._path} {info}>"


def _write_timeout(request: BaseRequest) -> float:
    config = getattr(request.protocol, "config", None)
    timeout = getattr(config, "write_timeout", None)
    return float(timeout) if timeout is not None else 60.0
