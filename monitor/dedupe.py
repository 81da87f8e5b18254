"""Story identity: two links to one article are one story; copies of a wire story, one cluster.

Publishers and aggregators decorate links with tracking parameters and
fragments; dropping them (and folding case where URLs are case-insensitive)
lets a story seen in two feeds be stored and alerted once.

Syndication is caught by text, not links: the same agency story runs on many
sites, re-titled and trimmed. Each story's text is cut into overlapping
word 4-grams ("shingles"); a 64-value MinHash signature estimates the share
of shingles two texts have in common (Jaccard similarity), and 21 bands of 3
values index the signatures so a new story is compared only with stories
that agree on a whole band (91% likely at similarity 0.5, 2% at 0.1).
Trimmed copies are the common case, so the decision uses containment (the
share of the shorter text found in the longer), derived from the Jaccard
estimate and the two shingle counts, together with the titles.
Pure functions, no I/O: the store keeps the signatures (store/clusters.py).
"""

from __future__ import annotations

import functools
import hashlib
import re
import zlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    import numpy as np

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "mtm_", "hsa_", "at_", "oly_", "vero_", "_ga", "_gl")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "_hsenc",
        "_hsmi",
        "ref_src",
        "cmpid",
        "ocid",
        "ncid",
        "sr_share",
        "mkt_tok",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "wt.mc_id",
        "wt_mc",
        "s_cid",
        "spm",
        "smid",
        "sh",
        "cmp",
        "rss",
        "xtor",
        "ito",
        "twclid",
        "ttclid",
        "li_fat_id",
        "wickedid",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL with tracking, fragment, default port and case noise removed.

    Returns the input stripped of whitespace when it is not an http(s) URL.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # an IPv6 literal; urlsplit took its brackets off
        host = f"[{host}]"
    if port and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    return urlunsplit((scheme, host, path, urlencode(query), ""))


# Syndication -------------------------------------------------------------------

SHINGLE = 4  # words per shingle
PERMUTATIONS = 64
BANDS = 21
ROWS = 3
#: Fewer shingles than this and a text is too short to compare by its words.
MIN_SHINGLES = 8
_PRIME = 4294967291  # the largest prime below 2**32: every value fits in 32 bits
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")


@functools.cache
def _permutations() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    # numpy is imported on first use: the store imports this module, and
    # read-only commands should not pay for it.
    import numpy as np

    generator = np.random.default_rng(20261124)  # fixed: stored signatures must stay comparable
    return (
        generator.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64),
        generator.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64),
    )


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` with markup and punctuation gone."""
    return _WORD.findall(_TAG.sub(" ", text).lower())


def signature(text: str) -> bytes | None:
    """The MinHash signature of ``text`` and its shingle count (260 bytes), or None if short."""
    import numpy as np

    tokens = words(text)
    if len(tokens) < SHINGLE + MIN_SHINGLES - 1:
        return None
    a, b = _permutations()
    hashes: np.ndarray[Any, Any] = np.fromiter(
        {
            zlib.crc32(" ".join(tokens[i : i + SHINGLE]).encode())
            for i in range(len(tokens) - SHINGLE + 1)
        },
        dtype=np.uint64,
    )
    values = (hashes[:, None] * a[None, :] + b[None, :]) % _PRIME
    packed: bytes = values.min(axis=0).astype("<u4").tobytes()
    return packed + len(hashes).to_bytes(4, "little")


def band_keys(sig: bytes) -> list[int]:
    """One signed 64-bit key per band (SQLite integers), each naming the band's position."""
    size = ROWS * 4
    return [
        int.from_bytes(
            hashlib.blake2b(
                bytes([band]) + sig[band * size : (band + 1) * size], digest_size=8
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(BANDS)
    ]


def similarity(first: bytes, second: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    import numpy as np

    a = np.frombuffer(first, dtype="<u4", count=PERMUTATIONS)
    b = np.frombuffer(second, dtype="<u4", count=PERMUTATIONS)
    return float(np.count_nonzero(a == b)) / PERMUTATIONS


def containment(first: bytes, second: bytes) -> float:
    """Estimated share of the smaller text's shingles that the other text has too.

    |A & B| = J / (1 + J) * (|A| + |B|) for Jaccard similarity J.
    """
    jaccard = similarity(first, second)
    sizes = [int.from_bytes(sig[PERMUTATIONS * 4 :], "little") for sig in (first, second)]
    if not min(sizes):
        return jaccard
    return min(1.0, jaccard / (1 + jaccard) * sum(sizes) / min(sizes))


def title_similarity(first: str, second: str) -> float:
    """0..1: how alike two headlines are, word order and extra words forgiven."""
    from rapidfuzz import fuzz

    if not first.strip() or not second.strip():
        return 0.0
    return fuzz.token_set_ratio(first.lower(), second.lower()) / 100


def same_story(contained: float, titles: float, same_source: bool) -> bool:
    """Whether two stories are copies of one, from text containment and title similarity.

    Most of one text inside the other is enough between outlets (a re-titled
    or trimmed wire copy); half of it is, with a similar title (a rewritten
    copy). Within one outlet two stories also need similar titles, since a
    site's boilerplate ("Sign up for our newsletter...") can make different
    stories' texts alike.
    """
    if same_source:
        return contained >= 0.6 and titles >= 0.6
    return contained >= 0.7 or (contained >= 0.4 and titles >= 0.5)


def content_hash(title: str, summary: str, body: str) -> str:
    """What a feed says about a story; when it changes, the story was updated."""
    return hashlib.sha1(f"{title}\x00{summary}\x00{body}".encode()).hexdigest()
