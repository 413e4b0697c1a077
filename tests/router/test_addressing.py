import pytest

from router.addressing import check_bucket_name, locate, parse_query
from shards.errors import S3Error


@pytest.mark.parametrize("qs,expected", [
    ("", {}),
    ("list-type=2&prefix=a", {"list-type": "2", "prefix": "a"}),
    ("versions", {"versions": ""}),
    ("prefix=a%2Fb&delimiter=%2F", {"prefix": "a/b", "delimiter": "/"}),
    ("prefix=a+b", {"prefix": "a b"}),
    ("k=1&k=2", {"k": "1"}),
    ("uploads&prefix=x", {"uploads": "", "prefix": "x"}),
])
def test_query_parameters_are_decoded_and_first_value_wins(qs, expected):
    assert parse_query(qs) == expected


@pytest.mark.parametrize("host,path,expected", [
    ("127.0.0.1:9000", "/", ("", "")),
    ("127.0.0.1:9000", "/bucket", ("bucket", "")),
    ("127.0.0.1:9000", "/bucket/", ("bucket", "")),
    ("127.0.0.1:9000", "/bucket/a/b%20c", ("bucket", "a/b c")),
    ("bucket.localhost:9000", "/key", ("bucket", "key")),
    ("my.dotted.bucket.s3.localhost", "/k/", ("my.dotted.bucket", "k/")),
    ("localhost:9000", "/b/k", ("b", "k")),
])
def test_bucket_and_key_come_from_host_or_path(host, path, expected):
    assert locate(host, path, ["localhost", "s3.localhost"]) == expected


def test_path_with_invalid_utf8_is_invalid_uri():
    with pytest.raises(S3Error) as e:
        locate("localhost", "/b/%ff", [])
    assert e.value.code == "InvalidURI"


@pytest.mark.parametrize("name", ["abc", "a-b.c", "a" * 63, "123"])
def test_valid_bucket_names(name):
    check_bucket_name(name)


@pytest.mark.parametrize("name", ["ab", "a" * 64, "Abc", "a_b", "a..b", "-ab", "ab-", "1.2.3.4", "xn--ab",
                                  "ab-s3alias", "a.-b"])
def test_invalid_bucket_names(name):
    with pytest.raises(S3Error) as e:
        check_bucket_name(name)
    assert e.value.code == "InvalidBucketName"
