"""Verifies deliveries with the `standardwebhooks` package from PyPI (an implementation of
Standard Webhooks independent of the server's): reads {"secret", "deliveries": [{"headers",
"body"}]} on stdin and prints, per delivery, what it makes of the real one, of the same with a
tampered body, and of the same with a timestamp ten minutes old.
"""
import json
import sys

from standardwebhooks import Webhook

request = json.load(sys.stdin)
webhook = Webhook(request["secret"])


def verdict(body, headers):
    try:
        return {"ok": webhook.verify(body, headers)}
    except Exception as error:  # the package raises WebhookVerificationError
        return {"refused": f"{type(error).__name__}: {error}"}


results = []
for delivery in request["deliveries"]:
    headers, body = delivery["headers"], delivery["body"]
    tampered = body.replace('"session.', '"sessionX.', 1)
    stale = dict(headers, **{"webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)})
    results.append({
        "real": verdict(body, headers),
        "tampered": verdict(tampered, headers),
        "stale": verdict(body, stale),
    })
print(json.dumps(results))
