#!/usr/bin/env python3
"""Small HTTP client for scripts/bench.sh (standard library only).

  create  URL TOKEN COUNT [--succeed [--verified OWNER]]
                                        open COUNT widget sessions through the BFF's API, print
                                        their ids; --succeed also sends each one success callback
                                        (so status reads see a typical finished session), naming
                                        a made-up link; with --verified, a link made at the BFF's
                                        embedded emulator for OWNER (the sessions' external id),
                                        so the BFF's verification claims it for the product, as
                                        in production
  hit     URL TOKEN KIND IDS COUNT      send COUNT requests of KIND (success, exit, status,
                                        create, webhook) one after another, for counting Redis
                                        commands; for webhook, TOKEN is the webhook bearer token
                                        and IDS holds link ids

Every request must get the status the BFF documents, or the script stops: a benchmark of error
responses would measure nothing.
"""

import base64
import http.client
import json
import sys
import threading
import urllib.parse
import uuid

THREADS = 8
KINDS = ("success", "exit", "status", "create", "webhook")
EXIT_QUERY = "last_encountered_error_code=login_error&meta_data_step=abandon-survey"
EMULATOR_AUTH = "Basic " + base64.b64encode(b"dev-secret-id:dev-secret-password").decode()


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

    def success(self, session_id, link=None):
        query = f"link={link or uuid.uuid4()}&institution=planet_mx_employment"
        self.send("GET", f"/callbacks/{session_id}/success?{query}", 302)

    def emulator_link(self, owner):
        """A link made at the embedded emulator for `owner` (its development credentials; a
        username of its own each, as the emulator allows 3 attempts a day per username)."""
        self.conn.request("POST", "/emulator/api/links/", body=json.dumps({
            "institution": "planet_mx_employment", "username": f"bench-{uuid.uuid4().hex}",
            "access_mode": "single", "external_id": owner,
        }), headers={"Authorization": EMULATOR_AUTH, "Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 201:
            sys.exit(f"making a link at the emulator answered {response.status}: {data[:300]!r}")
        return json.loads(data)["id"]

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


def create(url, token, count, succeed, owner=None):
    ids, lock = [], threading.Lock()

    def work(n):
        client = Client(url, token)
        for _ in range(n):
            session_id = client.create()
            if succeed:
                client.success(session_id, owner and client.emulator_link(owner))
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
        options = argv[4:]
        owner = None
        if "--verified" in options:
            at = options.index("--verified")
            if at + 1 >= len(options) or "--succeed" not in options:
                sys.exit(__doc__)
            owner = options[at + 1]
        create(argv[1], argv[2], int(argv[3]), "--succeed" in options, owner)
    elif len(argv) == 6 and argv[0] == "hit" and argv[3] in KINDS:
        hit(argv[1], argv[2], argv[3], argv[4], int(argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
