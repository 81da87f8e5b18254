"""Canonical URLs: links to one article compare equal, different articles do not."""

from __future__ import annotations

import pytest

from monitor.dedupe import canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # scheme and host case; path case is the server's business and is kept
        ("HTTPS://Example.ORG/News/Story", "https://example.org/News/Story"),
        ("https://example.org./a", "https://example.org/a"),
        # fragments
        ("https://example.org/a#comments", "https://example.org/a"),
        ("https://example.org/a?b=1#x", "https://example.org/a?b=1"),
        # tracking parameters, in any case
        ("https://example.org/a?utm_source=rss&utm_medium=feed", "https://example.org/a"),
        ("https://example.org/a?UTM_Campaign=x&id=7", "https://example.org/a?id=7"),
        ("https://example.org/a?fbclid=IwAR0&gclid=x&dclid=y", "https://example.org/a"),
        ("https://example.org/a?mc_cid=1&mc_eid=2&msclkid=3", "https://example.org/a"),
        ("https://example.org/a?igshid=1&yclid=2&_hsenc=3&_hsmi=4", "https://example.org/a"),
        ("https://example.org/a?pk_campaign=1&mtm_source=2&hsa_ad=3", "https://example.org/a"),
        ("https://example.org/a?ocid=1&ncid=2&cmpid=3&ref_src=4", "https://example.org/a"),
        ("https://example.org/a?utm_medium=", "https://example.org/a"),
        # remaining parameters sorted, blanks kept
        ("https://example.org/a?z=1&a=2&m=", "https://example.org/a?a=2&m=&z=1"),
        ("https://example.org/a?id=2&id=1", "https://example.org/a?id=1&id=2"),
        ("https://example.org/a?", "https://example.org/a"),
        ("https://example.org/search?q=a+b&p=%2F", "https://example.org/search?p=%2F&q=a+b"),
        # default ports folded, others kept
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("http://example.org:443/a", "http://example.org:443/a"),
        # trailing slash folded; the root is always "/"
        ("https://example.org/a/", "https://example.org/a"),
        ("https://example.org/a//", "https://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/", "https://example.org/"),
        ("https://example.org//", "https://example.org/"),
        # credentials are not part of a story's identity
        ("https://user:pw@example.org/a", "https://example.org/a"),
        # IPv6 literals keep their brackets
        ("http://[::1]:8080/a/", "http://[::1]:8080/a"),
        ("http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"),
        # surrounding whitespace from feeds
        ("  https://example.org/a\n", "https://example.org/a"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/a#x",
        "file:///srv/feeds/a.xml",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "tag:example.org,2026:1",
        "not a url",
        "",
        "http://[::1/a",
        "https://example.org:notaport/a",
        "https:///path-only",
    ],
)
def test_other_values_are_returned_trimmed_and_unchanged(url: str) -> None:
    assert canonical_url(f" {url} ") == url


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "https://www.example.org/world/story-1?utm_source=twitter#top",
            "HTTPS://WWW.EXAMPLE.ORG:443/world/story-1/?fbclid=abc",
        ),
        ("https://example.org/a?b=2&a=1", "https://example.org/a?a=1&b=2&gclid=9"),
    ],
)
def test_two_links_to_one_story_compare_equal(first: str, second: str) -> None:
    assert canonical_url(first) == canonical_url(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://example.org/a?id=1", "https://example.org/a?id=2"),
        ("https://example.org/A", "https://example.org/a"),
        ("http://example.org/a", "https://example.org/a"),
        ("https://example.org/a", "https://example.org:8443/a"),
    ],
)
def test_different_stories_stay_different(first: str, second: str) -> None:
    assert canonical_url(first) != canonical_url(second)


def test_canonical_urls_are_stable() -> None:
    once = canonical_url("HTTP://Example.org:80/a/?z=1&utm_id=2&a=b%20c#f")
    assert canonical_url(once) == once
