//! Pinyin initials for search: "zs" finds 张三.

use pinyin::ToPinyin;

/// The first letter of each character's pinyin; other characters (Latin letters, digits) are
/// kept lower-cased.
pub fn initials(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c.to_pinyin() {
            Some(p) => p.first_letter().chars().next(),
            None if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            None => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn initials() {
        assert_eq!(super::initials("张三"), "zs");
        assert_eq!(super::initials("欧阳娜娜"), "oynn");
    }
}
