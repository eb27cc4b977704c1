//! YAML 1.1 timestamps as PyYAML 6 reads them (`2001-12-14`, `2001-12-14t21:59:43.10-05:00`),
//! turned into the text pydantic 2's JSON mode writes for the `date` / `datetime` PyYAML builds —
//! what `prefect deploy` sends after `model_dump(mode="json")`.
//!
//! PyYAML's two regular expressions, written out: the implicit resolver (`resolver.py`) takes a
//! plain scalar as a timestamp when it is `YYYY-MM-DD` exactly, or `YYYY-M-D` (one or two digits)
//! followed by a time; `construct_yaml_timestamp` (`constructor.py`) reads the parts with a
//! looser pattern (the date alone may have one-digit month and day: `!!timestamp 2001-1-1`):
//!
//! ```text
//! YYYY-M[M]-D[D] ( (T|t|[ \t]+) H[H]:MM:SS (.fraction)? ([ \t]* (Z | [-+]H[H](:MM)?))? )?
//! ```
//!
//! The fraction is cut or padded to microseconds; `Z`, `+00:00` and `-0` are UTC (pydantic
//! writes `Z`); the offset's minutes may be `00`-`99` (`+05:99` is 6 h 39 min). Python's `date` /
//! `datetime` / `timezone` refuse what does not exist (2024-02-30, hour 24, second 60, year 0, an
//! offset of 24 h or more); so does prefab, saying which part is wrong.

use super::TimestampKind;

/// The parts of a timestamp, as matched (not yet checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts {
    year: u32,
    month: u32,
    day: u32,
    time: Option<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Time {
    hour: u32,
    minute: u32,
    second: u32,
    microsecond: u32,
    /// Minutes east of UTC; `None` for a time without a zone (a naive `datetime`).
    offset: Option<i32>,
}

/// How a scalar reads as a timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reading {
    /// Not a timestamp to this reader.
    NotOne,
    /// A real date or time: its JSON text.
    Valid(String, TimestampKind),
    /// Timestamp-shaped, but no such date or time exists: what is wrong.
    Impossible(String, TimestampKind),
}

/// `text` as PyYAML's implicit resolver and constructor read an untagged plain scalar.
pub(super) fn implicit(text: &str) -> Reading {
    match parse(text) {
        Some((parts, two_digit_date)) if two_digit_date || parts.time.is_some() => check(&parts),
        _ => Reading::NotOne,
    }
}

/// `text` tagged `!!timestamp`: the constructor's pattern alone.
pub(super) fn tagged(text: &str) -> Reading {
    match parse(text) {
        Some((parts, _)) => check(&parts),
        None => Reading::NotOne,
    }
}

/// A run of ASCII digits at the start of `s`, with its length.
fn digits(s: &[u8]) -> (u32, usize) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    // At most 4 digits are read as a number here (longer runs are refused by the callers).
    let value = s[..n.min(9)]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    (value, n)
}

/// The constructor's pattern; also whether month and day both have two digits (what the
/// resolver needs for a date without a time). Python's `$` also matches before one final `\n`.
fn parse(text: &str) -> Option<(Parts, bool)> {
    let s = text.strip_suffix('\n').unwrap_or(text).as_bytes();
    let (year, n) = digits(s);
    if n != 4 || s.get(4) != Some(&b'-') {
        return None;
    }
    let mut i = 5;
    let (month, month_len) = digits(&s[i..]);
    if !(1..=2).contains(&month_len) || s.get(i + month_len) != Some(&b'-') {
        return None;
    }
    i += month_len + 1;
    let (day, day_len) = digits(&s[i..]);
    if !(1..=2).contains(&day_len) {
        return None;
    }
    i += day_len;
    let two_digit_date = month_len == 2 && day_len == 2;
    let date = Parts {
        year,
        month,
        day,
        time: None,
    };
    if i == s.len() {
        return Some((date, two_digit_date));
    }
    // The separator: `T`, `t`, or spaces and tabs.
    match s[i] {
        b'T' | b't' => i += 1,
        b' ' | b'\t' => {
            while i < s.len() && matches!(s[i], b' ' | b'\t') {
                i += 1;
            }
        }
        _ => return None,
    }
    let (hour, hour_len) = digits(&s[i..]);
    if !(1..=2).contains(&hour_len) || s.get(i + hour_len) != Some(&b':') {
        return None;
    }
    i += hour_len + 1;
    let (minute, minute_len) = digits(&s[i..]);
    if minute_len != 2 || s.get(i + 2) != Some(&b':') {
        return None;
    }
    i += 3;
    let (second, second_len) = digits(&s[i..]);
    if second_len != 2 {
        return None;
    }
    i += 2;
    let mut microsecond = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let n = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        // The first six digits, padded with zeros: microseconds.
        microsecond = (0..6).fold(0u32, |acc, k| {
            let d = if k < n { u32::from(s[i + k] - b'0') } else { 0 };
            acc * 10 + d
        });
        i += n;
    }
    let mut offset = None;
    if i < s.len() {
        while i < s.len() && matches!(s[i], b' ' | b'\t') {
            i += 1;
        }
        match s.get(i) {
            Some(b'Z') => {
                offset = Some(0);
                i += 1;
            }
            Some(&sign @ (b'+' | b'-')) => {
                i += 1;
                let (hours, hours_len) = digits(&s[i..]);
                if !(1..=2).contains(&hours_len) {
                    return None;
                }
                i += hours_len;
                let mut minutes = 0;
                if s.get(i) == Some(&b':') {
                    let (m, m_len) = digits(&s[i + 1..]);
                    if m_len != 2 {
                        return None;
                    }
                    minutes = m;
                    i += 3;
                }
                // At most 99 h 99 min: fits an i32.
                let total = i32::try_from(hours * 60 + minutes).unwrap_or(i32::MAX);
                offset = Some(if sign == b'-' { -total } else { total });
            }
            _ => return None,
        }
    }
    if i != s.len() {
        return None;
    }
    let time = Time {
        hour,
        minute,
        second,
        microsecond,
        offset,
    };
    Some((
        Parts {
            time: Some(time),
            ..date
        },
        two_digit_date,
    ))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Python's checks, in the order PyYAML meets them (the zone is built before the datetime), and
/// pydantic's JSON text.
fn check(parts: &Parts) -> Reading {
    let kind = if parts.time.is_some() {
        TimestampKind::DateTime
    } else {
        TimestampKind::Date
    };
    let impossible = |what: String| Reading::Impossible(what, kind);
    if let Some(Time {
        offset: Some(offset),
        ..
    }) = parts.time
        && offset.abs() >= 24 * 60
    {
        return impossible(format!(
            "the UTC offset {} is 24 hours or more",
            offset_text(offset)
        ));
    }
    if parts.year == 0 {
        return impossible("there is no year 0 (years run from 1 to 9999)".into());
    }
    if !(1..=12).contains(&parts.month) {
        return impossible(format!("there is no month {}", parts.month));
    }
    let last_day = days_in_month(parts.year, parts.month);
    if !(1..=last_day).contains(&parts.day) {
        return impossible(format!(
            "{} {} has no day {} (it has {last_day} days)",
            MONTHS[parts.month as usize - 1],
            parts.year,
            parts.day
        ));
    }
    let mut json = format!("{:04}-{:02}-{:02}", parts.year, parts.month, parts.day);
    let Some(time) = parts.time else {
        return Reading::Valid(json, kind);
    };
    for (value, limit, name) in [
        (time.hour, 23, "hour"),
        (time.minute, 59, "minute"),
        (time.second, 59, "second"),
    ] {
        if value > limit {
            return impossible(format!("the {name} {value} is past {limit}"));
        }
    }
    json.push_str(&format!(
        "T{:02}:{:02}:{:02}",
        time.hour, time.minute, time.second
    ));
    if time.microsecond != 0 {
        json.push_str(&format!(".{:06}", time.microsecond));
    }
    match time.offset {
        None => {}
        Some(0) => json.push('Z'),
        Some(offset) => json.push_str(&offset_text(offset)),
    }
    Reading::Valid(json, kind)
}

/// `+05:30`, `-00:01`.
fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Option<String> {
        match implicit(text) {
            Reading::Valid(json, _) => Some(json),
            _ => None,
        }
    }

    #[test]
    fn pydantic_json_forms() {
        // Each checked with PyYAML 6.0.4 + pydantic 2.14 (`TypeAdapter(Any).dump_python(v,
        // mode="json")`).
        for (text, expected) in [
            ("2024-05-01", "2024-05-01"),
            ("0005-01-01", "0005-01-01"),
            ("2024-05-01 10:20:30", "2024-05-01T10:20:30"),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14T21:59:43.100000-05:00",
            ),
            ("2024-05-01T10:20:30.5Z", "2024-05-01T10:20:30.500000Z"),
            ("2024-05-01T10:20:30+00:00", "2024-05-01T10:20:30Z"),
            ("2024-05-01T10:20:30-0", "2024-05-01T10:20:30Z"),
            ("2024-05-01T10:20:30.000", "2024-05-01T10:20:30"),
            ("2024-05-01T10:20:30.0000001", "2024-05-01T10:20:30"),
            (
                "2024-05-01T10:20:30.123456789",
                "2024-05-01T10:20:30.123456",
            ),
            ("2024-05-01T10:20:30.", "2024-05-01T10:20:30"),
            ("2024-05-01T10:20:30 -5:30", "2024-05-01T10:20:30-05:30"),
            ("2024-05-01 10:20:30.   -5", "2024-05-01T10:20:30-05:00"),
            ("2024-05-01T10:20:30-0:01", "2024-05-01T10:20:30-00:01"),
            ("2024-05-01T10:20:30+05:99", "2024-05-01T10:20:30+06:39"),
            ("2024-5-1 1:02:03", "2024-05-01T01:02:03"),
            ("2024-05-01  10:20:30 Z", "2024-05-01T10:20:30Z"),
        ] {
            assert_eq!(json(text).as_deref(), Some(expected), "{text:?}");
        }
        // Not timestamps to the resolver: text.
        for text in [
            "2001-1-1",
            "2024-05-01t10:20:30z",
            "2024-05-01T10:20:30+1:5",
            "2024-05-01T10:20",
            "20240501",
            "2024-05-01T10:20:30+123",
            "2024-05-01T",
        ] {
            assert_eq!(implicit(text), Reading::NotOne, "{text:?}");
        }
        assert!(
            matches!(tagged("2001-1-1"), Reading::Valid(j, TimestampKind::Date) if j == "2001-01-01")
        );
    }

    #[test]
    fn impossible_dates_say_what_is_wrong() {
        for (text, needle) in [
            ("2024-02-30", "February 2024 has no day 30 (it has 29 days)"),
            ("2023-02-29", "February 2023 has no day 29"),
            ("2024-13-01", "no month 13"),
            ("0000-01-01", "no year 0"),
            ("2024-05-01T24:00:00", "hour 24"),
            ("2024-05-01T10:60:00", "minute 60"),
            ("2024-05-01T10:20:60", "second 60"),
            ("2024-05-01T10:20:30+24", "+24:00 is 24 hours"),
            ("2024-05-01T10:20:30-23:60", "-24:00"),
        ] {
            match implicit(text) {
                Reading::Impossible(what, _) => assert!(what.contains(needle), "{text}: {what}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(implicit("2000-02-29"), Reading::Valid(..)));
        assert!(matches!(implicit("1900-02-29"), Reading::Impossible(..)));
    }
}
