//! How a worker's search box matches residents, in one place for the device and the server:
//! digits (and X) match the end of the ID number, Latin letters match pinyin initials ("zs" for
//! 张三), anything else matches the name. Both sides keep the same two search columns in their
//! query tables: `initials` ([`crate::pinyin::initials`]) and `id_tail` ([`id_tail`]).

/// How many trailing ID-number characters are kept for search: as many as a masked ID number
/// shows ([`crate::validate::mask_id_number`]), no more. With six, probing `?q=<d>1002X` digit
/// by digit read two characters more than any list shows (issue 10).
pub const ID_TAIL_LEN: usize = 4;

/// The searchable end of an ID number.
pub fn id_tail(id_number: Option<&str>) -> String {
    let id = id_number.unwrap_or("");
    let n = id.chars().count();
    id.chars().skip(n.saturating_sub(ID_TAIL_LEN)).collect()
}

/// What a search text means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    IdTail(String),
    Initials(String),
    Name(String),
}

impl SearchTerm {
    /// `None` for an empty search.
    pub fn parse(text: &str) -> Option<SearchTerm> {
        let t = text.trim();
        if t.is_empty() {
            None
        } else if t.chars().all(|c| c.is_ascii_digit() || c == 'x' || c == 'X') {
            // A longer number is matched on its last characters: rows written before the tail
            // was shortened keep six, and a longer pattern would read them.
            let tail = &t[t.len().saturating_sub(ID_TAIL_LEN)..];
            Some(SearchTerm::IdTail(tail.to_ascii_uppercase()))
        } else if t.chars().all(|c| c.is_ascii_alphabetic()) {
            Some(SearchTerm::Initials(t.to_ascii_lowercase()))
        } else {
            Some(SearchTerm::Name(t.to_string()))
        }
    }

    /// The query-table column and the `LIKE` pattern that implement the match, to be used as
    /// `{column} LIKE ? ESCAPE '\'` ([`LIKE_ESCAPE`]): the term's own `%`, `_` and `\` are
    /// escaped, so a search for "_" finds names with an underscore, not every name.
    pub fn column_and_pattern(&self) -> (&'static str, String) {
        match self {
            SearchTerm::IdTail(d) => ("id_tail", format!("%{}", escape_like(d))),
            SearchTerm::Initials(i) => ("initials", format!("{}%", escape_like(i))),
            SearchTerm::Name(n) => ("name", format!("%{}%", escape_like(n))),
        }
    }
}

/// The `ESCAPE` clause that goes after the pattern of [`SearchTerm::column_and_pattern`].
pub const LIKE_ESCAPE: &str = " ESCAPE '\\'";

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms() {
        assert_eq!(SearchTerm::parse(" 002x "), Some(SearchTerm::IdTail("002X".into())));
        assert_eq!(SearchTerm::parse("ZS"), Some(SearchTerm::Initials("zs".into())));
        assert_eq!(SearchTerm::parse("张"), Some(SearchTerm::Name("张".into())));
        assert_eq!(SearchTerm::parse("  "), None);
        assert_eq!(id_tail(Some("11010519491231002X")), "002X");
        // Never more than a masked ID number shows.
        assert_eq!(SearchTerm::parse("31002X"), Some(SearchTerm::IdTail("002X".into())));
        assert_eq!(SearchTerm::parse("11010519491231002x"), Some(SearchTerm::IdTail("002X".into())));
        assert_eq!(id_tail(None), "");
    }

    #[test]
    fn patterns_escape_the_wildcards_of_like() {
        assert_eq!(SearchTerm::parse("张").unwrap().column_and_pattern(), ("name", "%张%".into()));
        assert_eq!(SearchTerm::parse("_").unwrap().column_and_pattern(), ("name", "%\\_%".into()));
        assert_eq!(SearchTerm::parse("5%\\").unwrap().column_and_pattern(), ("name", "%5\\%\\\\%".into()));
        assert_eq!(LIKE_ESCAPE, " ESCAPE '\\'");
    }
}
