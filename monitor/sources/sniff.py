"""What a response really is, read from its bytes: format, encoding, and whether it is safe.

Content types and charset declarations are often wrong (RSS served as
``text/html``, UTF-8 declared as ISO-8859-1), so the format comes from the
document's root element and the encoding from the bytes themselves, with the
declarations as tie-breakers. Everything that goes on to a parser has been
re-encoded as UTF-8 and says so.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from monitor.errors import SourceError

_XML_DECL = re.compile(rb"^(\s*<\?xml[^>]*?)\sencoding\s*=\s*([\"'])([A-Za-z0-9._:-]+)\2", re.I)
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")
_PROLOG = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(\[.*?\])?\s*>)", re.S | re.I)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Root element (local name, lower-case) -> the kind of document it starts.
KINDS = {
    "rss": "rss",
    "rdf": "rss",
    "feed": "atom",
    "urlset": "sitemap",
    "sitemapindex": "sitemap",
    "html": "html",
}


@dataclass(frozen=True)
class Decoded:
    """A document as UTF-8 bytes, what it is, and what (if anything) was off about it."""

    data: bytes
    kind: str  # rss | atom | json | sitemap | html | unknown
    warning: str | None = None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def refuse_entities(source: str, data: bytes) -> None:
    """Refuse a document whose DTD declares entities: no feed needs them, bombs do.

    "Billion laughs" and external-entity (XXE) attacks both live in a DOCTYPE
    internal subset; refusing any ``<!ENTITY`` there is defusedxml's policy,
    applied before any parser sees the bytes.
    """
    start = data.find(b"<!DOCTYPE", 0, 65536)
    if start < 0:
        start = data.find(b"<!doctype", 0, 65536)
    if start < 0:
        return
    end = data.find(b"]>", start)
    subset = data[start : end if end > 0 else len(data)]
    if b"<!ENTITY" in subset or b"<!entity" in subset:
        raise SourceError(
            source,
            "refused: the document declares XML entities (a possible entity-expansion bomb)",
        )


def _text(data: bytes, content_type: str) -> tuple[str, str | None]:
    """The document as text, choosing among BOM, declarations and the bytes themselves."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace"), None
    head = data[:1024]
    declared_xml = _XML_DECL.match(head)
    xml_codec = _codec(declared_xml.group(3).decode("ascii")) if declared_xml else None
    http = _HTTP_CHARSET.search(content_type or "")
    http_codec = _codec(http.group(1)) if http else None
    meta = None if xml_codec else _META_CHARSET.search(head)
    meta_codec = _codec(meta.group(1).decode("ascii")) if meta else None
    declared = xml_codec or meta_codec or http_codec
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # Valid UTF-8 with any byte over 127 is, in practice, never an accident.
        if declared and declared not in ("utf-8", "ascii") and not data.isascii():
            return text, f"declared charset {declared}, but the bytes are UTF-8; read as UTF-8"
        return text, None
    for candidate in (declared, http_codec):
        if candidate and candidate not in ("utf-8", "utf-16", "utf-32"):
            try:
                return data.decode(candidate), None
            except (UnicodeDecodeError, LookupError):
                continue
    # Declared UTF-8 (or nothing) but it is not: the usual culprit is Windows-1252.
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    guess = _codec(best.encoding) if best else None
    name = guess or "cp1252"
    said = f"declared {declared}" if declared else "no charset declared"
    return data.decode(name, errors="replace"), f"{said}, but the bytes are not; read as {name}"


def decode(source: str, data: bytes, content_type: str = "") -> Decoded:
    """Sniff, check and re-encode ``data``; raise SourceError for what we will not parse."""
    body = data.lstrip()
    if not body:
        raise SourceError(source, "not an RSS or Atom feed (the response is empty)")
    if body[:1] in (b"{", b"["):
        return Decoded(body, "json")
    refuse_entities(source, body)
    text, warning = _text(body, content_type)
    if text.startswith("\ufeff"):
        text = text[1:]
    utf8 = text.encode("utf-8")
    declared = _XML_DECL.match(utf8[:1024])
    if declared:
        # The bytes are UTF-8 now, whatever the declaration said.
        utf8 = declared.group(1) + b' encoding="utf-8"' + utf8[declared.end() :]
    return Decoded(utf8, _kind(utf8), warning)


def _kind(data: bytes) -> str:
    if data.lstrip()[:1] in (b"{", b"["):
        return "json"
    position = 0
    while True:
        prolog = _PROLOG.match(data, position)
        if not prolog:
            break
        position = prolog.end()
    root = _ROOT.match(data, len(data[position:]) - len(data[position:].lstrip()) + position)
    if not root:
        return "html" if b"<html" in data[:4096].lower() else "unknown"
    return KINDS.get(root.group(2).decode("ascii", "replace").lower(), "unknown")
