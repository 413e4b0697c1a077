"""shards/listing_xml: the stored <Contents> element, and how a page of them is adapted to a request
(encoding-type=url for keys that need it, fetch-owner) without rendering again."""

import pytest

from shards.listing_xml import element, iso8601, page_items

V = {"etag": "0123abcd", "size": 7, "mtime": 1700000000.0125}


def stored(key, **extra):
    return [key, element(key, {**V, **extra})]


def test_element_is_what_list_objects_shows_by_default():
    assert element("a/b.txt", V) == ("<Contents><Key>a/b.txt</Key><LastModified>2023-11-14T22:13:20.012Z"
                                     "</LastModified><ETag>&quot;0123abcd&quot;</ETag><Size>7</Size>"
                                     "<StorageClass>STANDARD</StorageClass></Contents>")
    assert "<StorageClass>GLACIER</StorageClass>" in element("k", {**V, "sc": "GLACIER"})
    assert iso8601(V["mtime"]) in element("k", V)


@pytest.mark.parametrize("key, url, shown", [
    ("plain/key-1.txt", False, "plain/key-1.txt"),
    ("plain/key-1.txt", True, "plain/key-1.txt"),
    ("a&b <c>\r", False, "a&amp;b &lt;c&gt;&#13;"),
    ("a&b <c>\r", True, "a%26b%20%3Cc%3E%0D"),
    ("dir/ü +", True, "dir/%C3%BC%20%2B"),
])
def test_keys_are_shown_as_the_encoding_type_asks(key, url, shown):
    ((name, xml),) = page_items([stored(key)], url, None)
    assert name == key and xml.startswith(f"<Contents><Key>{shown}</Key><LastModified>")
    assert xml.endswith("<Size>7</Size><StorageClass>STANDARD</StorageClass></Contents>")


def test_fetch_owner_goes_before_the_storage_class():
    ((_, xml),) = page_items([stored("<StorageClass>")], True, "ak&1")
    assert xml.endswith("<Size>7</Size><Owner><ID>ak&amp;1</ID><DisplayName>ak&amp;1</DisplayName></Owner>"
                        "<StorageClass>STANDARD</StorageClass></Contents>")
    assert xml.startswith("<Contents><Key>%3CStorageClass%3E</Key>")


def test_common_prefixes_pass_through():
    page = [["d/", None], stored("d0")]
    assert page_items(page, True, "me")[0] == ["d/", None]
    assert page_items(page, False, None) == page
