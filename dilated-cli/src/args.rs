//! Parsing of numbers and comma-separated lists, with one clear message per kind of bad
//! input (clap prints it as `error: invalid value '…' for '--rates <LIST>': <message>`).

/// A comma-separated list of non-negative integers, as given on the command line
/// (`2,4,8`, `[1, 2, 5]`). Zeros parse; the schedule analysis rejects them with the layer index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct List(pub(crate) Vec<u64>);

/// Parses one non-negative integer, `u64` range.
pub(crate) fn number(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("expected a non-negative integer, got nothing".to_owned());
    }
    let digits = t.strip_prefix('+').unwrap_or(t);
    if let Some(rest) = digits.strip_prefix('-') {
        return if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            Err(format!(
                "'{t}' is negative: sizes and rates are non-negative integers"
            ))
        } else {
            Err(format!("'{t}' is not a number"))
        };
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits.parse::<u64>().map_err(|_| {
            format!(
                "'{t}' is too large: the largest accepted value is {}",
                u64::MAX
            )
        });
    }
    if digits.parse::<f64>().is_ok() {
        return Err(format!("'{t}' is not an integer"));
    }
    Err(format!("'{t}' is not a number"))
}

/// Parses a count (`--layers`, `--count`) into `usize`.
pub(crate) fn count(text: &str) -> Result<usize, String> {
    let n = number(text)?;
    usize::try_from(n).map_err(|_| format!("'{}' is too large for this machine", text.trim()))
}

/// Parses an input size: `N` for every axis, or `HxW` for the height and width axes.
pub(crate) fn sizes(text: &str) -> Result<List, String> {
    let parts: Vec<&str> = text.split(['x', '×']).collect();
    if parts.len() > 2 {
        return Err(format!(
            "'{}' is not a size: give N or HxW, such as 64x128",
            text.trim()
        ));
    }
    parts
        .iter()
        .map(|p| number(p))
        .collect::<Result<Vec<_>, _>>()
        .map(List)
}

/// Parses a comma-separated list, optionally in brackets.
pub(crate) fn list(text: &str) -> Result<List, String> {
    let t = text.trim();
    let inner = match (t.strip_prefix('['), t.strip_suffix(']')) {
        (Some(_), Some(_)) if t.len() >= 2 => &t[1..t.len() - 1],
        (None, None) => t,
        _ => return Err(format!("'{t}' has an unmatched bracket")),
    };
    if inner.trim().is_empty() {
        return Err("the list is empty: give comma-separated integers such as 1,2,5".to_owned());
    }
    let mut out = Vec::new();
    for (i, item) in inner.split(',').enumerate() {
        if item.trim().is_empty() {
            return Err(format!(
                "entry {} of '{t}' is empty: give comma-separated integers such as 1,2,5",
                i + 1
            ));
        }
        out.push(number(item)?);
    }
    Ok(List(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lists() {
        assert_eq!(list("2,4,8"), Ok(List(vec![2, 4, 8])));
        assert_eq!(list(" [1, 2, 5] "), Ok(List(vec![1, 2, 5])));
        assert_eq!(list("0"), Ok(List(vec![0])));
        assert_eq!(list("18446744073709551615"), Ok(List(vec![u64::MAX])));
    }

    #[test]
    fn bad_lists_say_what_is_wrong() {
        assert!(list("").unwrap_err().contains("empty"));
        assert!(list("[]").unwrap_err().contains("empty"));
        assert!(list("1,,2").unwrap_err().contains("entry 2"));
        assert!(list("1,2,").unwrap_err().contains("entry 3"));
        assert!(list("1,-2").unwrap_err().contains("negative"));
        assert!(list("1,x").unwrap_err().contains("not a number"));
        assert!(list("1.5").unwrap_err().contains("not an integer"));
        assert!(list("[1,2").unwrap_err().contains("bracket"));
        assert!(
            list("18446744073709551616")
                .unwrap_err()
                .contains("too large")
        );
        assert!(number("--").unwrap_err().contains("not a number"));
        assert_eq!(sizes("64"), Ok(List(vec![64])));
        assert_eq!(sizes("64x128"), Ok(List(vec![64, 128])));
        assert!(sizes("1x2x3").unwrap_err().contains("HxW"));
        assert!(sizes("x5").unwrap_err().contains("nothing"));
        assert!(number("").is_err());
    }
}
