"""CORS rule matching and the headers S3 answers with (router/cors.py): pure functions, table-driven."""

import pytest

from router import cors


def rule(origins=("*",), methods=("GET",), headers=(), expose=(), max_age=None, id=None):
    return {"id": id, "origins": list(origins), "methods": list(methods), "headers": list(headers),
            "expose": list(expose), "max_age": max_age}


@pytest.mark.parametrize("pattern, value, expected", [
    ("http://www.example.com", "http://www.example.com", True),
    ("http://www.example.com", "https://www.example.com", False),
    ("http://www.example.com", "http://www.example.com:8080", False),
    ("*", "http://anything.test", True),
    ("*", "", True),
    ("http://*.example.com", "http://app.example.com", True),
    ("http://*.example.com", "http://a.b.example.com", True),
    ("http://*.example.com", "http://example.com", False),
    ("http://*.example.com", "https://app.example.com", False),
    ("http://*.example.com", "http://app.example.com.evil.test", False),
    ("https://*", "https://x", True),
    ("https://*", "http://x", False),
    ("*.example.com", "http://x.example.com", True),
    ("http://localhost:*", "http://localhost:3000", True),
    ("ab*ba", "aba", False),  # head and tail may not overlap
    ("ab*ba", "abba", True),
])
def test_origin_wildcard_matching(pattern, value, expected):
    assert cors.wildcard_match(pattern, value) is expected


@pytest.mark.parametrize("pattern, value, expected", [
    ("x-amz-*", "x-amz-date", True),
    ("X-Amz-*", "x-amz-date", True),
    ("Content-Type", "content-type", True),
    ("*", "anything-at-all", True),
    ("x-amz-*", "x-custom", False),
])
def test_header_matching_ignores_case(pattern, value, expected):
    assert cors.wildcard_match(pattern, value, fold=True) is expected


def test_origins_match_case_sensitively():
    assert not cors.wildcard_match("http://Example.com", "http://example.com")


@pytest.mark.parametrize("value, expected", [
    (None, []), ("", []), ("X-Amz-Date", ["x-amz-date"]),
    ("content-type, X-Amz-Date,,x-amz-meta-a ", ["content-type", "x-amz-date", "x-amz-meta-a"]),
])
def test_requested_headers_are_split_and_lower_cased(value, expected):
    assert cors.requested_headers(value) == expected


RULES = [
    rule(origins=["http://www.example1.com"], methods=["PUT", "POST", "DELETE"], headers=["*"], id="writers"),
    rule(origins=["http://*.example2.com"], methods=["GET"], headers=["x-amz-*", "content-type"], id="readers"),
    rule(origins=["*"], methods=["GET", "HEAD"], id="anyone"),
]


@pytest.mark.parametrize("origin, method, headers, expected", [
    ("http://www.example1.com", "PUT", ["x-anything"], "writers"),
    ("http://www.example1.com", "GET", [], "anyone"),           # first rule lacks GET: the next one matches
    ("http://www.example1.com", "HEAD", [], "anyone"),
    ("http://app.example2.com", "GET", ["x-amz-date", "content-type"], "readers"),
    ("http://app.example2.com", "GET", ["authorization"], None),  # readers refuses the header, anyone allows none
    ("http://other.test", "GET", [], "anyone"),
    ("http://other.test", "GET", ["x-amz-date"], None),
    ("http://other.test", "PUT", [], None),
    ("http://www.example1.com", "PATCH", [], None),
    ("http://www.example1.com", "get", [], None),               # methods are case-sensitive, as in HTTP
])
def test_first_rule_matching_origin_method_and_every_header_wins(origin, method, headers, expected):
    got = cors.match(RULES, origin, method, headers)
    assert (got["id"] if got else None) == expected


def test_preflight_headers_echo_a_specific_origin_with_credentials_and_the_requested_headers():
    r = rule(origins=["http://*.example.com"], methods=["GET", "PUT"], headers=["*"], expose=["ETag", "x-amz-version-id"],
             max_age=3000)
    assert cors.preflight_headers(r, "http://app.example.com", ["x-amz-date", "content-type"]) == {
        "Access-Control-Allow-Origin": "http://app.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "x-amz-date, content-type",
        "Access-Control-Expose-Headers": "ETag, x-amz-version-id",
        "Access-Control-Max-Age": "3000",
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }


def test_a_wildcard_origin_rule_answers_star_without_credentials():
    out = cors.preflight_headers(rule(origins=["*"]), "http://x.test", [])
    assert out["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in out and "Access-Control-Allow-Headers" not in out
    assert "Access-Control-Max-Age" not in out and "Access-Control-Expose-Headers" not in out


@pytest.mark.parametrize("rules, origin, method, has_headers", [
    (None, "http://x.test", "GET", False),
    ([], "http://x.test", "GET", False),
    (RULES, "http://other.test", "GET", True),
    (RULES, "http://other.test", "DELETE", False),
    (RULES, "http://www.example1.com", "DELETE", True),
])
def test_response_headers_for_real_requests(rules, origin, method, has_headers):
    out = cors.response_headers(rules, origin, method)
    assert bool(out) is has_headers
    if has_headers:
        assert "Access-Control-Allow-Origin" in out and "Access-Control-Allow-Headers" not in out
