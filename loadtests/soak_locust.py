"""The soak profile: every user mixes PUT, GET, HEAD, LIST, DELETE, COPY, multipart upload and tagging on keys of
its own, checks every answer (ETag, bytes, listing = its live keys, tags) and keeps a ledger of what the server
acknowledged. When locust stops, the ledger is written to $CAIRN_SOAK_LEDGER for loadtests/soak.py's checker.

Each user owns the prefix soak/<user>/ and runs one request at a time, so the state the server must end in is
exactly the last acknowledged write to each key. A write that was not acknowledged (an error, a dropped
connection) makes that key's state unknown: it is left out of the check, and counted.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import re
import sys
import threading
import uuid

from locust import FastHttpUser, between, events, task

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from loadtests.s3client import Signer, md5_etag, multipart_upload, object_path  # noqa: E402

ACCESS = os.environ.get("CAIRN_ACCESS_KEY", "cairn")
SECRET = os.environ.get("CAIRN_SECRET_KEY", "cairn-dev-secret")
BUCKET = os.environ.get("CAIRN_LOAD_BUCKET", "soak")
LEDGER = os.environ.get("CAIRN_SOAK_LEDGER", "soak-ledger.json")
MAX_LIVE = 150  # live keys per user: the data set stays bounded, so RSS can be compared over time
PART = 5 << 20  # S3's smallest non-final part

# key -> md5 hex of the acknowledged bytes, or None: acknowledged as deleted
objects: dict[str, str | None] = {}
tags: dict[str, dict[str, str]] = {}  # key -> the last acknowledged tag set
unknown: set[str] = set()  # keys whose last write was not acknowledged
statuses: collections.Counter = collections.Counter()  # HTTP status -> count (0: no answer)
_bucket_lock = threading.Lock()  # a greenlet lock under locust: users wait until the bucket exists
_bucket_made: list = []


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def body(rng: random.Random) -> bytes:
    size = rng.choice((0, 1, 100, 1024, 4096, 4096, 16384, 65536))
    return rng.randbytes(size)


class Soak(FastHttpUser):
    wait_time = between(0, 0)

    def on_start(self) -> None:
        self.signer = Signer(self.host, ACCESS, SECRET)
        self.rng = random.Random()
        self.prefix = f"soak/{uuid.uuid4().hex[:12]}/"
        self.live: dict[str, str] = {}  # key -> md5, what this user expects to be there
        with _bucket_lock:
            if not _bucket_made:
                self.call("PUT", f"/{BUCKET}", name="CreateBucket", ok=(200, 409))
                _bucket_made.append(1)
        self.multipart()  # rare in the mix (weight 1), so every user starts with one: each run covers it

    # -- one signed request, its status counted; ``ok`` statuses are a success -------------------------
    def call(self, method: str, path: str, query: str = "", data: bytes = b"", name: str = "", ok=(200,),
             headers: dict | None = None):
        hdrs = self.signer.headers(method, path, query, headers)
        url = path + (f"?{query}" if query else "")
        with self.client.request(method, url, data=data or None, headers=hdrs, name=name or method,
                                 catch_response=True) as r:
            statuses[r.status_code] += 1
            if r.status_code in ok:
                r.success()
            else:
                r.failure(f"{method} {url}: HTTP {r.status_code} {(r.text or '')[:300]}")
            return r

    def written(self, key: str, digest: str | None, acknowledged: bool) -> None:
        if acknowledged:
            objects[key] = digest
            unknown.discard(key)
            if digest is None:
                self.live.pop(key, None)
                tags.pop(key, None)
            else:
                self.live[key] = digest
                tags.pop(key, None)  # a new version starts without tags
        else:
            unknown.add(key)
            self.live.pop(key, None)

    def some_live(self) -> str | None:
        return self.rng.choice(list(self.live)) if self.live else None

    def new_key(self) -> str:
        return f"{self.prefix}{uuid.uuid4().hex[:16]}"

    # -- the mix -------------------------------------------------------------------------------------------
    @task(20)
    def put(self) -> None:
        if len(self.live) >= MAX_LIVE:
            return self.delete()
        key = self.some_live() if self.live and self.rng.random() < 0.3 else self.new_key()  # some overwrites
        data = body(self.rng)
        r = self.call("PUT", object_path(BUCKET, key), data=data, name="PUT")
        ok = r.status_code == 200
        if ok and r.headers.get("etag") != md5_etag(data):
            r.failure(f"PUT {key}: ETag {r.headers.get('etag')} is not the MD5 of the body")
        self.written(key, md5(data), ok)

    @task(30)
    def get(self) -> None:
        key = self.some_live()
        if key is None:
            return self.put()
        r = self.call("GET", object_path(BUCKET, key), name="GET")
        if r.status_code == 200 and md5(r.content or b"") != self.live[key]:
            r.failure(f"GET {key}: the bytes differ from the acknowledged write")

    @task(10)
    def head(self) -> None:
        key = self.some_live()
        if key is None:
            return
        r = self.call("HEAD", object_path(BUCKET, key), name="HEAD")
        if r.status_code == 200 and "-" not in r.headers.get("etag", "-") and \
                r.headers.get("etag") != f'"{self.live[key]}"':
            r.failure(f"HEAD {key}: ETag differs from the acknowledged write")

    @task(5)
    def list(self) -> None:
        prefix = self.prefix.replace("/", "%2F")
        r = self.call("GET", f"/{BUCKET}", f"list-type=2&max-keys=1000&prefix={prefix}", name="LIST")
        if r.status_code != 200:
            return
        keys = [k.decode() for k in re.findall(rb"<Key>([^<]+)</Key>", r.content or b"")]
        if keys != sorted(keys):
            r.failure("listing out of order")
        elif set(keys) - unknown != set(self.live) - unknown:
            r.failure(f"listing of {self.prefix} is not this user's live keys "
                      f"({len(keys)} listed, {len(self.live)} live)")

    @task(8)
    def delete(self) -> None:
        key = self.some_live()
        if key is None:
            return
        r = self.call("DELETE", object_path(BUCKET, key), name="DELETE", ok=(204,))
        self.written(key, None, r.status_code == 204)

    @task(5)
    def copy(self) -> None:
        src = self.some_live()
        if src is None or len(self.live) >= MAX_LIVE:
            return
        dst = self.new_key()
        r = self.call("PUT", object_path(BUCKET, dst), name="COPY",
                      headers={"x-amz-copy-source": f"/{BUCKET}/{src}"})
        ok = r.status_code == 200 and b"<CopyObjectResult" in (r.content or b"")
        self.written(dst, self.live[src], ok)
        if ok and src in tags:  # the default tagging directive copies the source's tags
            tags[dst] = dict(tags[src])

    @task(5)
    def tagging(self) -> None:
        key = self.some_live()
        if key is None:
            return
        tagset = {f"k{i}": f"v{self.rng.randrange(1000)}" for i in range(self.rng.randint(1, 3))}
        xml = "<Tagging><TagSet>" + "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"
                                            for k, v in tagset.items()) + "</TagSet></Tagging>"
        path = object_path(BUCKET, key)
        r = self.call("PUT", path, "tagging", data=xml.encode(), name="PutObjectTagging")
        if r.status_code != 200:
            unknown.add(key)
            return
        tags[key] = tagset
        r = self.call("GET", path, "tagging", name="GetObjectTagging")
        if r.status_code == 200 and parse_tags(r.content or b"") != tagset:
            r.failure(f"GetObjectTagging {key}: not the tag set just written")

    @task(1)
    def multipart(self) -> None:
        if len(self.live) >= MAX_LIVE:
            return
        key = self.new_key()
        path = object_path(BUCKET, key)
        parts = [self.rng.randbytes(PART), body(self.rng) or b"x"]
        r = multipart_upload(lambda m, p, q, b, name: self.call(m, p, q, data=b, name=name), path, parts)
        if r is None:
            return
        ok = r.status_code == 200 and b"<CompleteMultipartUploadResult" in (r.content or b"")
        self.written(key, md5(b"".join(parts)), ok)


def parse_tags(xml: bytes) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in re.findall(rb"<Tag><Key>([^<]*)</Key><Value>([^<]*)</Value></Tag>",
                                                          xml)}


@events.quitting.add_listener
def _write_ledger(environment, **_kw) -> None:
    with open(LEDGER, "w") as f:
        json.dump({"bucket": BUCKET, "objects": objects, "tags": tags, "unknown": sorted(unknown),
                   "statuses": {str(k): v for k, v in statuses.items()}}, f)
    if environment.stats.total.num_failures:
        environment.process_exit_code = 1
