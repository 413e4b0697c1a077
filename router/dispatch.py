"""Which S3 operation a request is: method + bucket/key presence + subresource query parameters.

Returns (operation name, handler). A subresource we do not implement yet gets NotImplemented, never a
silently wrong answer from a neighbouring operation.
"""

from __future__ import annotations

from shards.errors import S3Error

from . import cors, ops_batch, ops_buckets, ops_copy, ops_list, ops_multipart, ops_objects, ops_tagging, ops_versions

# Query parameters that select a different operation on the same path (AWS API reference).
SUBRESOURCES = frozenset((
    "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
    "ownershipControls", "partNumber", "policy", "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "restore", "retention", "select", "tagging", "torrent", "uploadId", "uploads", "versionId",
    "versioning", "versions", "website", "session", "renameObject",
))


OBJECT_TAGGING = {"GET": ("GetObjectTagging", ops_tagging.get_object_tagging),
                  "PUT": ("PutObjectTagging", ops_tagging.put_object_tagging),
                  "DELETE": ("DeleteObjectTagging", ops_tagging.delete_object_tagging)}


def _not_implemented(what: str):
    raise S3Error("NotImplemented", f"{what} is not implemented.")


def route(method: str, bucket: str, key: str, query: dict, headers: dict):
    if method == "OPTIONS":
        return "PreflightCORS", cors.preflight
    subs = SUBRESOURCES.intersection(query)
    if not bucket:
        if method == "GET" and not subs:
            return "ListBuckets", ops_buckets.list_buckets
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="SERVICE")
    if not key:
        if subs == {"uploads"} and method == "GET":
            return "ListMultipartUploads", ops_multipart.list_uploads
        if subs == {"versions"} and method == "GET":
            return "ListObjectVersions", ops_versions.list_object_versions
        if subs == {"delete"} and method == "POST":
            return "DeleteObjects", ops_batch.delete_objects
        if not subs:
            if method == "PUT":
                return "CreateBucket", ops_buckets.create_bucket
            if method == "HEAD":
                return "HeadBucket", ops_buckets.head_bucket
            if method == "DELETE":
                return "DeleteBucket", ops_buckets.delete_bucket
            if method == "GET":
                if query.get("list-type") == "2":
                    return "ListObjectsV2", ops_list.list_objects_v2
                return "ListObjects", ops_list.list_objects_v1
        elif len(subs) == 1 and (method, *subs) in ops_buckets.SUBRESOURCE_OPS:
            return ops_buckets.SUBRESOURCE_OPS[(method, *subs)]
        _not_implemented(f"{method} on bucket with ?{','.join(sorted(subs)) or 'no subresource'}")
    if subs <= {"versionId"}:  # versionId names a version of the object, not another operation
        if method == "PUT":
            if "x-amz-copy-source" in headers:
                return "CopyObject", ops_copy.copy_object
            return "PutObject", ops_objects.put_object
        if method == "GET":
            return "GetObject", ops_objects.get_object
        if method == "HEAD":
            return "HeadObject", ops_objects.head_object
        if method == "DELETE":
            return "DeleteObject", ops_objects.delete_object
    if subs - {"versionId"} == {"tagging"} and method in OBJECT_TAGGING:
        return OBJECT_TAGGING[method]
    if subs - {"versionId"} == {"attributes"} and method == "GET":
        return "GetObjectAttributes", ops_tagging.get_object_attributes
    multipart = ops_multipart.route(method, subs, headers)
    if multipart is not None:
        return multipart
    _not_implemented(f"{method} on object with ?{','.join(sorted(subs)) or 'no subresource'}")
