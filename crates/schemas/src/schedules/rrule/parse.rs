//! `dateutil.rrule.rrulestr` as Prefect calls it (`rrulestr(s, cache=True)`, no `unfold`, no
//! `forceset`, no `compatible`): splitting into properties, parameters and `KEY=VALUE` parts,
//! and the value syntax of each part. Construction-time checks (`rrule.__init__`) live in
//! [`super::rule`].

use super::pyparse::{PyDateTime, Today, parse_datetime, py_int, py_isspace};
use super::tzstr::{Gettz, gettz};

/// Recurrence frequency, ordered as dateutil numbers them (YEARLY = 0 … SECONDLY = 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Freq {
    Yearly,
    Monthly,
    Weekly,
    Daily,
    Hourly,
    Minutely,
    Secondly,
}

const FREQ_NAMES: [(&str, Freq); 7] = [
    ("YEARLY", Freq::Yearly),
    ("MONTHLY", Freq::Monthly),
    ("WEEKLY", Freq::Weekly),
    ("DAILY", Freq::Daily),
    ("HOURLY", Freq::Hourly),
    ("MINUTELY", Freq::Minutely),
    ("SECONDLY", Freq::Secondly),
];

const WEEKDAY_NAMES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// The keyword arguments one RRULE/EXRULE line passes to `rrule(...)`. Integers are Python
/// integers (saturated far beyond any meaningful range); `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct RuleArgs {
    pub freq: Option<Freq>,
    pub interval: Option<i128>,
    pub count: Option<i128>,
    pub until: Option<PyDateTime>,
    pub wkst: Option<u8>,
    pub bysetpos: Option<Vec<i128>>,
    pub bymonth: Option<Vec<i128>>,
    pub bymonthday: Option<Vec<i128>>,
    pub byyearday: Option<Vec<i128>>,
    pub byeaster: Option<Vec<i128>>,
    pub byweekno: Option<Vec<i128>>,
    pub byhour: Option<Vec<i128>>,
    pub byminute: Option<Vec<i128>>,
    pub bysecond: Option<Vec<i128>>,
    /// `(weekday 0 = Monday, n)`; `n` is `None` for a plain weekday.
    pub byweekday: Option<Vec<(u8, Option<i128>)>>,
}

/// What `rrulestr` read, before any `rrule(...)` was built: the DTSTART (if any), the rule
/// lines and the date lists, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Source {
    pub dtstart: Option<PyDateTime>,
    pub rrules: Vec<RuleArgs>,
    pub exrules: Vec<RuleArgs>,
    pub rdates: Vec<PyDateTime>,
    pub exdates: Vec<PyDateTime>,
}

/// `re.findall('TZID=(?P<name>[^:]+):', s)` on the original (not upper-cased) string, keyed by
/// the upper-cased name as rrulestr does (later occurrences win).
fn tzid_names(s: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("TZID=") {
        let after = &rest[at + 5..];
        match after.find(':') {
            Some(colon) if colon > 0 => {
                let name = &after[..colon];
                let key = name.to_uppercase();
                out.retain(|(k, _)| *k != key);
                out.push((key, name.to_owned()));
                rest = &after[colon + 1..];
            }
            // No name before the next ':' (or no ':' at all): no match starting here.
            _ => rest = &rest[at + 1..],
        }
    }
    out
}

/// Parses `s` the way `rrulestr(s)` does. `Err` is a reason a person can act on.
pub(super) fn rrulestr(s: &str, today: Today) -> Result<Source, String> {
    let tzids = tzid_names(s);
    let upper = s.to_uppercase();
    if upper.chars().all(py_isspace) {
        return Err("empty string: give at least an RRULE such as FREQ=DAILY".into());
    }
    let lines: Vec<&str> = upper.split(py_isspace).filter(|l| !l.is_empty()).collect();
    let mut src = Source {
        dtstart: None,
        rrules: Vec::new(),
        exrules: Vec::new(),
        rdates: Vec::new(),
        exdates: Vec::new(),
    };
    if lines.len() == 1 && (!upper.contains(':') || upper.starts_with("RRULE:")) {
        src.rrules.push(parse_rule_line(lines[0], today)?);
        return Ok(src);
    }
    let mut rrule_vals = Vec::new();
    let mut exrule_vals = Vec::new();
    let mut rdate_vals = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or(("RRULE", line));
        let mut parms = name.split(';');
        let name = parms.next().unwrap_or_default();
        let parms: Vec<&str> = parms.collect();
        match name {
            "RRULE" | "EXRULE" => {
                if let Some(p) = parms.first() {
                    return Err(format!(
                        "unsupported {name} parameter {p:?}: {name} lines take no parameters"
                    ));
                }
                if name == "RRULE" {
                    &mut rrule_vals
                } else {
                    &mut exrule_vals
                }
                .push(value);
            }
            "RDATE" => {
                if let Some(p) = parms.iter().find(|p| **p != "VALUE=DATE-TIME") {
                    return Err(format!(
                        "unsupported RDATE parameter {p:?}: only VALUE=DATE-TIME is allowed"
                    ));
                }
                rdate_vals.push(value);
            }
            "EXDATE" => src
                .exdates
                .extend(parse_date_values("EXDATE", value, &parms, &tzids, today)?),
            "DTSTART" => {
                let vals = parse_date_values("DTSTART", value, &parms, &tzids, today)?;
                if vals.len() != 1 {
                    return Err(format!(
                        "multiple DTSTART values specified: {value:?}; give exactly one"
                    ));
                }
                src.dtstart = Some(vals[0]);
            }
            other => {
                return Err(format!(
                    "unsupported property {other:?}: expected RRULE, EXRULE, RDATE, EXDATE or DTSTART lines"
                ));
            }
        }
    }
    for v in rrule_vals {
        src.rrules.push(parse_rule_line(v, today)?);
    }
    for v in rdate_vals {
        for d in v.split(',') {
            src.rdates
                .push(parse_datetime(d, today).map_err(|e| format!("invalid RDATE value: {e}"))?);
        }
    }
    for v in exrule_vals {
        src.exrules.push(parse_rule_line(v, today)?);
    }
    let is_set = src.rrules.len() > 1
        || !src.rdates.is_empty()
        || !src.exrules.is_empty()
        || !src.exdates.is_empty();
    if !is_set && src.rrules.is_empty() {
        return Err("no RRULE line: add one such as RRULE:FREQ=DAILY (or an RDATE)".into());
    }
    Ok(src)
}

/// `_parse_date_value`: a DTSTART/EXDATE value list with its TZID/VALUE parameters.
fn parse_date_values(
    prop: &str,
    value: &str,
    parms: &[&str],
    tzids: &[(String, String)],
    today: Today,
) -> Result<Vec<PyDateTime>, String> {
    let mut tz_aware = false;
    let mut value_found = false;
    for parm in parms {
        if let Some(_rest) = parm.strip_prefix("TZID=") {
            // parm.split('TZID=')[-1]
            let key = parm.rsplit("TZID=").next().unwrap_or_default();
            // A name the regex did not capture (e.g. lower-case `tzid=`) is silently ignored.
            if let Some((_, name)) = tzids.iter().find(|(k, _)| k == key) {
                tz_aware = match gettz(name) {
                    Gettz::Zone => true,
                    Gettz::Unknown => false,
                    Gettz::Fails => {
                        return Err(format!(
                            "TZID {name:?} makes dateutil fail; use a tz database name such as America/New_York"
                        ));
                    }
                };
            }
            continue;
        }
        if *parm != "VALUE=DATE-TIME" && *parm != "VALUE=DATE" {
            return Err(format!(
                "unsupported {prop} parameter {parm:?}: expected TZID=… or VALUE=DATE-TIME"
            ));
        }
        if value_found {
            return Err(format!("duplicate VALUE parameter in {prop}"));
        }
        value_found = true;
    }
    let mut out = Vec::new();
    for d in value.split(',') {
        let mut dt = parse_datetime(d, today).map_err(|e| format!("invalid {prop} value: {e}"))?;
        if tz_aware {
            if dt.aware {
                return Err(format!(
                    "{prop} value {d:?} has both a TZID and its own time zone; drop the Z/offset or the TZID"
                ));
            }
            dt.aware = true;
        }
        out.push(dt);
    }
    Ok(out)
}

/// `_parse_rfc_rrule`: one rule line (`[RRULE:]KEY=VALUE;...`) into keyword arguments.
fn parse_rule_line(line: &str, today: Today) -> Result<RuleArgs, String> {
    let value = if line.contains(':') {
        let mut parts = line.split(':');
        let (name, value) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        if parts.next().is_some() {
            return Err(format!("too many ':' in rule {line:?}"));
        }
        if name != "RRULE" {
            return Err(format!(
                "unknown property {name:?} in rule {line:?}: expected RRULE:"
            ));
        }
        value
    } else {
        line
    };
    let mut args = RuleArgs::default();
    for pair in value.split(';') {
        let mut kv = pair.split('=');
        let (Some(name), Some(val), None) = (kv.next(), kv.next(), kv.next()) else {
            return Err(if pair.is_empty() {
                format!("empty rule part in {value:?} (a stray ';'?)")
            } else {
                format!("rule part {pair:?} is not of the form NAME=VALUE")
            });
        };
        set_part(&mut args, name, val, today)?;
    }
    Ok(args)
}

fn int_list(name: &str, val: &str) -> Result<Vec<i128>, String> {
    val.split(',')
        .map(|x| {
            py_int(x).ok_or_else(|| {
                format!("invalid {name} {val:?}: expected a comma-separated list of integers")
            })
        })
        .collect()
}

fn set_part(args: &mut RuleArgs, name: &str, val: &str, today: Today) -> Result<(), String> {
    let int = |what: &str| {
        py_int(val).ok_or_else(|| format!("invalid {what} {val:?}: expected an integer"))
    };
    match name {
        "FREQ" => {
            let freq = FREQ_NAMES.iter().find(|(n, _)| *n == val).map(|(_, f)| *f).ok_or_else(|| {
                format!("invalid FREQ {val:?}: expected one of YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY")
            })?;
            args.freq = Some(freq);
        }
        "INTERVAL" => args.interval = Some(int("INTERVAL")?),
        "COUNT" => args.count = Some(int("COUNT")?),
        "UNTIL" => {
            args.until =
                Some(parse_datetime(val, today).map_err(|e| format!("invalid UNTIL date: {e}"))?);
        }
        "WKST" => {
            let wd = WEEKDAY_NAMES
                .iter()
                .position(|w| *w == val)
                .ok_or_else(|| {
                    format!("invalid WKST {val:?}: expected one of MO, TU, WE, TH, FR, SA, SU")
                })?;
            args.wkst = Some(wd as u8);
        }
        "BYSETPOS" => args.bysetpos = Some(int_list(name, val)?),
        "BYMONTH" => args.bymonth = Some(int_list(name, val)?),
        "BYMONTHDAY" => args.bymonthday = Some(int_list(name, val)?),
        "BYYEARDAY" => args.byyearday = Some(int_list(name, val)?),
        "BYEASTER" => args.byeaster = Some(int_list(name, val)?),
        "BYWEEKNO" => args.byweekno = Some(int_list(name, val)?),
        "BYHOUR" => args.byhour = Some(int_list(name, val)?),
        "BYMINUTE" => args.byminute = Some(int_list(name, val)?),
        "BYSECOND" => args.bysecond = Some(int_list(name, val)?),
        "BYDAY" | "BYWEEKDAY" => {
            let mut days = Vec::new();
            for wday in val.split(',') {
                days.push(parse_weekday(wday).ok_or_else(|| {
                    format!("invalid {name} {val:?}: expected weekdays such as MO,WE or +1MO,-1FR (n must not be 0)")
                })?);
            }
            args.byweekday = Some(days);
        }
        other => {
            return Err(format!(
                "unknown rule part {other:?}: expected FREQ, INTERVAL, COUNT, UNTIL, WKST, BYSETPOS, BYMONTH, \
                 BYMONTHDAY, BYYEARDAY, BYEASTER, BYWEEKNO, BYDAY, BYHOUR, BYMINUTE or BYSECOND"
            ));
        }
    }
    Ok(())
}

/// `_handle_BYWEEKDAY` for one item: `MO`, `+1MO`, `-2FR` or `TH(+1)`.
fn parse_weekday(wday: &str) -> Option<(u8, Option<i128>)> {
    let (w, n) = if wday.contains('(') {
        let mut parts = wday.split('(');
        let w = parts.next().unwrap_or_default();
        let inner = parts.next().unwrap_or_default();
        // int(splt[1][:-1]): drops the last character, whatever it is.
        let mut chars = inner.chars();
        chars.next_back()?;
        (w, Some(py_int(chars.as_str())?))
    } else {
        if wday.is_empty() {
            return None;
        }
        // The sign/digit prefix; when every character is a sign or digit, Python's loop index
        // stops on the last character, which then becomes the weekday name.
        let split = wday
            .char_indices()
            .find(|(_, c)| !"+-0123456789".contains(*c))
            .map(|(i, _)| i)
            .unwrap_or_else(|| wday.char_indices().last().map(|(i, _)| i).unwrap_or(0));
        let (n, w) = wday.split_at(split);
        (w, if n.is_empty() { None } else { Some(py_int(n)?) })
    };
    let wd = WEEKDAY_NAMES.iter().position(|x| *x == w)? as u8;
    if n == Some(0) {
        // dateutil's weekday(n=0) raises.
        return None;
    }
    Some((wd, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Today = Today {
        year: 2026,
        month: 5,
        day: 31,
    };

    #[test]
    fn weekday_forms() {
        assert_eq!(parse_weekday("MO"), Some((0, None)));
        assert_eq!(parse_weekday("+1MO"), Some((0, Some(1))));
        assert_eq!(parse_weekday("-2FR"), Some((4, Some(-2))));
        assert_eq!(parse_weekday("TH(+1)"), Some((3, Some(1))));
        assert_eq!(parse_weekday("MO(1)(2)"), Some((0, Some(1))));
        assert_eq!(parse_weekday("0MO"), None);
        assert_eq!(parse_weekday("1"), None);
        assert_eq!(parse_weekday(""), None);
        assert_eq!(parse_weekday("MO()"), None);
    }

    #[test]
    fn tzid_regex() {
        let t = tzid_names("DTSTART;TZID=America/New_York:20260101T000000");
        assert_eq!(
            t,
            vec![("AMERICA/NEW_YORK".to_owned(), "America/New_York".to_owned())]
        );
        assert!(tzid_names("dtstart;tzid=America/New_York:2026").is_empty());
    }

    #[test]
    fn shapes() {
        assert!(rrulestr("FREQ=DAILY", TODAY).is_ok());
        assert!(rrulestr("RRULE:FREQ=DAILY", TODAY).is_ok());
        assert!(rrulestr("rrule:freq=daily;interval=2", TODAY).is_ok());
        assert!(rrulestr("DTSTART:20260101T000000\nFREQ=DAILY", TODAY).is_ok());
        assert!(rrulestr("RDATE:20260101T000000", TODAY).is_ok());
        assert!(rrulestr("DTSTART:20260101T000000", TODAY).is_err());
        assert!(rrulestr("", TODAY).is_err());
        assert!(rrulestr("  \n ", TODAY).is_err());
        assert!(rrulestr("FREQ=DAILY;", TODAY).is_err());
        assert!(rrulestr("FREQ=FOO", TODAY).is_err());
        assert!(rrulestr("RRULE:FREQ=DAILY\nEXDATE:notadate", TODAY).is_err());
        assert!(rrulestr("RRULE;X=Y:FREQ=DAILY\nRDATE:20260101", TODAY).is_err());
    }
}
