//! The institutions the emulated widget offers, with the codes the guides use.

use crate::domain::country::Country;

pub struct Institution {
    pub code: &'static str,
    pub name: &'static str,
    pub country: Country,
    /// Employment institutions (vs. open finance retail banks).
    pub employment: bool,
}

pub const INSTITUTIONS: &[Institution] = &[
    Institution {
        code: "planet_mx_employment",
        name: "Planet (sandbox IMSS)",
        country: Country::Mexico,
        employment: true,
    },
    Institution {
        code: "imss_mx_employment",
        name: "IMSS",
        country: Country::Mexico,
        employment: true,
    },
    Institution {
        code: "issste_mx_employment",
        name: "ISSSTE",
        country: Country::Mexico,
        employment: true,
    },
    Institution {
        code: "inss_br_employment",
        name: "INSS",
        country: Country::Brazil,
        employment: true,
    },
    Institution {
        code: "pila_co_employment",
        name: "PILA",
        country: Country::Colombia,
        employment: true,
    },
    Institution {
        code: "erebor_br_retail",
        name: "Erebor Brasil (sandbox)",
        country: Country::Brazil,
        employment: false,
    },
    Institution {
        code: "ofbradesco_br_retail",
        name: "Bradesco",
        country: Country::Brazil,
        employment: false,
    },
    Institution {
        code: "ofitau_br_retail",
        name: "Itaú",
        country: Country::Brazil,
        employment: false,
    },
    Institution {
        code: "ofnubank_br_retail",
        name: "Nubank",
        country: Country::Brazil,
        employment: false,
    },
];

/// A display name for a code (the code itself when unknown).
pub fn display_name(code: &str) -> &str {
    INSTITUTIONS
        .iter()
        .find(|i| i.code == code)
        .map(|i| i.name)
        .unwrap_or(code)
}

/// Institutions for a widget: the URL's list when given, else those of the token's resources.
pub fn for_widget(
    listed: Option<&str>,
    fetch_resources: &[String],
    open_finance: bool,
) -> Vec<(String, String)> {
    if let Some(list) = listed.filter(|l| !l.is_empty()) {
        return list
            .split(',')
            .map(|code| (code.to_owned(), display_name(code).to_owned()))
            .collect();
    }
    let has = |r: &str| fetch_resources.iter().any(|x| x == r);
    let country = if has("EMPLOYMENT_RECORDS") {
        Some(Country::Mexico)
    } else if open_finance || has("ACCOUNTS") {
        Some(Country::Brazil)
    } else {
        None
    };
    INSTITUTIONS
        .iter()
        .filter(|i| i.employment != open_finance)
        .filter(|i| country.is_none_or(|c| c == i.country))
        .map(|i| (i.code.to_owned(), i.name.to_owned()))
        .collect()
}
