//! Which `TZID=` names `dateutil.tz.gettz` resolves to a time zone.
//!
//! A TZID never changes a date (Prefect relabels every value to the schedule's zone, spec
//! §6.2); it only makes a DTSTART/EXDATE time-zone *aware*, which decides dateutil's "UNTIL must
//! be UTC when DTSTART is aware" check. `gettz` finds tz database names (with `' '` read as
//! `'_'`), `GMT`/`UTC`, the local zone for an empty name, and — for names containing a digit —
//! whatever its lenient POSIX-`TZ` parser (`_tzparser`) accepts, e.g. `EST5EDT`, `UTC+3`, or
//! even `America/Sao_P1ulo`. That parser is reproduced here as far as acceptance goes.

/// What `gettz(name)` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gettz {
    /// Returns a zone: dates with this TZID are aware.
    Zone,
    /// Returns `None`: the TZID is ignored.
    Unknown,
    /// Raises something other than `ValueError` (dateutil then fails to parse the rule).
    Fails,
}

/// `dateutil.tz.gettz(name)` as far as "zone, no zone, or failure" goes.
pub(super) fn gettz(name: &str) -> Gettz {
    let name = name.strip_prefix(':').unwrap_or(name);
    if name.is_empty() {
        // The local zone.
        return Gettz::Zone;
    }
    let known = |n: &str| {
        !n.starts_with('/')
            && jiff::tz::TimeZone::get(n)
                .ok()
                .is_some_and(|tz| tz.iana_name().is_some_and(|found| found == n))
    };
    if known(name) || known(&name.replace(' ', "_")) {
        return Gettz::Zone;
    }
    if name.bytes().any(|b| b.is_ascii_digit()) {
        return tzstr(name);
    }
    if name == "GMT" || name == "UTC" {
        Gettz::Zone
    } else {
        Gettz::Unknown
    }
}

/// `re.split(r'([,:.]|[a-zA-Z]+|[0-9]+)', s)` without the empty pieces.
fn split(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut other = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run =
            |pred: fn(&char) -> bool, i: usize| chars[i..].iter().take_while(|c| pred(c)).count();
        let len = if ",:.".contains(c) {
            1
        } else if c.is_ascii_alphabetic() {
            run(char::is_ascii_alphabetic, i)
        } else if c.is_ascii_digit() {
            run(char::is_ascii_digit, i)
        } else {
            other.push(c);
            i += 1;
            continue;
        };
        if !other.is_empty() {
            out.push(std::mem::take(&mut other));
        }
        out.push(chars[i..i + len].iter().collect());
        i += len;
    }
    if !other.is_empty() {
        out.push(other);
    }
    out
}

fn int(s: &str) -> Option<i128> {
    super::pyparse::py_int(s)
}

/// Largest |seconds| a `datetime.timedelta` holds (999 999 999 days).
const TIMEDELTA_MAX_SECS: i128 = 999_999_999 * 86_400 + 86_399;

/// How `_tzparser.parse` ends: dateutil's `return None` (it catches IndexError, ValueError and
/// AssertionError) or an exception it does not catch.
enum Stop {
    NoParse,
    Raises,
}

/// One start/end rule of the `J`/`M`/day-of-year format, as far as validity goes.
#[derive(Default)]
struct Edge {
    yday: Option<i128>,
    jyday: Option<i128>,
}

/// `dateutil.tz.tzstr(name)` inside `gettz`: `ValueError` → no zone; other errors propagate.
fn tzstr(s: &str) -> Gettz {
    let mut l = split(s);
    let len_l = l.len();
    let mut used = vec![false; len_l + 2];
    let mut std_abbr: Option<String> = None;
    let mut std_offset: Option<i128> = None;
    let mut dst_abbr: Option<String> = None;
    let mut dst_offset: Option<i128> = None;
    let mut edges = [Edge::default(), Edge::default()];
    let no = || Stop::NoParse;
    let result = (|| -> Result<(), Stop> {
        let get = |l: &[String], i: usize| l.get(i).cloned().ok_or(Stop::NoParse);
        let mut i = 0;
        while i < len_l {
            // BRST+3[BRDT[+2]]
            let mut j = i;
            while j < len_l && !l[j].chars().any(|c| "0123456789:,-+".contains(c)) {
                j += 1;
            }
            if j == i {
                break;
            }
            let is_std = std_abbr.is_none();
            let abbr = l[i..j].concat();
            if is_std {
                std_abbr = Some(abbr);
            } else {
                dst_abbr = Some(abbr);
            }
            used[..j].iter_mut().for_each(|u| *u = true);
            i = j;
            if i < len_l
                && (l[i] == "+" || l[i] == "-" || l[i].starts_with(|c: char| c.is_ascii_digit()))
            {
                let signal: i128 = if l[i] == "+" || l[i] == "-" {
                    let sg = if l[i] == "+" { -1 } else { 1 };
                    used[i] = true;
                    i += 1;
                    sg
                } else {
                    -1
                };
                let tok = get(&l, i)?;
                let len_li = tok.chars().count();
                let offset = if len_li == 4 {
                    let (a, b) = (tok.get(..2).ok_or_else(no)?, tok.get(2..).ok_or_else(no)?);
                    (int(a).ok_or_else(no)? * 3600 + int(b).ok_or_else(no)? * 60) * signal
                } else if i + 1 < len_l && l[i + 1] == ":" {
                    let m = int(&get(&l, i + 2)?).ok_or_else(no)?;
                    let off = (int(&tok).ok_or_else(no)? * 3600 + m * 60) * signal;
                    used[i] = true;
                    i += 2;
                    off
                } else if len_li <= 2 {
                    int(&tok).ok_or_else(no)? * 3600 * signal
                } else {
                    return Err(Stop::NoParse);
                };
                if is_std {
                    std_offset = Some(offset);
                } else {
                    dst_offset = Some(offset);
                }
                used[i] = true;
                i += 1;
            }
            if dst_abbr.is_some() {
                break;
            }
        }
        if i < len_l {
            for t in l.iter_mut().skip(i) {
                if t == ";" {
                    *t = ",".into();
                }
            }
            if l[i] != "," {
                return Err(Stop::NoParse);
            }
            i += 1;
        }
        let commas = l.iter().filter(|t| *t == ",").count();
        let rest: Vec<String> = l[i.min(len_l)..].to_vec();
        if i >= len_l {
        } else if (8..=9).contains(&commas)
            && rest
                .iter()
                .filter(|t| *t != ",")
                .all(|t| t.chars().all(|c| "0123456789+-".contains(c)))
        {
            // GMT0BST,3,0,30,3600,10,0,26,7200[,3600]
            for _ in 0..2 {
                int(&get(&l, i)?).ok_or_else(no)?;
                used[i] = true;
                i += 2;
                if get(&l, i)? == "-" {
                    int(&get(&l, i + 1)?).ok_or_else(no)?;
                    used[i] = true;
                    i += 1;
                } else {
                    int(&get(&l, i)?).ok_or_else(no)?;
                }
                used[i] = true;
                i += 2;
                int(&get(&l, i)?).ok_or_else(no)?;
                used[i] = true;
                i += 2;
                int(&get(&l, i)?).ok_or_else(no)?;
                used[i] = true;
                i += 2;
            }
            if i < len_l {
                let signal = if l[i] == "-" || l[i] == "+" {
                    let sg = if l[i] == "+" { 1 } else { -1 };
                    used[i] = true;
                    i += 1;
                    sg
                } else {
                    1
                };
                if i < used.len() {
                    used[i] = true;
                }
                let v = int(&get(&l, i)?).ok_or_else(no)?;
                // dstoffset = stdoffset + …: with no standard offset that is a TypeError.
                dst_offset = Some(std_offset.ok_or(Stop::Raises)? + v * signal);
            }
        } else if commas == 2
            && rest.iter().filter(|t| *t == "/").count() <= 2
            && rest
                .iter()
                .filter(|t| ![",", "/", "J", "M", ".", "-", ":"].contains(&t.as_str()))
                .all(|t| t.chars().all(|c| c.is_ascii_digit()))
        {
            for edge in &mut edges {
                let first = get(&l, i)?;
                if first == "J" {
                    // non-leap year day (1 based)
                    used[i] = true;
                    i += 1;
                    edge.jyday = Some(int(&get(&l, i)?).ok_or_else(no)?);
                } else if first == "M" {
                    // month[-.]week[-.]weekday
                    used[i] = true;
                    i += 1;
                    int(&get(&l, i)?).ok_or_else(no)?;
                    used[i] = true;
                    i += 1;
                    if !["-", "."].contains(&get(&l, i)?.as_str()) {
                        return Err(Stop::NoParse);
                    }
                    used[i] = true;
                    i += 1;
                    int(&get(&l, i)?).ok_or_else(no)?;
                    used[i] = true;
                    i += 1;
                    if !["-", "."].contains(&get(&l, i)?.as_str()) {
                        return Err(Stop::NoParse);
                    }
                    used[i] = true;
                    i += 1;
                    int(&get(&l, i)?).ok_or_else(no)?;
                } else {
                    // year day (zero based)
                    edge.yday = Some(int(&first).ok_or_else(no)? + 1);
                }
                used[i] = true;
                i += 1;
                if i < len_l && l[i] == "/" {
                    used[i] = true;
                    i += 1;
                    // start time
                    let tok = get(&l, i)?;
                    let len_li = tok.chars().count();
                    if len_li == 4 {
                        int(tok.get(..2).ok_or_else(no)?).ok_or_else(no)?;
                        int(tok.get(2..).ok_or_else(no)?).ok_or_else(no)?;
                    } else if i + 1 < len_l && l[i + 1] == ":" {
                        int(&tok).ok_or_else(no)?;
                        int(&get(&l, i + 2)?).ok_or_else(no)?;
                        used[i] = true;
                        i += 2;
                        if i + 1 < len_l && l[i + 1] == ":" {
                            used[i] = true;
                            i += 2;
                            int(&get(&l, i)?).ok_or_else(no)?;
                        }
                    } else if len_li <= 2 {
                        int(&tok).ok_or_else(no)?;
                    } else {
                        return Err(Stop::NoParse);
                    }
                    used[i] = true;
                    i += 1;
                }
                if !(i == len_l || get(&l, i)? == ",") {
                    return Err(Stop::NoParse);
                }
                i += 1;
            }
            if i < len_l {
                return Err(Stop::NoParse);
            }
        }
        Ok(())
    })();
    match result {
        Err(Stop::NoParse) => return Gettz::Unknown,
        Err(Stop::Raises) => return Gettz::Fails,
        Ok(()) => {}
    }
    if !l.iter().zip(&used).all(|(t, &u)| u || t == "," || t == ":") {
        return Gettz::Unknown;
    }
    if matches!(std_abbr.as_deref(), Some("GMT") | Some("UTC")) && std_offset.is_none() {
        // `res.stdoffset *= -1` on None: a TypeError, which gettz does not catch.
        return Gettz::Fails;
    }
    if [std_offset, dst_offset]
        .iter()
        .flatten()
        .any(|o| o.abs() > TIMEDELTA_MAX_SECS)
    {
        // datetime.timedelta overflow: OverflowError.
        return Gettz::Fails;
    }
    // With a DST part, the transition rules become relativedeltas, which refuse year days
    // beyond 366 (a ValueError, i.e. no zone).
    if dst_abbr.is_some()
        && edges
            .iter()
            .any(|e| e.yday.is_some_and(|d| d > 366) || e.jyday.is_some_and(|d| d > 366))
    {
        return Gettz::Unknown;
    }
    Gettz::Zone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(gettz("America/New_York"), Gettz::Zone);
        assert_eq!(gettz("America/New York"), Gettz::Zone);
        assert_eq!(gettz("america/new_york"), Gettz::Unknown);
        assert_eq!(gettz("Mars/Phobos"), Gettz::Unknown);
        assert_eq!(gettz("EST5EDT"), Gettz::Zone);
        assert_eq!(gettz("UTC+3"), Gettz::Zone);
        assert_eq!(gettz("America/Sao_P1ulo"), Gettz::Zone);
        assert_eq!(gettz("America3/Sao_Paulo"), Gettz::Zone);
        assert_eq!(gettz("FOO1BAR,M3.2.0,M11.1.0"), Gettz::Zone);
        assert_eq!(gettz("1"), Gettz::Unknown);
        // Checked against dateutil 2.9.0.
        assert_eq!(gettz("UTC,M3.2.0,M11.1.0"), Gettz::Fails);
        assert_eq!(gettz("X1Y,J400,J5"), Gettz::Unknown);
        assert_eq!(gettz("X1Y,400,5"), Gettz::Unknown);
        assert_eq!(gettz("A1B,3,0,30,3600,10,0,26,7200"), Gettz::Zone);
        assert_eq!(gettz("A9999999999999"), Gettz::Unknown);
        assert_eq!(gettz("A1:99999999999999"), Gettz::Fails);
        assert_eq!(
            split("America/Sao_P1ulo"),
            ["America", "/", "Sao", "_", "P", "1", "ulo"]
        );
    }
}
