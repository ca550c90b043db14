//! Brazil open-finance data (`br_ofda` links): `GET /api/accounts/` and `GET /api/transactions/`
//! with deterministic fixtures per link. Their counts are the totals the link's
//! `historical_update` webhooks announce (`data::total`), so a client that reads every page
//! finds exactly what the webhook said. Fields as in Belvo's Account and Transaction schemas;
//! transactions can be narrowed by `value_date__gte` / `value_date__lte` (`YYYY-MM-DD`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use time::macros::{date, format_description};
use time::{Date, Duration};

use super::api_auth::belvo_error;
use super::data::{requested_link, total, uuid_from, LinkQuery, Seed};
use super::pages::PageQuery;
use super::refusals::Refused;
use super::Emulator;

const COLLECTED_AT: &str = "2024-06-26T16:25:54.344113Z";
/// The newest transaction's value date; older ones go back three days each.
const NEWEST: Date = date!(2024 - 06 - 26);

/// What each account of a link is, in turn.
const KINDS: &[(&str, &str, &str, &str)] = &[
    (
        "CHECKING_ACCOUNT",
        "ASSET",
        "Conta corrente",
        "Conta Corrente Digital",
    ),
    ("SAVINGS_ACCOUNT", "ASSET", "Conta poupança", "Poupança"),
    (
        "CREDIT_CARD",
        "LIABILITY",
        "Cartão de crédito",
        "Cartão Platinum",
    ),
];

const DESCRIPTIONS: &[(&str, &str, &str)] = &[
    ("PIX RECEBIDO", "INFLOW", "Transfers"),
    ("SALARIO", "INFLOW", "Income & Payments"),
    ("SUPERMERCADO PAO DOURADO", "OUTFLOW", "Food & Groceries"),
    ("CONTA DE LUZ", "OUTFLOW", "Bills & Utilities"),
    ("UBER *TRIP", "OUTFLOW", "Transport & Travel"),
    ("FARMACIA SAO JOAO", "OUTFLOW", "Personal Shopping"),
    ("TARIFA PACOTE SERVICOS", "OUTFLOW", "Fees & Charges"),
];

fn institution_of(emulator: &Emulator, link: &str) -> String {
    emulator
        .state()
        .links
        .get(link)
        .map(|l| l.institution.clone())
        .unwrap_or_default()
}

/// Two decimals, as Belvo's amounts.
fn money(cents: u32) -> f64 {
    f64::from(cents) / 100.0
}

fn account(link: &str, institution: &str, i: usize) -> Value {
    let s = Seed::new(link, &format!("account:{i}"));
    let (category, balance_type, kind, name) = KINDS[i % KINDS.len()];
    let current = money(50_000 + s.num(1, 2_000_000));
    let credit_data = (category == "CREDIT_CARD").then(|| {
        json!({
            "credit_limit": money(500_000 + s.num(2, 1_000_000)),
            "collected_at": COLLECTED_AT,
            "cutting_date": "2024-07-05",
            "next_payment_date": "2024-07-15",
            "minimum_payment": money(10_000 + s.num(3, 50_000)),
            "no_interest_payment": current,
            "interest_rate": 4,
            "end_date": null,
            "monthly_payment": null,
            "last_payment_date": "2024-06-15",
        })
    });
    json!({
        "id": uuid_from(link, "account", i),
        "link": link,
        "institution": {"name": institution, "type": "bank"},
        "collected_at": COLLECTED_AT,
        "created_at": COLLECTED_AT,
        "category": category,
        "balance_type": balance_type,
        "type": kind,
        "name": format!("{name} {:04}", s.num(4, 9999)),
        "number": format!("{:05}-{}", s.num(5, 99_999), s.num(6, 10)),
        "balance": {"current": current, "available": if category == "CREDIT_CARD" { current } else { money(40_000 + s.num(7, 1_500_000)) }},
        "currency": "BRL",
        "public_identification_name": "AGENCY/ACCOUNT",
        "public_identification_value": format!("{:04}/{:05}-{}", s.num(8, 9999), s.num(5, 99_999), s.num(6, 10)),
        "last_accessed_at": COLLECTED_AT,
        "credit_data": credit_data,
        "loan_data": null,
        "funds_data": null,
        "receivables_data": null,
        "bank_product_id": null,
        "internal_identification": format!("ACC{}", &uuid_from(link, "account-internal", i)[..8]),
    })
}

/// The `i`-th transaction (newest first), on the link's accounts in turn.
fn transaction(link: &str, institution: &str, accounts: usize, i: usize) -> Value {
    let s = Seed::new(link, &format!("transaction:{i}"));
    let (description, direction, category) =
        DESCRIPTIONS[s.num(0, 1000) as usize % DESCRIPTIONS.len()];
    let date = value_date(i);
    json!({
        "id": uuid_from(link, "transaction", i),
        "internal_identification": format!("TX{}", &uuid_from(link, "transaction-internal", i)[..12]),
        "account": account(link, institution, i % accounts.max(1)),
        "collected_at": COLLECTED_AT,
        "created_at": COLLECTED_AT,
        "value_date": date.to_string(),
        "accounting_date": format!("{date}T12:00:00.000Z"),
        "amount": money(500 + s.num(1, 300_000)),
        "balance": money(50_000 + s.num(2, 2_000_000)),
        "currency": "BRL",
        "description": description,
        "observations": null,
        "merchant": null,
        "category": category,
        "subcategory": null,
        "reference": format!("{:08}", s.num(3, 99_999_999)),
        "type": direction,
        "status": "PROCESSED",
        "credit_card_data": null,
    })
}

fn value_date(i: usize) -> Date {
    // Bounded so the arithmetic cannot overflow; far past `Date::MIN` anyway.
    let days = i64::try_from(i.min(10_000_000)).unwrap_or(0) * 3;
    NEWEST
        .checked_sub(Duration::days(days))
        .unwrap_or(Date::MIN)
}

pub async fn accounts(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    query: web::Query<LinkQuery>,
    page: web::Query<PageQuery>,
) -> HttpResponse {
    let link = match requested_link(&emulator, &req, &query) {
        Ok(link) => link,
        Err(refused) => return *refused,
    };
    let institution = institution_of(&emulator, &link);
    let count = total("ACCOUNTS", &link);
    let results = page
        .range(count)
        .map(|i| account(&link, &institution, i))
        .collect();
    HttpResponse::Ok().json(page.body(&req, count, results))
}

/// Belvo's filters on a transaction's `value_date`.
#[derive(Deserialize)]
pub struct DateRange {
    #[serde(rename = "value_date__gte")]
    from: Option<String>,
    #[serde(rename = "value_date__lte")]
    to: Option<String>,
}

fn parse_date(raw: Option<&str>, field: &str) -> Result<Option<Date>, Refused> {
    let format = format_description!("[year]-[month]-[day]");
    raw.map(|d| {
        Date::parse(d, format).map_err(|_| {
            Box::new(belvo_error(
                400,
                "invalid",
                "Enter a valid date (YYYY-MM-DD).",
                Some(field),
            ))
        })
    })
    .transpose()
}

pub async fn transactions(
    emulator: web::Data<Emulator>,
    req: HttpRequest,
    query: web::Query<LinkQuery>,
    page: web::Query<PageQuery>,
    range: web::Query<DateRange>,
) -> HttpResponse {
    let link = match requested_link(&emulator, &req, &query) {
        Ok(link) => link,
        Err(refused) => return *refused,
    };
    let (from, to) = match (
        parse_date(range.from.as_deref(), "value_date__gte"),
        parse_date(range.to.as_deref(), "value_date__lte"),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(refused), _) | (_, Err(refused)) => return *refused,
    };
    let institution = institution_of(&emulator, &link);
    let accounts = total("ACCOUNTS", &link);
    // Dates fall as `i` grows, so the ones in range are one contiguous run.
    let matching: Vec<usize> = (0..total("TRANSACTIONS", &link))
        .filter(|i| {
            let d = value_date(*i);
            from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t)
        })
        .collect();
    let results = page
        .range(matching.len())
        .map(|n| transaction(&link, &institution, accounts, matching[n]))
        .collect();
    HttpResponse::Ok().json(page.body(&req, matching.len(), results))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_deterministic_and_point_at_the_links_accounts() {
        let link = "cb65f82c-dc93-4d3e-8270-9a27528397f5";
        assert_eq!(
            account(link, "erebor_br_retail", 0),
            account(link, "erebor_br_retail", 0)
        );
        let n = total("ACCOUNTS", link);
        let ids: Vec<Value> = (0..n)
            .map(|i| account(link, "x", i)["id"].clone())
            .collect();
        for i in 0..total("TRANSACTIONS", link) {
            let t = transaction(link, "x", n, i);
            assert!(ids.contains(&t["account"]["id"]), "{t}");
            assert!(matches!(t["type"].as_str(), Some("INFLOW" | "OUTFLOW")));
        }
        assert_eq!(value_date(0), NEWEST);
        assert_eq!(value_date(1).to_string(), "2024-06-23");
        assert_eq!(value_date(usize::MAX), Date::MIN);
    }
}
