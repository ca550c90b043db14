#!/usr/bin/env python3
"""bare_waiters.py URL PID N TOKEN: N connections each send one long-poll
(`GET /v1/widget-sessions/<uuid>?wait=30`, `Authorization: Bearer TOKEN`) to URL at once;
prints the RSS of PID before and 6 s after they were sent, then how many were answered 200.

For `examples/bare_wait.rs` (actix-web's own floor per waiting request): the same request as
bench/load.py's long-poll case sends the BFF, without sessions, users or callbacks.
"""

import asyncio
import resource
import sys
import urllib.parse
import uuid

from load import rss_mib


async def main(url, pid, n, token):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parts = urllib.parse.urlsplit(url)
    before = rss_mib(pid)
    answered = 0

    async def waiter():
        nonlocal answered
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(f"GET /v1/widget-sessions/{uuid.uuid4()}?wait=30 HTTP/1.1\r\n"
                     f"Host: {parts.hostname}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
        answered += status_line.startswith(b"HTTP/1.1 200")
        writer.close()

    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(waiter()))
        if i % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(6)
    waiting = rss_mib(pid)
    print(f"RSS {before} MiB before, {waiting} MiB with {n} waiting: "
          f"{(waiting - before) * 1024 / n:.2f} KiB per waiter", flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"answered {answered} of {n}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
