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

/// A Mexican CURP: 18 characters in the official structure (letters, birth date, sex, state,
/// consonants, homoclave, check digit). Upper-cased and trimmed on parse.
#[derive(Clone, PartialEq, Eq)]
pub struct Curp(String);

/// Mexican states (and NE, born abroad) as they appear in a CURP.
const CURP_STATES: &[&str] = &[
    "AS", "BC", "BS", "CC", "CL", "CM", "CS", "CH", "DF", "DG", "GT", "GR", "HG", "JC", "MC", "MN",
    "MS", "NT", "NL", "OC", "PL", "QT", "QR", "SP", "SL", "SR", "TC", "TS", "TL", "VZ", "YN", "ZS",
    "NE",
];

impl Curp {
    pub fn parse(raw: &str) -> Option<Self> {
        let c = raw.trim().to_ascii_uppercase();
        let b = c.as_bytes();
        if b.len() != 18 || !c.is_ascii() {
            return None;
        }
        let letter = |i: usize| b[i].is_ascii_uppercase();
        let digit = |i: usize| b[i].is_ascii_digit();
        let consonant = |i: usize| letter(i) && !b"AEIOU".contains(&b[i]);
        let number = |i: usize| (b[i] - b'0') as u32 * 10 + (b[i + 1] - b'0') as u32;
        let ok = letter(0)
            && b"AEIOUX".contains(&b[1])
            && letter(2)
            && letter(3)
            && (4..10).all(digit)
            && (1..=12).contains(&number(6))
            && (1..=31).contains(&number(8))
            && b"HMX".contains(&b[10])
            && CURP_STATES.contains(&&c[11..13])
            && (13..16).all(consonant)
            && (b[16].is_ascii_uppercase() || digit(16))
            && digit(17);
        ok.then_some(Self(c))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Colombian cédula de ciudadanía: 6 to 10 digits (dots and spaces are dropped).
#[derive(Clone, PartialEq, Eq)]
pub struct Cedula(String);

impl Cedula {
    pub fn parse(raw: &str) -> Option<Self> {
        let digits: String = raw.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
        let ok = (6..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Curp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Curp(***)")
    }
}

impl fmt::Debug for Cedula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cedula(***)")
    }
}

#[cfg(test)]
mod national_id_tests {
    use super::*;

    #[test]
    fn curp_follows_the_official_structure() {
        assert!(Curp::parse("GODE561231HDFRRN09").is_some());
        assert!(Curp::parse(" gode561231hdfrrn09 ").is_some());
        assert!(Curp::parse("BELA000101HDFNNN01").is_some());
        // The guide's sandbox sample is not a real CURP (month 13, sex I).
        assert!(Curp::parse("BLPM951331IONVGR54").is_none());
        assert!(Curp::parse("GODE561231HDFRRN0").is_none(), "17 characters");
        assert!(Curp::parse("GODE561331HDFRRN09").is_none(), "month 13");
        assert!(Curp::parse("GODE561231HZZRRN09").is_none(), "no such state");
        assert!(
            Curp::parse("GODE561231HDFAAN09").is_none(),
            "vowels where consonants go"
        );
        assert!(
            Curp::parse("GODE561231HDFRRN0X").is_none(),
            "check digit is a digit"
        );
    }

    #[test]
    fn cedula_is_six_to_ten_digits() {
        assert!(Cedula::parse("1020304050").is_some());
        assert!(Cedula::parse("1.020.304").is_some());
        assert!(Cedula::parse("12345").is_none());
        assert!(Cedula::parse("12345678901").is_none());
        assert!(Cedula::parse("12345a").is_none());
    }
}
