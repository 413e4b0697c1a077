"""A representative part of the S3 suite, run against both fronts: objects (streamed GETs, ranges, HEAD),
multipart, aws-chunked bodies with signatures and trailers, presigned URLs, CORS (on streamed responses too) and
conditional requests. The tests are the S3 suite's own; only the ``server`` fixture differs (conftest.py)."""

from tests.s3.test_auth_streaming import *  # noqa: F401,F403
from tests.s3.test_conditional import *  # noqa: F401,F403
from tests.s3.test_cors import *  # noqa: F401,F403
from tests.s3.test_multipart import *  # noqa: F401,F403
from tests.s3.test_objects import *  # noqa: F401,F403
from tests.s3.test_presigned import *  # noqa: F401,F403
