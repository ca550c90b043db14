"""Belvo's official Python SDK (belvo-python), unmodified, against the emulator.

Run by scripts/sdk_checks.sh with BELVO_EMULATOR_URL (e.g. http://127.0.0.1:8081 for
`belvo-bff emulator`, or http://127.0.0.1:8080/emulator embedded), BELVO_SECRET_ID and
BELVO_SECRET_PASSWORD. Exits non-zero when any check fails; the last line reads
"N passed, N failed".
"""

import json
import os
import sys
import traceback

import requests
from belvo.client import Client
from belvo.enums import AccessMode
from belvo.exceptions import BelvoAPIException, RequestError

URL = os.environ["BELVO_EMULATOR_URL"].rstrip("/")
SECRET_ID = os.environ.get("BELVO_SECRET_ID", "dev-secret-id")
SECRET_PASSWORD = os.environ.get("BELVO_SECRET_PASSWORD", "dev-secret-password")
FIXTURES = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures.json")))

passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def refused(call):
    """The RequestError a call raises (None when it succeeds)."""
    try:
        call()
    except RequestError as e:
        return e
    return None


def belvo_shaped(error, status, code, field=None):
    detail = error.detail if error else None
    return (
        error is not None
        and error.status_code == status
        and isinstance(detail, list)
        and detail[0].get("code") == code
        and isinstance(detail[0].get("request_id"), str)
        and detail[0].get("field") == field
    )


def main():
    # Login: the SDK checks the credentials with GET /api/ and refuses wrong ones.
    try:
        Client(SECRET_ID, "wrong-password", URL)
        check("login refuses a wrong password", False)
    except BelvoAPIException as e:
        check("login refuses a wrong password", "Login failed" in str(e), str(e))
    client = Client(SECRET_ID, SECRET_PASSWORD, URL)
    check("login", client.session is not None)
    session = client.session

    # A fresh day for the attempt counters (earlier runs against the same emulator).
    reset = session.post("/control/reset", data={}, raise_exception=True)
    check("control reset", "attempt_counters" in reset.get("cleared", []), reset)

    # Widget tokens for the four products. The SDK's WidgetToken.create cannot send
    # fetch_resources, so the emulator says which field is missing; the session can.
    missing = refused(
        lambda: client.WidgetToken.create(
            widget={"callback_urls": FIXTURES["callback_urls"]}, raise_exception=True
        )
    )
    check(
        "WidgetToken.create without fetch_resources is 'required'",
        belvo_shaped(missing, 400, "required", "fetch_resources"),
        missing and missing.detail,
    )
    for product, body in FIXTURES["token_bodies"].items():
        token = session.post(
            "/api/token/",
            data={"id": SECRET_ID, "password": SECRET_PASSWORD, **body},
            raise_exception=True,
        )
        check(f"token for {product}", bool(token.get("access")) and bool(token.get("refresh")), token)

    # Institutions, every page.
    institutions = list(client.Institutions.list(page_size=2))
    names = {i["name"] for i in institutions}
    check(
        "institutions listed across pages",
        {"imss_mx_employment", "inss_br_employment", "pila_co_employment", "erebor_br_retail"} <= names,
        names,
    )
    check(
        "institution fields",
        all(
            {"name", "display_name", "type", "country_codes", "resources", "status"} <= set(i)
            for i in institutions
        ),
    )

    # Links through the API flow, MX / BR / CO.
    links = {}
    for country, (institution, username) in FIXTURES["api_links"].items():
        link = client.Links.create(
            institution,
            username,
            "",
            access_mode=AccessMode.SINGLE,
            external_id=f"sdk-python-{country}",
            raise_exception=True,
        )
        links[country] = link["id"]
        check(f"link created ({country})", link.get("institution") == institution, link)

    missing_mode = refused(
        lambda: client.Links.create("pila_co_employment", "1020304050", "", raise_exception=True)
    )
    check(
        "a link without access_mode is 'required'",
        belvo_shaped(missing_mode, 400, "required", "access_mode"),
        missing_mode and missing_mode.detail,
    )

    detail = client.Links.get(links["MX"])
    check("link detail", detail["id"] == links["MX"] and detail["external_id"] == "sdk-python-MX", detail)
    listed = [l["id"] for l in client.Links.list(page_size=1)]
    check("links listed across pages", set(links.values()) <= set(listed), listed)

    # Data: owners, employment records, metrics, BR / CO employments page by page to the end.
    owners = list(client.Owners.list(link=links["MX"]))
    check("owners", len(owners) == 1 and owners[0]["link"] == links["MX"], owners)
    records = list(client.EmploymentRecords.list(link=links["MX"]))
    check("employment records", len(records) == 1 and records[0]["employment_records"], records)
    metrics = list(session.list("/api/employment-metrics/", params={"link": links["MX"]}))
    check("employment metrics", len(metrics) == 1, metrics)
    for country in ("BR", "CO"):
        path = f"/api/{country.lower()}/employments/"
        first = session._get(f"{URL}{path}", params={"link": links[country], "page_size": 1})
        every = list(session.list(path, params={"link": links[country], "page_size": 1}))
        check(
            f"{country} employments followed to the last page",
            first["count"] >= 2
            and first["next"].startswith("http")
            and len(every) == first["count"]
            and len({e["id"] for e in every}) == first["count"]
            and all(e["country"] == country for e in every),
            (first["count"], len(every)),
        )

    # Brazil open finance: accounts and transactions of an open-finance institution's link.
    ofda = client.Links.create(
        "erebor_br_retail", "76109277673", "", access_mode=AccessMode.RECURRENT, raise_exception=True
    )
    accounts = list(client.Accounts.list(link=ofda["id"], page_size=1))
    transactions = list(client.Transactions.list(ofda["id"], page_size=7))
    check(
        "open-finance accounts and transactions",
        accounts
        and len(transactions) >= 20
        and {t["account"]["id"] for t in transactions} <= {a["id"] for a in accounts},
        (len(accounts), len(transactions)),
    )
    recent = list(client.Transactions.list(ofda["id"], value_date__gte="2024-06-01"))
    check(
        "transactions by date",
        recent and all(t["value_date"] >= "2024-06-01" for t in recent) and len(recent) < len(transactions),
        len(recent),
    )

    # Delete: 204 through the SDK, then the link is gone.
    check("link delete", client.Links.delete(links["CO"]) is True)
    try:
        client.Links.get(links["CO"])
        check("a deleted link is 404", False)
    except requests.HTTPError as e:
        check("a deleted link is 404", e.response.status_code == 404)

    # The IMSS error table, one fixture username per row.
    for username, status, code, message in FIXTURES["imss_errors"]:
        error = refused(
            lambda: client.Links.create(
                "imss_mx_employment", username, "", access_mode=AccessMode.SINGLE, raise_exception=True
            )
        )
        check(
            f"IMSS row {code}: {message[:40]}",
            belvo_shaped(error, status, code) and error.detail[0]["message"] == message,
            error and error.detail,
        )

    # forbidden_by_host: the fourth attempt of one username within a day.
    username = FIXTURES["forbidden_by_host_username"]
    for attempt in range(3):
        client.Links.create(
            "imss_mx_employment", username, "", access_mode=AccessMode.SINGLE, raise_exception=True
        )
    error = refused(
        lambda: client.Links.create(
            "imss_mx_employment", username, "", access_mode=AccessMode.SINGLE, raise_exception=True
        )
    )
    check("forbidden_by_host on the fourth attempt", belvo_shaped(error, 403, "forbidden_by_host"), error and error.detail)

    # Unknown routes and wrong methods answer Belvo's error list too.
    unknown = session.session.get(f"{URL}/api/nothing-here/")
    check("unknown route is a Belvo 404", unknown.status_code == 404 and unknown.json()[0]["code"] == "not_found")
    wrong = session.session.put(f"{URL}/api/institutions/", json={})
    check("wrong method is a Belvo 405", wrong.status_code == 405 and wrong.json()[0]["code"] == "method_not_allowed")


if __name__ == "__main__":
    try:
        main()
    except Exception:  # an SDK call that blew up is a failed check, reported with its trace
        failed += 1
        traceback.print_exc(file=sys.stdout)
        print("FAIL unexpected error (above)")
    print(f"belvo-python: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
