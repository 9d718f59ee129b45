"""GET /api/v1/files and POST /api/v1/files/read."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

import msgspec
from litestar import get, post
from litestar.params import JSONBody, QueryParameter
from msgspec import UNSET, Struct, UnsetType

from assistant.errors import AssistantError
from sandbox import MAX_READ_BYTES, FileData, Listing, NotAFile, cut_utf8, list_directory

from .envelope import Envelope, Req, Svc, ok, sandbox_params, strict_body, timestamp

DEFAULT_MAX_BYTES = 100_000
Encoding = Literal["utf-8", "base64"]


def _encode_content(data: bytes, truncated: bool, binary: bool, encoding: str | None) -> tuple[str, Encoding]:
    """Return (content, encoding) following the rules in docs/api.md.

    With no encoding asked for, text comes back as utf-8 and anything else (invalid UTF-8,
    or binary: a NUL in the first 8 KB) as base64.
    """
    text_bytes = cut_utf8(data) if truncated else data
    if encoding == "base64" or (encoding is None and binary):
        return base64.b64encode(data).decode("ascii"), "base64"
    if encoding == "utf-8":
        return text_bytes.decode("utf-8", "replace"), "utf-8"
    try:
        return text_bytes.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


class FileContent(Struct, kw_only=True, omit_defaults=True):
    """A file read (``start_line``, ``end_line`` and ``total_lines`` when a line range was asked
    for; ``total_lines`` is null when the file was longer than could be read)."""

    path: str
    content: str
    size: int
    modified_at: str | None
    encoding: Encoding
    truncated: bool
    binary: bool
    start_line: int | UnsetType = UNSET
    end_line: int | UnsetType | None = UNSET
    total_lines: int | UnsetType | None = UNSET


class Entry(Struct, omit_defaults=True):
    name: str
    path: str
    type: Literal["file", "directory", "symlink", "other"]
    size: int | None
    modified_at: str | None
    undecodable: bool = False  # the name is not UTF-8: shown with \\xNN escapes


class DirectoryListing(Struct):
    path: str
    entries: list[Entry]
    truncated: bool


def read_payload(file: FileData, encoding: str | None) -> FileContent:
    content, used = _encode_content(file.data, file.truncated, file.binary, encoding)
    return FileContent(
        path=file.path,
        content=content,
        size=file.size,
        modified_at=timestamp(file.mtime),
        encoding=used,
        truncated=file.truncated,
        binary=file.binary,
    )


def listing_payload(listing: Listing) -> DirectoryListing:
    entries = [Entry(e.name, e.path, e.type, e.size, timestamp(e.mtime), e.undecodable) for e in listing.entries]
    return DirectoryListing(listing.path, entries, listing.truncated)


def _check_encoding(value: str | None, param: str) -> str | None:
    if value is not None and value not in ("utf-8", "base64"):
        raise AssistantError("invalid_parameter", f"`{param}` must be 'utf-8' or 'base64', not {value!r}", param=param)
    return value


@get("/files", summary="List a directory, or read a file with read=true")
async def get_files(
    request: Req,
    svc: Svc,
    repo: Annotated[str | None, QueryParameter(description="repository path (default: the first --repo)")] = None,
    path: Annotated[str, QueryParameter(description="path inside the repo")] = "",
    read: Annotated[bool, QueryParameter(description="read the file instead of listing")] = False,
    max_bytes: Annotated[int, QueryParameter(ge=1, le=MAX_READ_BYTES)] = DEFAULT_MAX_BYTES,
    encoding: Annotated[Encoding | None, QueryParameter(description="utf-8 or base64")] = None,
    include_ignored: Annotated[bool, QueryParameter(description="show git-ignored entries")] = False,
) -> Envelope[DirectoryListing | FileContent]:
    _check_encoding(encoding, "encoding")
    with sandbox_params(path="path", repo="repo"), svc.roots.open_repo(repo) as opened_repo:
        comps = opened_repo.components(path)
        if read:
            try:
                file = opened_repo.read(comps, max_bytes, include_ignored=include_ignored)
                return ok(request, read_payload(file, encoding))
            except NotAFile as exc:
                if not exc.directory:
                    raise
        listing = list_directory(opened_repo, comps, include_ignored=include_ignored)
    return ok(request, listing_payload(listing))


class FileReadBody(msgspec.Struct):
    """Body of POST /files/read."""

    path: Annotated[str, msgspec.Meta(min_length=1)]
    repo_path: str | None = None  # the first --repo when left out
    max_bytes: Annotated[int, msgspec.Meta(ge=1, le=MAX_READ_BYTES)] = DEFAULT_MAX_BYTES
    encoding: Encoding | None = None
    start_line: Annotated[int, msgspec.Meta(ge=1)] | None = None
    end_line: Annotated[int, msgspec.Meta(ge=1)] | None = None


def _line_range(file: FileData, start: int, end: int | None, max_bytes: int, encoding: str | None) -> FileContent:
    lines = file.data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    total = None if file.truncated else len(lines)
    last = len(lines) if end is None else min(end, len(lines))
    selected = b"".join(line + b"\n" for line in lines[start - 1 : last])
    if last == len(lines) and not file.data.endswith(b"\n") and selected:
        selected = selected[:-1]
    capped = FileData(file.path, selected[:max_bytes], file.size, file.mtime, len(selected) > max_bytes, file.binary)
    payload = read_payload(capped, encoding)
    payload.start_line = start
    payload.end_line = max(last, start - 1) if lines else end
    payload.total_lines = total
    return payload


@post("/files/read", summary="Read a file, optionally a 1-based inclusive line range", status_code=200)
async def post_files_read(request: Req, svc: Svc, data: JSONBody[FileReadBody]) -> Envelope[FileContent]:
    data = await strict_body(request, data)
    _check_encoding(data.encoding, "encoding")
    if data.start_line is not None and data.end_line is not None and data.end_line < data.start_line:
        raise AssistantError("invalid_parameter", "`end_line` must be at least `start_line`", param="end_line")
    ranged = data.start_line is not None or data.end_line is not None
    with sandbox_params(path="path", repo="repo_path"), svc.roots.open_repo(data.repo_path) as repo:
        file = repo.read(repo.components(data.path), MAX_READ_BYTES if ranged else data.max_bytes)
    if ranged:
        return ok(request, _line_range(file, data.start_line or 1, data.end_line, data.max_bytes, data.encoding))
    return ok(request, read_payload(file, data.encoding))
