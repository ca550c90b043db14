//! Brazilian tax ids (CPF, CNPJ) with check digits, as sent in the OFDA consent.

use std::fmt;

/// A CPF: 11 digits whose last two are check digits. Sequences of one repeated digit are invalid.
#[derive(Clone, PartialEq, Eq)]
pub struct Cpf(String);

/// A CNPJ: 14 digits whose last two are check digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Cnpj(String);

fn digits(raw: &str, len: usize) -> Option<Vec<u32>> {
    let cleaned: String = raw
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | '/'))
        .collect();
    if cleaned.len() != len {
        return None;
    }
    let ds: Option<Vec<u32>> = cleaned.chars().map(|c| c.to_digit(10)).collect();
    let ds = ds?;
    if ds.iter().all(|d| *d == ds[0]) {
        return None;
    }
    Some(ds)
}

fn check_digit(ds: &[u32], weights: impl Iterator<Item = u32>) -> u32 {
    let sum: u32 = ds.iter().zip(weights).map(|(d, w)| d * w).sum();
    let r = sum % 11;
    if r < 2 {
        0
    } else {
        11 - r
    }
}

impl Cpf {
    pub fn parse(raw: &str) -> Option<Self> {
        let ds = digits(raw, 11)?;
        let d1 = check_digit(&ds[..9], (2..=10).rev());
        let d2 = check_digit(&ds[..10], (2..=11).rev());
        (ds[9] == d1 && ds[10] == d2).then(|| Self(ds.iter().map(|d| d.to_string()).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Cnpj {
    pub fn parse(raw: &str) -> Option<Self> {
        let ds = digits(raw, 14)?;
        let w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
        let w2 = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
        let d1 = check_digit(&ds[..12], w1.into_iter());
        let d2 = check_digit(&ds[..13], w2.into_iter());
        (ds[12] == d1 && ds[13] == d2).then(|| Self(ds.iter().map(|d| d.to_string()).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Tax ids are personal data: never print them whole.
impl fmt::Debug for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cpf(***)")
    }
}

impl fmt::Debug for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cnpj(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpf_from_the_ofda_guide_is_valid() {
        assert!(Cpf::parse("76109277673").is_some());
        assert!(Cpf::parse("761.092.776-73").is_some());
    }

    #[test]
    fn cpf_with_wrong_check_digits_is_rejected() {
        assert!(Cpf::parse("76109277674").is_none());
        assert!(Cpf::parse("11111111111").is_none());
        assert!(Cpf::parse("7610927767").is_none());
        assert!(Cpf::parse("7610927767a").is_none());
    }

    #[test]
    fn cnpj_check_digits_are_verified() {
        assert!(Cnpj::parse("11222333000181").is_some());
        assert!(Cnpj::parse("11.222.333/0001-81").is_some());
        assert!(Cnpj::parse("11222333000182").is_none());
        assert!(Cnpj::parse("00000000000000").is_none());
        // The OFDA guide's sample CNPJ is a placeholder whose check digits do not verify.
        assert!(Cnpj::parse("50685362006773").is_none());
    }

    #[test]
    fn debug_never_shows_the_number() {
        let cpf = Cpf::parse("76109277673").unwrap();
        assert!(!format!("{cpf:?}").contains("761"));
    }
}
