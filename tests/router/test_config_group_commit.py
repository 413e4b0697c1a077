"""`--group-commit on|off` (env CAIRN_GROUP_COMMIT, TOML group_commit): on by default, validated."""
import argparse

import pytest

from router import config


def parse(*argv, environ=None):
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return config.load(parser.parse_args(list(argv)), environ=environ or {})


def test_group_commit_is_on_by_default_and_can_be_turned_off():
    assert parse().group_commit == "on"
    assert parse("--group-commit", "off").group_commit == "off"
    assert parse(environ={"CAIRN_GROUP_COMMIT": "off"}).group_commit == "off"


def test_group_commit_takes_only_on_or_off():
    with pytest.raises(SystemExit):
        parse("--group-commit", "sometimes")
