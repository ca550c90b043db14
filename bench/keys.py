#!/usr/bin/env python3
"""Prints the Redis key of each session or link id (arguments, or one per line on stdin), as
src/store/keys.rs names it: `<prefix>:{sh:NN}:<kind>:<id>`, NN = FNV-1a of the id's 16 bytes
modulo 16 (src/domain/shard.rs). Usage: keys.py PREFIX KIND [ID ...]; KIND is session,
timeline, link, link-timeline, ..."""
import sys
import uuid


def shard(id_: str) -> int:
    h = 0x811C9DC5
    for byte in uuid.UUID(id_).bytes:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h % 16


def main() -> None:
    prefix, kind, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
    for id_ in ids or (line.strip() for line in sys.stdin if line.strip()):
        print(f"{prefix}:{{sh:{shard(id_):02}}}:{kind}:{id_}")


if __name__ == "__main__":
    main()
