"""router/addressing.parse_query decodes like parse_qsl(keep_blank_values=True), first value winning."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from router.addressing import parse_query


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab=&%+2F41zé~ ;", max_size=30))
def test_parse_query_matches_parse_qsl(qs):
    expected: dict = {}
    for k, v in parse_qsl(qs, keep_blank_values=True):
        expected.setdefault(k, v)
    assert parse_query(qs) == expected
