"""Opt-in profiling of a server process: CAIRN_PROFILE_DIR=dir makes each process write dir/<role>.prof
(cProfile) when it exits. py-spy cannot see Python frames under uvloop's C callbacks, so this is the tool
for finding where a request's time goes."""

from __future__ import annotations

import atexit
import cProfile
import os


def maybe_profile(role: str) -> None:
    directory = os.environ.get("CAIRN_PROFILE_DIR")
    if not directory:
        return
    prof = cProfile.Profile()
    prof.enable()

    def dump() -> None:
        prof.disable()
        os.makedirs(directory, exist_ok=True)
        prof.dump_stats(os.path.join(directory, f"{role.replace(' ', '-')}.prof"))

    atexit.register(dump)
