#!/usr/bin/env python3
"""Writes 90 days of funnel counters (SPEC §14) for four products into Redis, as RESP for
`redis-cli --pipe`: every shard of every day holds every field a busy product would have
(3 platforms x 2 modes x 3 institutions x each step and time bucket), the worst case for
/support/funnel, which reads and sums all of them.

Usage: funnel_counters.py PREFIX | redis-cli -p PORT --pipe
"""
import datetime
import random
import sys

PRODUCTS = ["mx_employment", "br_employment", "co_employment", "br_ofda"]
PLATFORMS = ["ios", "android", "web"]
MODES = ["connect", "update"]
INSTITUTIONS = ["bank_a", "bank_b", "other"]
STEPS = ["success", "link_verified", "resources_ready", "exit_institution", "error:login_error",
         "error:institution_down"]
BUCKETS = [4, 8, 16, 32, 64, 128]
SHARDS = 16
DAYS = 90


def resp(*args):
    out = [f"*{len(args)}\r\n"]
    for a in args:
        a = str(a)
        out.append(f"${len(a.encode())}\r\n{a}\r\n")
    return "".join(out)


def main():
    prefix = sys.argv[1]
    rnd = random.Random(7)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    out = sys.stdout
    for back in range(DAYS):
        day = today - datetime.timedelta(days=back)
        for shard in range(SHARDS):
            fields = []
            for p in PRODUCTS:
                for pl in PLATFORMS:
                    for m in MODES:
                        head = f"{p}|{pl}|{m}"
                        fields += [f"{head}|-|created", rnd.randint(50, 100)]
                        fields += [f"{head}|-|opened", rnd.randint(30, 50)]
                        fields += [f"{head}|-|exit_first_screen", rnd.randint(1, 10)]
                        for i in INSTITUTIONS:
                            for s in STEPS:
                                fields += [f"{head}|{i}|{s}", rnd.randint(1, 10)]
                            for b in BUCKETS:
                                fields += [f"{head}|{i}|within:{b}", rnd.randint(0, 3)]
            key = f"{prefix}:{{sh:{shard:02d}}}:funnel:{day.isoformat()}"
            out.write(resp("HSET", key, *fields))
            out.write(resp("EXPIRE", key, 91 * 24 * 3600))


if __name__ == "__main__":
    main()
