"""The ``cairn`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cairn", description="Cairn: an S3-compatible object store")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the server (router + one shard process per core)")
    config.add_arguments(serve)
    check = sub.add_parser("check", help="verify every record of every shard's log (offline) and report damage")
    from . import check as check_cmd
    check_cmd.add_arguments(check)
    from . import promote as promote_cmd, status as status_cmd
    promote_cmd.add_arguments(sub.add_parser("promote", help="make a standby the primary (bumps the epoch)"))
    status_cmd.add_arguments(sub.add_parser("status", help="each node's role, epoch, per-shard LSN and lag"))
    args = parser.parse_args(argv)
    if args.command == "promote":
        return promote_cmd.run(args, os.environ)
    if args.command == "status":
        return status_cmd.run(args)
    if args.command == "check":
        return check_cmd.run(args.data_dir)
    if args.command == "serve":
        settings = config.load(args)
        logging.basicConfig(level=settings.log_level, format="%(asctime)s supervisor %(levelname)s %(message)s")
        from .supervisor import serve as run
        return run(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
