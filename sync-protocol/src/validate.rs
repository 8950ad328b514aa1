//! Field validators shared by the device (before it commits an edit) and the county server
//! (when it receives a change). One implementation, so the two can never disagree.

use chrono::NaiveDate;

use crate::error::ValidationCode;

/// GB 11643-1999 weights for the first 17 characters of a resident ID number (居民身份证号码).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The check character for the first 17 digits of an ID number.
pub fn id_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// What an ID number tells about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdNumberInfo {
    pub region: String,
    pub birth_date: NaiveDate,
    /// The 17th digit is odd for men, even for women.
    pub male: bool,
}

/// Checks an 18-character resident ID number: digits, a real birth date, and the check character.
pub fn id_number(value: &str) -> Result<IdNumberInfo, (ValidationCode, String)> {
    let v = value.trim();
    if v.chars().count() != 18 {
        return Err((ValidationCode::IdNumberLength, format!("身份证号码应为18位，实际为{}位", v.chars().count())));
    }
    let (first17, last) = v.split_at(17);
    if !first17.bytes().all(|b| b.is_ascii_digit()) {
        return Err((ValidationCode::IdNumberFormat, "身份证号码前17位必须是数字".into()));
    }
    let last = last.chars().next().unwrap_or(' ').to_ascii_uppercase();
    let birth = NaiveDate::parse_from_str(&first17[6..14], "%Y%m%d")
        .map_err(|_| (ValidationCode::IdNumberBirthDate, format!("身份证号码中的出生日期{}无效", &first17[6..14])))?;
    if birth.format("%Y").to_string().as_str() < "1900" || birth > today_in_china() {
        return Err((ValidationCode::IdNumberBirthDate, format!("身份证号码中的出生日期{}不合理", &first17[6..14])));
    }
    let expected = id_check_char(first17).unwrap_or('?');
    if last != expected {
        return Err((ValidationCode::IdNumberCheckDigit, format!("身份证号码校验位应为{expected}，实际为{last}")));
    }
    let male = (first17.as_bytes()[16] - b'0') % 2 == 1;
    Ok(IdNumberInfo { region: first17[..6].to_string(), birth_date: birth, male })
}

/// Today's date in China Standard Time (a newborn registered at 07:00 is born "today").
fn today_in_china() -> NaiveDate {
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
    chrono::Utc::now().with_timezone(&tz).date_naive()
}

/// Mainland mobile numbers: 11 digits starting with 1 and a network digit 3–9.
pub fn mobile(value: &str) -> Result<(), (ValidationCode, String)> {
    let v = value.trim();
    let ok = v.len() == 11
        && v.bytes().all(|b| b.is_ascii_digit())
        && v.as_bytes()[0] == b'1'
        && (b'3'..=b'9').contains(&v.as_bytes()[1]);
    if ok {
        Ok(())
    } else {
        Err((ValidationCode::Mobile, format!("手机号码“{v}”无效，应为1开头的11位数字")))
    }
}

/// A calendar date written as `YYYY-MM-DD`.
pub fn date(value: &str) -> Result<NaiveDate, (ValidationCode, String)> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| (ValidationCode::Date, format!("日期“{value}”无效，应为YYYY-MM-DD")))
}

/// Masks an ID number for lists: only the last four characters stay (with the birth year shown
/// beside it, a longer visible part would let region and date be guessed back).
pub fn mask_id_number(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{}{tail}", "*".repeat(chars.len() - 4))
}

/// Masks a phone number for lists: 138****5678.
pub fn mask_phone(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_valid_id_number_and_reads_it() {
        // Check character computed by hand from GB 11643 weights.
        let first17 = "37132319850312001";
        let c = id_check_char(first17).unwrap();
        let info = id_number(&format!("{first17}{c}")).unwrap();
        assert_eq!(info.birth_date, NaiveDate::from_ymd_opt(1985, 3, 12).unwrap());
        assert!(info.male);
        assert_eq!(info.region, "371323");
    }

    #[test]
    fn known_public_example_has_check_x() {
        // The standard's worked example: 11010519491231002X.
        assert!(id_number("11010519491231002X").is_ok());
        assert!(id_number("11010519491231002x").is_ok());
        assert_eq!(id_number("110105194912310021").unwrap_err().0, ValidationCode::IdNumberCheckDigit);
    }

    #[test]
    fn refuses_bad_id_numbers() {
        assert_eq!(id_number("1234").unwrap_err().0, ValidationCode::IdNumberLength);
        assert_eq!(id_number("37132319851332001X").unwrap_err().0, ValidationCode::IdNumberBirthDate);
        assert_eq!(id_number("3713231985031200AX").unwrap_err().0, ValidationCode::IdNumberFormat);
    }

    #[test]
    fn mobiles() {
        assert!(mobile("13812345678").is_ok());
        assert!(mobile("12812345678").is_err());
        assert!(mobile("1381234567").is_err());
        assert!(mobile("1381234567a").is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_id_number("11010519491231002X"), "**************002X");
    }
}
