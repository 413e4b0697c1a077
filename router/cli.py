"""The ``cairn`` command."""

from __future__ import annotations

import argparse
import logging
import sys

from . import config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cairn", description="Cairn: an S3-compatible object store")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the server (router + one shard process per core)")
    config.add_arguments(serve)
    args = parser.parse_args(argv)
    if args.command == "serve":
        settings = config.load(args)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s supervisor %(levelname)s %(message)s")
        from .supervisor import serve as run
        return run(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
