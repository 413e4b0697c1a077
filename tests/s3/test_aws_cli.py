"""The AWS CLI (awscli from PyPI) as a second real client: `aws s3` and `aws s3api` run as subprocesses with
credentials in the environment and --endpoint-url, exactly as a user would run them."""

import json
import subprocess
import sys

import pytest


@pytest.fixture
def aws(server, tmp_path):
    env = {"AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def run(*args, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run([sys.executable, "-m", "awscli", "--endpoint-url", server.endpoint, *args], env=env,
                           capture_output=True, text=True, timeout=60)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    return run


def test_mb_ls_and_rb_manage_a_bucket(aws):
    assert "make_bucket: cli-made-bucket" in aws("s3", "mb", "s3://cli-made-bucket").stdout
    assert "cli-made-bucket" in aws("s3", "ls").stdout
    assert "remove_bucket: cli-made-bucket" in aws("s3", "rb", "s3://cli-made-bucket").stdout
    assert "cli-made-bucket" not in aws("s3", "ls").stdout


def test_cp_up_and_down_round_trips_a_file(aws, bucket, tmp_path):
    src, dst = tmp_path / "up.bin", tmp_path / "down.bin"
    src.write_bytes(bytes(range(256)) * 4096)  # 1 MiB: one PUT, below the CLI's multipart threshold
    aws("s3", "cp", str(src), f"s3://{bucket}/dir/up.bin")
    aws("s3", "cp", f"s3://{bucket}/dir/up.bin", str(dst))
    assert dst.read_bytes() == src.read_bytes()


def test_ls_lists_keys_and_common_prefixes(aws, s3, bucket):
    for key in ("a.txt", "logs/1.log", "logs/2.log"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"12345")
    out = aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE logs/" in out and "a.txt" in out and "1.log" not in out
    assert "1.log" in aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout


def test_rm_deletes_an_object(aws, s3, bucket):
    s3.put_object(Bucket=bucket, Key="doomed", Body=b"x")
    assert f"delete: s3://{bucket}/doomed" in aws("s3", "rm", f"s3://{bucket}/doomed").stdout
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_s3api_put_object_and_get_object_keep_metadata(aws, bucket, tmp_path):
    src, dst = tmp_path / "note.txt", tmp_path / "got.txt"
    src.write_text("written by the aws cli\n")
    put = json.loads(aws("s3api", "put-object", "--bucket", bucket, "--key", "note.txt", "--body", str(src),
                         "--content-type", "text/plain", "--metadata", "origin=cli").stdout)
    got = json.loads(aws("s3api", "get-object", "--bucket", bucket, "--key", "note.txt", str(dst)).stdout)
    assert got["ETag"] == put["ETag"] and got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"origin": "cli"}
    assert dst.read_text() == "written by the aws cli\n"


def test_s3api_get_object_of_a_missing_key_fails_with_no_such_key(aws, bucket, tmp_path):
    p = aws("s3api", "get-object", "--bucket", bucket, "--key", "nope", str(tmp_path / "x"), check=False)
    assert p.returncode != 0 and "NoSuchKey" in p.stderr


def test_s3api_bucket_versioning_and_tagging(aws, bucket):
    aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert json.loads(aws("s3api", "get-bucket-versioning", "--bucket", bucket).stdout)["Status"] == "Enabled"
    aws("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", "TagSet=[{Key=team,Value=storage}]")
    tags = json.loads(aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)["TagSet"]
    assert tags == [{"Key": "team", "Value": "storage"}]


def test_s3api_bucket_cors_round_trips(aws, bucket, tmp_path):
    cfg = {"CORSRules": [{"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
                          "AllowedHeaders": ["*"], "MaxAgeSeconds": 600}]}
    (tmp_path / "cors.json").write_text(json.dumps(cfg))
    aws("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", f"file://{tmp_path / 'cors.json'}")
    assert json.loads(aws("s3api", "get-bucket-cors", "--bucket", bucket).stdout) == cfg
