#!/usr/bin/env python3
"""Load cases of scripts/bench.sh that wrk cannot drive (standard library only, asyncio).

  longpoll BFF OTHER BIN PID USERS PER_USER WAIT
      USERS users (their own app tokens, minted with `BIN token`) each open one session on BFF,
      then PER_USER long-polls each (`?wait=WAIT`, a connection each) wait at once on BFF.
      Reports: how many were answered (woken, answered at once past a cap, or timed out),
      status-read and /healthz p50/p99 on BFF without and with the waiters, BFF's RSS (PID)
      with them waiting, and the wake-up delay: from sending each exit callback to OTHER
      (another replica on the same Redis; CALLBACKS_PER_S a second, on 8 connections) to each
      of that session's waiters being answered (timed as the answer's last byte arrives, so the
      callback's own answer time is included), and BFF's CPU time per waiter woken.
  create BFF BIN CLIENTS SECONDS
      CLIENTS clients, each a user of its own on a keep-alive connection, open sessions back to
      back for SECONDS. Reports requests/s, errors, p50/p99.
  first BFF EMULATOR TOKEN OWNER COUNT
      Prepares COUNT first successes as production makes them: COUNT sessions opened through
      BFF (with TOKEN) and COUNT links made at the emulator in its own process
      (`POST /api/links/`, the development credentials, `external_id` OWNER: the sessions'
      owner, so the BFF's verification of each link succeeds at once), one link per session.
      Prints one callback path a line (`/callbacks/{session}/success?link=…&institution=…`).
  sessions BFF TOKEN COUNT
      Opens COUNT sessions through BFF (with TOKEN), 32 at a time; prints their ids.
  startup BIN REDIS_URL RUNS
      Starts BIN (serve, on REDIS_URL, a free port) RUNS times and measures from the process
      start to the first /readyz 200 (polled every millisecond). Reports the median and max.

Prints one JSON object. Every answer's status is checked: errors are counted, never hidden.
"""

import asyncio
import concurrent.futures
import json
import os
import re
import resource
import subprocess
import sys
import time
import urllib.parse


# Exit callbacks per second in the long-poll case (each wakes PER_USER waiters).
CALLBACKS_PER_S = 500


def raise_open_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def tokens(binary, subs):
    def mint(sub):
        out = subprocess.run([binary, "token", "--sub", sub, "--ttl", "2h"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(mint, subs))


def pct(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000, 2)


def cpu_seconds(pid):
    """CPU time (user + system, all threads) the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


class Conn:
    """One HTTP/1.1 keep-alive connection."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.reader = self.writer = None

    async def request(self, method, path, token=None, body=None, auth=None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if auth:
            head += f"Authorization: {auth}\r\n"
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + data)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        payload = await self.reader.readexactly(length) if length else b""
        return status, headers, payload

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def timed_reads(url, items, concurrency, path_of):
    """Sends one GET per item (concurrency connections); latencies and error count."""
    latencies, errors, queue = [], 0, list(items)

    async def worker():
        nonlocal errors
        conn = Conn(url)
        while queue:
            token, path = path_of(queue.pop())
            started = time.perf_counter()
            try:
                status, _, _ = await conn.request("GET", path, token)
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                status = 0
                conn.close()
            latencies.append(time.perf_counter() - started)
            errors += status != 200
        conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def metric(url, name):
    conn = Conn(url)
    _, _, body = await conn.request("GET", "/metrics")
    conn.close()
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def longpoll(bff, other, binary, pid, users, per_user, wait):
    limit = raise_open_files()
    subs = [f"bench-waiter-{n}" for n in range(users)]
    toks = tokens(binary, subs)
    sessions = [None] * users

    async def open_sessions(indexes):
        conn = Conn(bff)
        for i in indexes:
            status, _, body = await conn.request(
                "POST", "/v1/widget-sessions", toks[i], {"product": "mx_employment", "platform": "ios"})
            if status != 201:
                sys.exit(f"opening a session answered {status}: {body[:200]!r}")
            sessions[i] = json.loads(body)["session_id"]
        conn.close()

    await asyncio.gather(*(open_sessions(range(k, users, 32)) for k in range(32)))
    reads = [(toks[i], f"/v1/widget-sessions/{sessions[i]}") for i in range(users)] * 2

    async def read_case():
        status_lat, status_err = await timed_reads(bff, reads, 16, lambda x: x)
        health_lat, health_err = await timed_reads(bff, [None] * 500, 4, lambda _: (None, "/healthz"))
        return {"status_p50_ms": pct(status_lat, 0.5), "status_p99_ms": pct(status_lat, 0.99),
                "status_errors": status_err, "healthz_p50_ms": pct(health_lat, 0.5),
                "healthz_p99_ms": pct(health_lat, 0.99), "healthz_errors": health_err}

    without = await read_case()
    rss_before = rss_mib(pid)

    # The waiters: PER_USER per user, each on a connection of its own.
    answered_at = {}
    outcomes = {"woken": 0, "skipped": 0, "pending": 0, "errors": 0}
    error_kinds = {}

    loop = asyncio.get_running_loop()
    host, port = urllib.parse.urlsplit(bff).hostname, urllib.parse.urlsplit(bff).port

    class Waiter(asyncio.Protocol):
        """One long-poll on a connection of its own. A protocol rather than a stream: the time
        an answer arrives is taken in `data_received`, and parsing waits until every waiter is
        answered, so with thousands answered at once the client's own work stays out of the
        measured delay."""

        def __init__(self, i, k):
            self.key, self.data, self.at = (i, k), bytearray(), None
            self.done = loop.create_future()

        def connection_made(self, transport):
            i = self.key[0]
            transport.write(f"GET /v1/widget-sessions/{sessions[i]}?wait={wait} HTTP/1.1\r\n"
                            f"Host: {host}\r\nAuthorization: Bearer {toks[i]}\r\n\r\n".encode())
            self.transport = transport

        def data_received(self, data):
            self.data += data
            head_end = self.data.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = re.search(rb"(?im)^content-length:\s*(\d+)", self.data[:head_end])
            if len(self.data) >= head_end + 4 + int(length.group(1) if length else 0):
                self.at = time.perf_counter()
                self.transport.close()

        def connection_lost(self, exc):
            if not self.done.done():
                self.done.set_result(None)

    def outcome(w):
        """How a waiter was answered, from the bytes it received."""
        head, _, body = bytes(w.data).partition(b"\r\n\r\n")
        if w.at is None:
            return "closed before an answer"
        status = head.split(b" ", 2)[1].decode()
        if status != "200":
            return status
        if re.search(rb"(?im)^x-long-poll:\s*skipped", head):
            return "skipped"
        return "pending" if json.loads(body)["status"] == "pending" else "woken"

    async def waiter(i, k):
        try:
            _, w = await loop.create_connection(lambda: Waiter(i, k), host, port)
        except OSError as e:
            error_kinds[type(e).__name__] = error_kinds.get(type(e).__name__, 0) + 1
            return None
        await w.done
        return w

    started = time.perf_counter()
    tasks = []
    for k in range(per_user):
        for i in range(users):
            tasks.append(asyncio.create_task(waiter(i, k)))
        await asyncio.sleep(0)
    total = users * per_user
    deadline = time.perf_counter() + wait / 2
    waiting = 0.0
    while time.perf_counter() < deadline:
        waiting = await metric(bff, "bff_long_polls_waiting")
        done = sum(t.done() for t in tasks)
        if waiting + done >= total:
            break
        await asyncio.sleep(0.2)
    all_waiting = time.perf_counter() - started
    rss_waiting = rss_mib(pid)
    with_waiters = await read_case()

    # Wake-up: an exit callback per session on the other replica; each session's waiters must
    # then be answered. Delay from sending the callback to each waiter's answer.
    called_at = {}

    async def callbacks(indexes):
        conn = Conn(other)
        for i in indexes:
            # At a steady rate, so that the delay measures waking rather than a queue of
            # callbacks faster than any one process can answer ten waiters each.
            await asyncio.sleep(max(0.0, calls_began + i / CALLBACKS_PER_S - time.perf_counter()))
            called_at[i] = time.perf_counter()
            status, _, _ = await conn.request(
                "GET", f"/callbacks/{sessions[i]}/exit?meta_data_step=abandon-survey")
            if status != 302:
                sys.exit(f"the callback answered {status}")
        conn.close()

    cpu_before = cpu_seconds(pid)
    calls_began = time.perf_counter()
    await asyncio.gather(*(callbacks(range(k, users, 8)) for k in range(8)))
    calls_took = time.perf_counter() - calls_began
    woken = await asyncio.gather(*tasks)
    wake_cpu = cpu_seconds(pid) - cpu_before
    for w in woken:
        if w is None:
            outcomes["errors"] += 1
            continue
        kind = outcome(w)
        if kind in outcomes:
            outcomes[kind] += 1
        else:
            outcomes["errors"] += 1
            error_kinds[kind] = error_kinds.get(kind, 0) + 1
        if kind == "woken":
            answered_at[w.key] = w.at
    delays = [at - called_at[i] for (i, _), at in answered_at.items()]
    print(json.dumps({
        "users": users, "per_user": per_user, "wait_s": wait, "client_open_files": limit,
        "waiting_seen": int(waiting), "seconds_to_all_waiting": round(all_waiting, 1),
        "answered": sum(outcomes.values()) - outcomes["errors"], "of": total, **outcomes,
        "error_kinds": error_kinds,
        "rss_mib_before": rss_before, "rss_mib_waiting": rss_waiting,
        "without_waiters": without, "with_waiters": with_waiters,
        "wakeup_p50_ms": pct(delays, 0.5), "wakeup_p99_ms": pct(delays, 0.99),
        "wakeup_max_ms": pct(delays, 1.0),
        "callbacks_per_s": CALLBACKS_PER_S, "callbacks_ms": round(calls_took * 1000, 1),
        "wakeup_cpu_us_per_waiter": round(wake_cpu * 1e6 / max(1, len(delays))),
    }))


async def create(bff, binary, clients, seconds):
    raise_open_files()
    toks = tokens(binary, [f"bench-creator-{n}" for n in range(clients)])
    latencies, errors = [], {}
    stop = time.perf_counter() + seconds

    async def client(token):
        conn = Conn(bff)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                status, _, _ = await conn.request(
                    "POST", "/v1/widget-sessions", token, {"product": "mx_employment", "platform": "ios"})
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                status = 0
                conn.close()
            latencies.append(time.perf_counter() - started)
            if status != 201:
                errors[status] = errors.get(status, 0) + 1
        conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(t) for t in toks))
    elapsed = time.perf_counter() - began
    print(json.dumps({
        "clients": clients, "seconds": round(elapsed, 2), "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1), "errors": errors,
        "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99), "max_ms": pct(latencies, 1.0),
    }))


WORKERS = 32


def shares(count):
    return [count // WORKERS + (1 if i < count % WORKERS else 0) for i in range(WORKERS)]


async def open_sessions(bff, token, n, into):
    conn = Conn(bff)
    for _ in range(n):
        status, _, body = await conn.request(
            "POST", "/v1/widget-sessions", token, {"product": "mx_employment", "platform": "ios"})
        if status != 201:
            sys.exit(f"opening a session answered {status}: {body[:200]!r}")
        into.append(json.loads(body)["session_id"])
    conn.close()


async def sessions_only(bff, token, count):
    ids = []
    await asyncio.gather(*(open_sessions(bff, token, n, ids) for n in shares(count)))
    if len(ids) != count:
        sys.exit(f"opened {len(ids)} sessions of {count}")
    sys.stdout.write("".join(f"{i}\n" for i in ids))


async def first(bff, emulator, token, owner, count):
    import base64
    basic = "Basic " + base64.b64encode(b"dev-secret-id:dev-secret-password").decode()
    sessions, links = [], []

    async def make_links(worker, n):
        conn = Conn(emulator)
        for i in range(n):
            # A username of its own each: the emulator allows 3 attempts a day per username.
            status, _, body = await conn.request(
                "POST", "/api/links/", auth=basic,
                body={"institution": "planet_mx_employment", "username": f"bench-{worker}-{i}",
                      "access_mode": "single", "external_id": owner})
            if status != 201:
                sys.exit(f"making a link at the emulator answered {status}: {body[:200]!r}")
            links.append(json.loads(body)["id"])
        conn.close()

    await asyncio.gather(*(open_sessions(bff, token, n, sessions) for n in shares(count)),
                         *(make_links(w, n) for w, n in enumerate(shares(count))))
    if len(sessions) != count or len(links) != count:
        sys.exit(f"prepared {len(sessions)} sessions and {len(links)} links of {count}")
    sys.stdout.write("".join(
        f"/callbacks/{s}/success?link={link}&institution=planet_mx_employment\n"
        for s, link in zip(sessions, links)))


def startup(binary, redis_url, runs):
    import http.client
    import socket
    times = []
    for _ in range(runs):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port), "REDIS_URL": redis_url,
               "BFF__STORE__KEY_PREFIX": "bench-startup", "BFF__LOG__LEVEL": "warn",
               # As in production: no embedded demo receiver (an events endpoint of its own).
               "BFF__NOTIFY__DEMO_RECEIVER": "false"}
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                if proc.poll() is not None:
                    sys.exit(f"{binary} exited with {proc.returncode} before /readyz")
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    conn.request("GET", "/readyz")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if time.perf_counter() - started > 30:
                    sys.exit("/readyz never answered 200 within 30 s")
                time.sleep(0.001)
            times.append(time.perf_counter() - started)
        finally:
            proc.terminate()
            proc.wait()
    print(json.dumps({"runs": runs, "median_ms": pct(times, 0.5), "max_ms": pct(times, 1.0)}))


def main(argv):
    if len(argv) == 8 and argv[0] == "longpoll":
        asyncio.run(longpoll(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]),
                             int(argv[6]), int(argv[7])))
    elif len(argv) == 5 and argv[0] == "create":
        asyncio.run(create(argv[1], argv[2], int(argv[3]), float(argv[4])))
    elif len(argv) == 6 and argv[0] == "first":
        asyncio.run(first(argv[1], argv[2], argv[3], argv[4], int(argv[5])))
    elif len(argv) == 4 and argv[0] == "sessions":
        asyncio.run(sessions_only(argv[1], argv[2], int(argv[3])))
    elif len(argv) == 4 and argv[0] == "startup":
        startup(argv[1], argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
