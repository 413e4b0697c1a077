"""The peer benchmark behind bench/peers.py (`make bench`), one job per module: config (paths, workloads,
targets), signer (presigned SigV4), s3client (HTTP/1.1 client and signed S3 calls), meters (/proc CPU and RSS),
servers (Cairn and its peers), fixtures (preloaded objects and cleanup), drivers (wrk and asyncio load), cells
(one measured cell), table (the markdown report) and cli (the command line)."""
