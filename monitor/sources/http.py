"""The one place an HTTP client is built, so every fetch shares the same manners."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from monitor.errors import SourceError

#: Bodies larger than this are aborted mid-stream rather than read into memory.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5


def build_client(user_agent: str, max_connections: int = 20) -> httpx.AsyncClient:
    """A shared async client: bounded pool, bounded redirects, compression, our User-Agent."""
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        timeout=httpx.Timeout(20.0),
    )


@dataclass(frozen=True)
class Response:
    """What a fetch returned: the body (empty on 304) and the caching validators."""

    url: str
    status: int
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


async def get(
    client: httpx.AsyncClient,
    source: str,
    url: str,
    timeout: float,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> Response:
    """GET ``url`` conditionally, streaming with a size cap; errors become SourceError."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with client.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code == 304:
                return Response(str(response.url), 304, b"", "", etag, last_modified)
            if response.status_code >= 400:
                raise SourceError(source, f"HTTP {response.status_code} from {url}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(
                    source, f"response of {declared} bytes is over the {max_bytes} byte cap"
                )
            chunks = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(source, f"response is over the {max_bytes} byte cap; aborted")
                chunks.append(chunk)
            return Response(
                url=str(response.url),
                status=response.status_code,
                body=b"".join(chunks),
                content_type=response.headers.get("Content-Type", ""),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
    except httpx.TimeoutException:
        raise SourceError(source, f"timed out after {timeout:g}s fetching {url}") from None
    except httpx.TooManyRedirects:
        raise SourceError(source, f"more than {MAX_REDIRECTS} redirects from {url}") from None
    except httpx.HTTPError as exc:
        raise SourceError(source, f"{type(exc).__name__}: {exc}") from None
