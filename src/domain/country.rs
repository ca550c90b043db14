//! Countries and the resources Belvo can fetch in each (table in the OFDA guide, `fetch_resources`).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Country {
    #[serde(rename = "MX")]
    Mexico,
    #[serde(rename = "BR")]
    Brazil,
    #[serde(rename = "CO")]
    Colombia,
}

impl Country {
    pub const ALL: [Country; 3] = [Country::Mexico, Country::Brazil, Country::Colombia];

    pub fn code(self) -> &'static str {
        match self {
            Self::Mexico => "MX",
            Self::Brazil => "BR",
            Self::Colombia => "CO",
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A resource Belvo fetches asynchronously for a link (`fetch_resources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resource {
    Accounts,
    Owners,
    Transactions,
    Bills,
    Invoices,
    TaxComplianceStatus,
    TaxDeclarations,
    TaxRetentions,
    TaxStatus,
    EmploymentRecords,
    EmploymentMetrics,
    EmploymentScores,
    Employments,
}

/// Where a resource is restricted to some countries or to open finance (OFDA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Anywhere,
    Only(&'static [Country]),
    /// Brazil's open finance (OFDA) widget only.
    OpenFinanceOnly,
}

impl Resource {
    pub const ALL: [Resource; 13] = [
        Resource::Accounts,
        Resource::Owners,
        Resource::Transactions,
        Resource::Bills,
        Resource::Invoices,
        Resource::TaxComplianceStatus,
        Resource::TaxDeclarations,
        Resource::TaxRetentions,
        Resource::TaxStatus,
        Resource::EmploymentRecords,
        Resource::EmploymentMetrics,
        Resource::EmploymentScores,
        Resource::Employments,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accounts => "ACCOUNTS",
            Self::Owners => "OWNERS",
            Self::Transactions => "TRANSACTIONS",
            Self::Bills => "BILLS",
            Self::Invoices => "INVOICES",
            Self::TaxComplianceStatus => "TAX_COMPLIANCE_STATUS",
            Self::TaxDeclarations => "TAX_DECLARATIONS",
            Self::TaxRetentions => "TAX_RETENTIONS",
            Self::TaxStatus => "TAX_STATUS",
            Self::EmploymentRecords => "EMPLOYMENT_RECORDS",
            Self::EmploymentMetrics => "EMPLOYMENT_METRICS",
            Self::EmploymentScores => "EMPLOYMENT_SCORES",
            Self::Employments => "EMPLOYMENTS",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    pub fn availability(self) -> Availability {
        match self {
            Self::EmploymentRecords | Self::EmploymentMetrics | Self::EmploymentScores => {
                Availability::Only(&[Country::Mexico])
            }
            // The OFDA table says "Brazil only", but the later Colombia employment guide fetches
            // EMPLOYMENTS too (`/api/co/employments/`): both countries offer it.
            Self::Employments => Availability::Only(&[Country::Brazil, Country::Colombia]),
            Self::TaxDeclarations => Availability::Only(&[Country::Colombia]),
            Self::Bills => Availability::OpenFinanceOnly,
            _ => Availability::Anywhere,
        }
    }

    /// Whether a link in `country` (open finance or not) can fetch this resource.
    pub fn available_in(self, country: Country, open_finance: bool) -> bool {
        match self.availability() {
            Availability::Anywhere => true,
            Availability::Only(countries) => countries.contains(&country),
            Availability::OpenFinanceOnly => open_finance && country == Country::Brazil,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employment_resources_are_country_bound() {
        assert!(Resource::EmploymentRecords.available_in(Country::Mexico, false));
        assert!(!Resource::EmploymentRecords.available_in(Country::Brazil, false));
        assert!(Resource::Employments.available_in(Country::Brazil, false));
        assert!(Resource::Employments.available_in(Country::Colombia, false));
        assert!(!Resource::Employments.available_in(Country::Mexico, false));
        assert!(Resource::TaxDeclarations.available_in(Country::Colombia, false));
        assert!(!Resource::TaxDeclarations.available_in(Country::Mexico, false));
    }

    #[test]
    fn bills_need_open_finance() {
        assert!(Resource::Bills.available_in(Country::Brazil, true));
        assert!(!Resource::Bills.available_in(Country::Brazil, false));
        assert!(!Resource::Bills.available_in(Country::Mexico, true));
    }

    #[test]
    fn names_round_trip() {
        for r in Resource::ALL {
            assert_eq!(Resource::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Resource::parse("employments"), None);
    }
}
