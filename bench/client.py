#!/usr/bin/env python3
"""Small HTTP client for scripts/bench.sh (standard library only).

  create  URL TOKEN COUNT [--succeed]   open COUNT widget sessions through the BFF's API, print
                                        their ids; --succeed also sends each one success callback
                                        (so status reads see a typical finished session)
  hit     URL TOKEN KIND IDS COUNT      send COUNT requests of KIND (success, exit, status,
                                        create, webhook) one after another, for counting Redis
                                        commands; for webhook, TOKEN is the webhook bearer token
                                        and IDS holds link ids

Every request must get the status the BFF documents, or the script stops: a benchmark of error
responses would measure nothing.
"""

import http.client
import json
import sys
import threading
import urllib.parse
import uuid

THREADS = 8
KINDS = ("success", "exit", "status", "create", "webhook")
EXIT_QUERY = "last_encountered_error_code=login_error&meta_data_step=abandon-survey"


class Client:
    """One keep-alive connection."""

    def __init__(self, url, token):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.auth = {"Authorization": f"Bearer {token}"}

    def send(self, method, path, expected, body=None):
        headers = dict(self.auth)
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expected:
            sys.exit(f"{method} {path}: expected {expected}, got {response.status}: {data[:300]!r}")
        return data

    def create(self):
        body = json.dumps({"product": "mx_employment", "platform": "ios"})
        return json.loads(self.send("POST", "/v1/widget-sessions", 201, body))["session_id"]

    def success(self, session_id):
        query = f"link={uuid.uuid4()}&institution=planet_mx_employment"
        self.send("GET", f"/callbacks/{session_id}/success?{query}", 302)

    def exit(self, session_id):
        self.send("GET", f"/callbacks/{session_id}/exit?{EXIT_QUERY}", 302)

    def status(self, session_id):
        self.send("GET", f"/v1/widget-sessions/{session_id}", 200)

    def webhook(self, link_id):
        body = json.dumps({
            "webhook_id": uuid.uuid4().hex,
            "webhook_type": "EMPLOYMENT_RECORDS",
            "process_type": "historical_update",
            "webhook_code": "historical_update",
            "link_id": link_id,
            "request_id": str(uuid.uuid4()),
            "data": {"total_employment_record_profiles": 1},
        })
        self.send("POST", "/webhooks/belvo", 200, body)


def create(url, token, count, succeed):
    ids, lock = [], threading.Lock()

    def work(n):
        client = Client(url, token)
        for _ in range(n):
            session_id = client.create()
            if succeed:
                client.success(session_id)
            with lock:
                ids.append(session_id)

    shares = [count // THREADS + (1 if i < count % THREADS else 0) for i in range(THREADS)]
    threads = [threading.Thread(target=work, args=(n,)) for n in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(ids) != count:
        sys.exit(f"created {len(ids)} sessions of {count}")
    print("\n".join(ids))


def hit(url, token, kind, ids_path, count):
    with open(ids_path) as f:
        ids = [line.strip() for line in f if line.strip()]
    client = Client(url, token)
    for i in range(count):
        session_id = ids[i % len(ids)]
        if kind == "create":
            client.create()
        else:
            getattr(client, kind)(session_id)


def main(argv):
    if len(argv) >= 4 and argv[0] == "create":
        create(argv[1], argv[2], int(argv[3]), "--succeed" in argv[4:])
    elif len(argv) == 6 and argv[0] == "hit" and argv[3] in KINDS:
        hit(argv[1], argv[2], argv[3], argv[4], int(argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
