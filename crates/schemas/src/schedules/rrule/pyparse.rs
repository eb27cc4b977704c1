//! The pieces of Python and `dateutil.parser` behaviour that `rrulestr` leans on: Python's
//! `int()`, `str.split()` whitespace, and `dateutil.parser.parse` for DTSTART / UNTIL / RDATE /
//! EXDATE values.
//!
//! `dateutil.parser.parse` is very liberal (`20260101T090000Z`, `2026-01-01T09:00`, `Jan 5 2026`,
//! `09:30`…), and Prefect accepts whatever it accepts, so this module reproduces its token-level
//! algorithm for the inputs `rrulestr` can hand it: already upper-cased and free of whitespace
//! (rrulestr splits lines on whitespace first). Missing date parts default to today, exactly as
//! dateutil does (spec §6; the caller supplies "today").

/// Python's `str.isspace()` for one character (`str.split()` separators): Rust's Unicode
/// `White_Space` plus the ASCII information separators U+001C..U+001F, which Python counts too.
pub(super) fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Upper bound (in magnitude) kept for Python integers: beyond it every use in an rrule is
/// already "out of range", so saturating changes no observable result.
const INT_CLAMP: i128 = 1_000_000_000_000_000_000_000_000;

/// Python's `int(s)` for a string without surrounding whitespace: an optional sign, ASCII digits,
/// single underscores between digits. Huge values saturate at ±10^27.
pub(super) fn py_int(s: &str) -> Option<i128> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut value: i128 = 0;
    let mut prev_underscore = false;
    for &b in bytes {
        match b {
            b'0'..=b'9' => {
                value = (value * 10 + i128::from(b - b'0')).min(INT_CLAMP);
                prev_underscore = false;
            }
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return None,
        }
    }
    Some(if neg { -value } else { value })
}

/// A date-time value as `dateutil.parser.parse` returns it: wall-clock fields plus whether it
/// carried time-zone information (`Z`, `UTC`, `+05:00`…). The offset itself never matters to
/// Prefect, which relabels every value to the schedule's zone (spec §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PyDateTime {
    /// Wall-clock microseconds since 1970-01-01T00:00.
    pub wall: i64,
    /// Whether the value was time-zone aware.
    pub aware: bool,
}

/// The local date the parser uses to fill missing fields (dateutil's `default`, i.e. today at
/// midnight) and the current year used to widen two-digit years.
#[derive(Debug, Clone, Copy)]
pub(super) struct Today {
    /// Year.
    pub year: i32,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
}

const JUMP: &[&str] = &[
    " ", ".", ",", ";", "-", "/", "'", "AT", "ON", "AND", "AD", "M", "T", "OF", "ST", "ND", "RD",
    "TH",
];
const WEEKDAYS: &[(&str, &str)] = &[
    ("MON", "MONDAY"),
    ("TUE", "TUESDAY"),
    ("WED", "WEDNESDAY"),
    ("THU", "THURSDAY"),
    ("FRI", "FRIDAY"),
    ("SAT", "SATURDAY"),
    ("SUN", "SUNDAY"),
];
const MONTHS: &[&[&str]] = &[
    &["JAN", "JANUARY"],
    &["FEB", "FEBRUARY"],
    &["MAR", "MARCH"],
    &["APR", "APRIL"],
    &["MAY"],
    &["JUN", "JUNE"],
    &["JUL", "JULY"],
    &["AUG", "AUGUST"],
    &["SEP", "SEPT", "SEPTEMBER"],
    &["OCT", "OCTOBER"],
    &["NOV", "NOVEMBER"],
    &["DEC", "DECEMBER"],
];

/// `str.lower()`-insensitive comparison against an upper-case table entry.
fn eq_upper(token: &str, word: &str) -> bool {
    token.len() == word.len()
        && token
            .bytes()
            .zip(word.bytes())
            .all(|(a, b)| a.to_ascii_uppercase() == b)
}

fn is_jump(t: &str) -> bool {
    JUMP.iter().any(|w| eq_upper(t, w))
}

fn weekday_of(t: &str) -> Option<u8> {
    WEEKDAYS
        .iter()
        .position(|(a, b)| eq_upper(t, a) || eq_upper(t, b))
        .map(|i| i as u8)
}

fn month_of(t: &str) -> Option<i128> {
    MONTHS
        .iter()
        .position(|names| names.iter().any(|n| eq_upper(t, n)))
        .map(|i| i as i128 + 1)
}

/// 0 = hour, 1 = minute, 2 = second.
fn hms_of(t: &str) -> Option<u8> {
    const HMS: &[&[&str]] = &[
        &["H", "HOUR", "HOURS"],
        &["M", "MINUTE", "MINUTES"],
        &["S", "SECOND", "SECONDS"],
    ];
    HMS.iter()
        .position(|names| names.iter().any(|n| eq_upper(t, n)))
        .map(|i| i as u8)
}

/// 0 = am, 1 = pm.
fn ampm_of(t: &str) -> Option<u8> {
    if eq_upper(t, "AM") || eq_upper(t, "A") {
        Some(0)
    } else if eq_upper(t, "PM") || eq_upper(t, "P") {
        Some(1)
    } else {
        None
    }
}

fn is_utczone(t: &str) -> bool {
    ["UTC", "GMT", "Z"].iter().any(|w| eq_upper(t, w))
}

/// Python's `isalpha()` / `isdigit()` as the lexer uses them. Only ASCII digits count as digits:
/// other Unicode digits would need Python's full numeric tables (a documented divergence).
fn is_word(c: char) -> bool {
    c.is_alphabetic()
}
fn is_num(c: char) -> bool {
    c.is_ascii_digit()
}

/// dateutil's `_timelex`: splits a string into runs of letters, runs of digits (with the dot and
/// comma rules for decimals) and single other characters.
fn timelex(s: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum St {
        None,
        A,
        ADot,
        Num,
        NumDot,
    }
    let chars: Vec<char> = s.chars().filter(|&c| c != '\0').collect();
    let mut pos = 0;
    let mut out: Vec<String> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    loop {
        if !stack.is_empty() {
            out.push(stack.remove(0));
            continue;
        }
        if pos >= chars.len() {
            break;
        }
        let mut token = String::new();
        let mut state = St::None;
        let mut seen_letters = false;
        while pos < chars.len() {
            let c = chars[pos];
            match state {
                St::None => {
                    token.push(c);
                    pos += 1;
                    if is_word(c) {
                        state = St::A;
                    } else if is_num(c) {
                        state = St::Num;
                    } else {
                        if py_isspace(c) {
                            token = " ".into();
                        }
                        break;
                    }
                }
                St::A => {
                    seen_letters = true;
                    if is_word(c) {
                        token.push(c);
                    } else if c == '.' {
                        token.push(c);
                        state = St::ADot;
                    } else {
                        break;
                    }
                    pos += 1;
                }
                St::Num => {
                    if is_num(c) {
                        token.push(c);
                    } else if c == '.' || (c == ',' && token.chars().count() >= 2) {
                        token.push(c);
                        state = St::NumDot;
                    } else {
                        break;
                    }
                    pos += 1;
                }
                St::ADot => {
                    seen_letters = true;
                    if c == '.' || is_word(c) {
                        token.push(c);
                    } else if is_num(c) && token.ends_with('.') {
                        token.push(c);
                        state = St::NumDot;
                    } else {
                        break;
                    }
                    pos += 1;
                }
                St::NumDot => {
                    if c == '.' || is_num(c) {
                        token.push(c);
                    } else if is_word(c) && token.ends_with('.') {
                        token.push(c);
                        state = St::ADot;
                    } else {
                        break;
                    }
                    pos += 1;
                }
            }
        }
        if matches!(state, St::ADot | St::NumDot)
            && (seen_letters
                || token.matches('.').count() > 1
                || token.ends_with('.')
                || token.ends_with(','))
        {
            // re.split("([.,])") keeps the separators; empty pieces are dropped.
            let mut pieces = Vec::new();
            let mut cur = String::new();
            for c in token.chars() {
                if c == '.' || c == ',' {
                    pieces.push(std::mem::take(&mut cur));
                    pieces.push(c.to_string());
                } else {
                    cur.push(c);
                }
            }
            pieces.push(cur);
            let mut iter = pieces.into_iter();
            token = iter.next().unwrap_or_default();
            stack.extend(iter.filter(|p| !p.is_empty()));
        }
        if state == St::NumDot && !token.contains('.') {
            token = token.replace(',', ".");
        }
        out.push(token);
    }
    out
}

/// A non-negative decimal as dateutil's `Decimal(token)` sees the lexer's numeric tokens:
/// `digits[.digits]`.
#[derive(Clone, Copy, Debug)]
struct Dec {
    int: i128,
    /// Fractional part as a numerator over `10^frac_digits` (at most 30 digits kept).
    frac: u128,
    frac_digits: u32,
}

impl Dec {
    fn parse(s: &str) -> Option<Dec> {
        let (i, f) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if (i.is_empty() && f.is_empty())
            || !i.bytes().all(|b| b.is_ascii_digit())
            || !f.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let int = if i.is_empty() { 0 } else { py_int(i)? };
        let f = &f[..f.len().min(30)];
        let frac = if f.is_empty() {
            0
        } else {
            f.parse::<u128>().ok()?
        };
        Some(Dec {
            int,
            frac,
            frac_digits: f.len() as u32,
        })
    }

    fn has_frac(&self) -> bool {
        self.frac != 0
    }

    /// `int(60 * (value % 1))`.
    fn sixty_frac(&self) -> i128 {
        (self.frac * 60 / 10u128.pow(self.frac_digits)) as i128
    }

    /// `value > x` for an integer `x`.
    fn gt(&self, x: i128) -> bool {
        self.int > x || (self.int == x && self.has_frac())
    }

    /// `lo <= value <= hi` for integers.
    fn within(&self, lo: i128, hi: i128) -> bool {
        self.int >= lo && (self.int < hi || (self.int == hi && !self.has_frac()))
    }
}

/// Python's `float(token)` succeeds (the lexer's tokens never hold signs or exponents).
fn is_float(t: &str) -> bool {
    Dec::parse(t).is_some() || ["NAN", "INF", "INFINITY"].iter().any(|w| eq_upper(t, w))
}

#[derive(Default, Debug)]
struct Res {
    year: Option<i128>,
    month: Option<i128>,
    day: Option<i128>,
    weekday: Option<u8>,
    hour: Option<i128>,
    minute: Option<i128>,
    second: Option<i128>,
    microsecond: Option<i128>,
    tzname: Option<String>,
    tzoffset: Option<i128>,
    ampm: Option<u8>,
    century_specified: bool,
}

impl Res {
    fn is_empty(&self) -> bool {
        self.year.is_none()
            && self.month.is_none()
            && self.day.is_none()
            && self.weekday.is_none()
            && self.hour.is_none()
            && self.minute.is_none()
            && self.second.is_none()
            && self.microsecond.is_none()
            && self.tzname.is_none()
            && self.tzoffset.is_none()
            && self.ampm.is_none()
    }
}

/// dateutil's `_ymd`: the year/month/day candidates in order of appearance, with the indices of
/// those whose role is known.
#[derive(Default)]
struct Ymd {
    vals: Vec<i128>,
    century_specified: bool,
    dstridx: Option<usize>,
    mstridx: Option<usize>,
    ystridx: Option<usize>,
}

/// Parse failure (the message is internal; callers add context).
type Fail = ();

#[derive(Clone, Copy, PartialEq)]
enum Label {
    None,
    Month,
    Year,
}

/// A value appended to `Ymd`: a digit string (from a token) or a number.
enum YmdVal<'a> {
    Str(&'a str),
    Num(Dec),
}

fn days_in_month(year: i128, month: i128) -> i128 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

impl Ymd {
    fn could_be_day(&self, value: &Dec) -> bool {
        if self.dstridx.is_some() {
            false
        } else if let Some(mi) = self.mstridx {
            let month = self.vals[mi];
            if !(1..=12).contains(&month) {
                // calendar.monthrange raises; inside _parse that is a ValueError → no parse.
                return false;
            }
            let year = match self.ystridx {
                Some(yi) => self.vals[yi],
                None => 2000,
            };
            value.within(1, days_in_month(year, month))
        } else {
            value.within(1, 31)
        }
    }

    fn append(&mut self, val: YmdVal<'_>, mut label: Label) -> Result<(), Fail> {
        let int = match val {
            YmdVal::Str(s) => {
                if s.chars().all(|c| c.is_ascii_digit()) && s.chars().count() > 2 {
                    self.century_specified = true;
                    if label != Label::None && label != Label::Year {
                        return Err(());
                    }
                    label = Label::Year;
                }
                py_int(s).ok_or(())?
            }
            YmdVal::Num(d) => {
                if d.gt(100) {
                    self.century_specified = true;
                    if label != Label::None && label != Label::Year {
                        return Err(());
                    }
                    label = Label::Year;
                }
                d.int
            }
        };
        self.vals.push(int);
        let idx = self.vals.len() - 1;
        match label {
            Label::Month => {
                if self.mstridx.is_some() {
                    return Err(());
                }
                self.mstridx = Some(idx);
            }
            Label::Year => {
                if self.ystridx.is_some() {
                    return Err(());
                }
                self.ystridx = Some(idx);
            }
            Label::None => {}
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn resolve(&self) -> Result<(Option<i128>, Option<i128>, Option<i128>), Fail> {
        let n = self.vals.len();
        let strids: Vec<(char, usize)> = [
            ('y', self.ystridx),
            ('m', self.mstridx),
            ('d', self.dstridx),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        if (n == strids.len() && n > 0) || (n == 3 && strids.len() == 2) {
            let mut map = strids.clone();
            if n == 3 && strids.len() == 2 {
                let missing = (0..3)
                    .find(|x| !strids.iter().any(|(_, v)| v == x))
                    .ok_or(())?;
                let key = ['y', 'm', 'd']
                    .into_iter()
                    .find(|k| !strids.iter().any(|(kk, _)| kk == k))
                    .ok_or(())?;
                map.push((key, missing));
            }
            let get = |k: char| {
                map.iter()
                    .find(|(kk, _)| *kk == k)
                    .map(|(_, i)| self.vals[*i])
            };
            return Ok((get('y'), get('m'), get('d')));
        }
        let v = &self.vals;
        let (mut year, mut month, mut day) = (None, None, None);
        if n > 3 {
            return Err(());
        } else if n == 1 || (self.mstridx.is_some() && n == 2) {
            let other = if let Some(mi) = self.mstridx {
                month = Some(v[mi]);
                // mstridx is 0 or 1 here; Python's v[mi - 1] wraps to the other element.
                v[if mi == 0 { n - 1 } else { mi - 1 }]
            } else {
                v[0]
            };
            if n > 1 || self.mstridx.is_none() {
                if other > 31 {
                    year = Some(other);
                } else {
                    day = Some(other);
                }
            }
        } else if n == 2 {
            if v[0] > 31 {
                (year, month) = (Some(v[0]), Some(v[1]));
            } else if v[1] > 31 {
                (month, year) = (Some(v[0]), Some(v[1]));
            } else {
                (month, day) = (Some(v[0]), Some(v[1]));
            }
        } else if n == 3 {
            match self.mstridx {
                Some(0) => {
                    if v[1] > 31 {
                        (month, year, day) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    } else {
                        (month, day, year) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    }
                }
                Some(1) => {
                    if v[0] > 31 {
                        (year, month, day) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    } else {
                        (day, month, year) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    }
                }
                Some(2) => {
                    if v[1] > 31 {
                        (day, year, month) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    } else {
                        (year, day, month) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    }
                }
                _ => {
                    if v[0] > 31 || self.ystridx == Some(0) {
                        (year, month, day) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    } else if v[0] > 12 {
                        (day, month, year) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    } else {
                        (month, day, year) = (Some(v[0]), Some(v[1]), Some(v[2]));
                    }
                }
            }
        }
        Ok((year, month, day))
    }
}

/// `_parsems`: `"SS"` or `"SS.ffffff"` → (seconds, microseconds).
fn parsems(s: &str) -> Result<(i128, i128), Fail> {
    match s.split_once('.') {
        None => Ok((py_int(s).ok_or(())?, 0)),
        Some((i, f)) => {
            if f.contains('.') {
                return Err(());
            }
            let mut f6: String = f.chars().take(6).collect();
            while f6.chars().count() < 6 {
                f6.push('0');
            }
            Ok((py_int(i).ok_or(())?, py_int(&f6).ok_or(())?))
        }
    }
}

fn int_of(s: &str) -> Result<i128, Fail> {
    py_int(s).ok_or(())
}

/// Python slicing `s[a..b]` by characters, clamped like Python's.
fn slice(s: &str, a: usize, b: Option<usize>) -> &str {
    let mut idx: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    idx.push(s.len());
    let n = idx.len() - 1;
    let a = a.min(n);
    let b = b.unwrap_or(n).min(n).max(a);
    &s[idx[a]..idx[b]]
}

fn adjust_ampm(hour: i128, ampm: u8) -> i128 {
    if hour < 12 && ampm == 1 {
        hour + 12
    } else if hour == 12 && ampm == 0 {
        0
    } else {
        hour
    }
}

fn could_be_tzname(res: &Res, token: &str) -> bool {
    res.hour.is_some()
        && res.tzname.is_none()
        && res.tzoffset.is_none()
        && token.chars().count() <= 5
        && (token.chars().all(|c| c.is_ascii_uppercase())
            || ["UTC", "GMT", "Z", "z"].contains(&token))
}

/// One numeric token (`_parse_numeric_token`); returns the index of the last token consumed.
fn parse_numeric(
    tokens: &[String],
    idx: usize,
    ymd: &mut Ymd,
    res: &mut Res,
) -> Result<usize, Fail> {
    let value_repr = tokens[idx].as_str();
    let value = Dec::parse(value_repr).ok_or(())?;
    let len_li = value_repr.chars().count();
    let len_l = tokens.len();
    let next = tokens.get(idx + 1).map(String::as_str);
    let mut idx = idx;

    if ymd.vals.len() == 3
        && (len_li == 2 || len_li == 4)
        && res.hour.is_none()
        && next.is_none_or(|t| t != ":" && hms_of(t).is_none())
    {
        // 19990101T23[59]
        res.hour = Some(int_of(slice(value_repr, 0, Some(2)))?);
        if len_li == 4 {
            res.minute = Some(int_of(slice(value_repr, 2, None))?);
        }
    } else if len_li == 6 || (len_li > 6 && value_repr.find('.') == Some(6)) {
        // YYMMDD or HHMMSS[.ss]
        if ymd.vals.is_empty() && !value_repr.contains('.') {
            ymd.append(YmdVal::Str(slice(value_repr, 0, Some(2))), Label::None)?;
            ymd.append(YmdVal::Str(slice(value_repr, 2, Some(4))), Label::None)?;
            ymd.append(YmdVal::Str(slice(value_repr, 4, None)), Label::None)?;
        } else {
            res.hour = Some(int_of(slice(value_repr, 0, Some(2)))?);
            res.minute = Some(int_of(slice(value_repr, 2, Some(4)))?);
            let (s, us) = parsems(slice(value_repr, 4, None))?;
            res.second = Some(s);
            res.microsecond = Some(us);
        }
    } else if len_li == 8 || len_li == 12 || len_li == 14 {
        // YYYYMMDD[hhmm[ss]]
        ymd.append(YmdVal::Str(slice(value_repr, 0, Some(4))), Label::Year)?;
        ymd.append(YmdVal::Str(slice(value_repr, 4, Some(6))), Label::None)?;
        ymd.append(YmdVal::Str(slice(value_repr, 6, Some(8))), Label::None)?;
        if len_li > 8 {
            res.hour = Some(int_of(slice(value_repr, 8, Some(10)))?);
            res.minute = Some(int_of(slice(value_repr, 10, Some(12)))?);
            if len_li > 12 {
                res.second = Some(int_of(slice(value_repr, 12, None))?);
            }
        }
    } else if let Some(hms_idx) = find_hms_idx(idx, tokens) {
        // HH[ ]h or MM[ ]m or SS[.ss][ ]s
        let hms = if hms_idx > idx {
            idx = hms_idx;
            hms_of(&tokens[hms_idx]).ok_or(())?
        } else {
            hms_of(&tokens[hms_idx]).ok_or(())? + 1
        };
        match hms {
            0 => {
                res.hour = Some(value.int);
                if value.has_frac() {
                    res.minute = Some(value.sixty_frac());
                }
            }
            1 => {
                res.minute = Some(value.int);
                res.second = value.has_frac().then(|| value.sixty_frac());
            }
            2 => {
                let (s, us) = parsems(value_repr)?;
                res.second = Some(s);
                res.microsecond = Some(us);
            }
            _ => {}
        }
    } else if idx + 2 < len_l && tokens[idx + 1] == ":" {
        // HH:MM[:SS[.ss]]
        res.hour = Some(value.int);
        let minute = Dec::parse(&tokens[idx + 2]).ok_or(())?;
        res.minute = Some(minute.int);
        res.second = minute.has_frac().then(|| minute.sixty_frac());
        if idx + 4 < len_l && tokens[idx + 3] == ":" {
            let (s, us) = parsems(&tokens[idx + 4])?;
            res.second = Some(s);
            res.microsecond = Some(us);
            idx += 2;
        }
        idx += 2;
    } else if idx + 1 < len_l && ["-", "/", "."].contains(&tokens[idx + 1].as_str()) {
        let sep = tokens[idx + 1].clone();
        ymd.append(YmdVal::Str(value_repr), Label::None)?;
        if idx + 2 < len_l && !is_jump(&tokens[idx + 2]) {
            let t2 = tokens[idx + 2].as_str();
            if !t2.is_empty() && t2.chars().all(|c| c.is_ascii_digit()) {
                ymd.append(YmdVal::Str(t2), Label::None)?;
            } else {
                let m = month_of(t2).ok_or(())?;
                ymd.append(
                    YmdVal::Num(Dec {
                        int: m,
                        frac: 0,
                        frac_digits: 0,
                    }),
                    Label::Month,
                )?;
            }
            if idx + 3 < len_l && tokens[idx + 3] == sep {
                let t4 = tokens.get(idx + 4).ok_or(())?.as_str();
                match month_of(t4) {
                    Some(m) => ymd.append(
                        YmdVal::Num(Dec {
                            int: m,
                            frac: 0,
                            frac_digits: 0,
                        }),
                        Label::Month,
                    )?,
                    None => ymd.append(YmdVal::Str(t4), Label::None)?,
                }
                idx += 2;
            }
            idx += 1;
        }
        idx += 1;
    } else if idx + 1 >= len_l || is_jump(&tokens[idx + 1]) {
        if let Some(ampm) = tokens.get(idx + 2).and_then(|t| ampm_of(t)) {
            // 12 am
            res.hour = Some(adjust_ampm(value.int, ampm));
            idx += 1;
        } else {
            ymd.append(YmdVal::Num(value), Label::None)?;
        }
        idx += 1;
    } else if let Some(ampm) = ampm_of(&tokens[idx + 1]).filter(|_| value.int < 24) {
        // 12am
        res.hour = Some(adjust_ampm(value.int, ampm));
        idx += 1;
    } else if ymd.could_be_day(&value) {
        ymd.append(YmdVal::Num(value), Label::None)?;
    } else {
        return Err(());
    }
    Ok(idx)
}

fn find_hms_idx(idx: usize, tokens: &[String]) -> Option<usize> {
    if idx + 1 < tokens.len() && hms_of(&tokens[idx + 1]).is_some() {
        Some(idx + 1)
    } else if idx + 2 < tokens.len() && tokens[idx + 1] == " " && hms_of(&tokens[idx + 2]).is_some()
    {
        Some(idx + 2)
    } else if idx > 0 && hms_of(&tokens[idx - 1]).is_some() {
        Some(idx - 1)
    } else if 1 < idx
        && idx == tokens.len() - 1
        && tokens[idx - 1] == " "
        && hms_of(&tokens[idx - 2]).is_some()
    {
        Some(idx - 2)
    } else {
        None
    }
}

/// `parser._parse` (non-fuzzy, default `parserinfo`): the result fields, or `None` for
/// "Unknown string format".
fn parse_fields(timestr: &str, today: Today) -> Option<Res> {
    let mut tokens = timelex(timestr);
    let mut res = Res::default();
    let mut ymd = Ymd::default();
    let run = |tokens: &mut Vec<String>, res: &mut Res, ymd: &mut Ymd| -> Result<(), Fail> {
        let len_l = tokens.len();
        let mut i = 0;
        while i < len_l {
            let tok = tokens[i].clone();
            if is_float(&tok) {
                i = parse_numeric(tokens, i, ymd, res)?;
            } else if let Some(wd) = weekday_of(&tok) {
                res.weekday = Some(wd);
            } else if let Some(m) = month_of(&tok) {
                ymd.append(
                    YmdVal::Num(Dec {
                        int: m,
                        frac: 0,
                        frac_digits: 0,
                    }),
                    Label::Month,
                )?;
                if i + 1 < len_l {
                    if tokens[i + 1] == "-" || tokens[i + 1] == "/" {
                        // Jan-01[-99]
                        let sep = tokens[i + 1].clone();
                        let t2 = tokens.get(i + 2).ok_or(())?.clone();
                        ymd.append(YmdVal::Str(&t2), Label::None)?;
                        if i + 3 < len_l && tokens[i + 3] == sep {
                            let t4 = tokens.get(i + 4).ok_or(())?.clone();
                            ymd.append(YmdVal::Str(&t4), Label::None)?;
                            i += 2;
                        }
                        i += 2;
                    } else if i + 4 < len_l
                        && tokens[i + 1] == " "
                        && tokens[i + 3] == " "
                        && eq_upper(&tokens[i + 2], "OF")
                    {
                        // "Jan of 01": unreachable without whitespace, kept for completeness.
                        if !tokens[i + 4].is_empty()
                            && tokens[i + 4].chars().all(|c| c.is_ascii_digit())
                        {
                            let year = convert_year(int_of(&tokens[i + 4])?, false, today.year);
                            ymd.append(YmdVal::Str(&year.to_string()), Label::Year)?;
                        }
                        i += 4;
                    }
                }
            } else if let Some(ampm) = ampm_of(&tok) {
                match res.hour {
                    Some(h) if (0..=12).contains(&h) => {
                        res.hour = Some(adjust_ampm(h, ampm));
                        res.ampm = Some(ampm);
                    }
                    _ => return Err(()),
                }
            } else if could_be_tzname(res, &tok) {
                res.tzoffset = if is_utczone(&tok) && ["utc", "gmt", "z"].contains(&tok.as_str()) {
                    Some(0)
                } else {
                    None
                };
                res.tzname = Some(tok.clone());
                if i + 1 < len_l && (tokens[i + 1] == "+" || tokens[i + 1] == "-") {
                    // "GMT+3" means "my time +3 is GMT": flip the sign for the offset parser.
                    tokens[i + 1] = if tokens[i + 1] == "+" {
                        "-".into()
                    } else {
                        "+".into()
                    };
                    res.tzoffset = None;
                    if is_utczone(&tok) {
                        res.tzname = None;
                    }
                }
            } else if res.hour.is_some() && (tok == "+" || tok == "-") {
                let signal: i128 = if tok == "+" { 1 } else { -1 };
                let t1 = tokens.get(i + 1).ok_or(())?.clone();
                let len_li = t1.chars().count();
                let (h, m) = if len_li == 4 {
                    (
                        int_of(slice(&t1, 0, Some(2)))?,
                        int_of(slice(&t1, 2, None))?,
                    )
                } else if i + 2 < len_l && tokens[i + 2] == ":" {
                    let m = int_of(tokens.get(i + 3).ok_or(())?)?;
                    i += 2;
                    (int_of(&t1)?, m)
                } else if len_li <= 2 {
                    (int_of(slice(&t1, 0, Some(2)))?, 0)
                } else {
                    return Err(());
                };
                res.tzoffset = Some(signal * (h * 3600 + m * 60));
                if i + 5 < len_l
                    && is_jump(&tokens[i + 2])
                    && tokens[i + 3] == "("
                    && tokens[i + 5] == ")"
                    && tokens[i + 4].chars().count() >= 3
                    && {
                        let probe = Res {
                            hour: res.hour,
                            ..Res::default()
                        };
                        could_be_tzname(&probe, &tokens[i + 4]) && res.tzname.is_none()
                    }
                {
                    res.tzname = Some(tokens[i + 4].clone());
                    i += 4;
                }
                i += 1;
            } else if !is_jump(&tok) {
                return Err(());
            }
            i += 1;
        }
        let (y, m, d) = ymd.resolve()?;
        res.year = y;
        res.month = m;
        res.day = d;
        res.century_specified = ymd.century_specified;
        Ok(())
    };
    run(&mut tokens, &mut res, &mut ymd).ok()?;
    // parserinfo.validate
    if let Some(y) = res.year {
        if y < 0 {
            return None;
        }
        res.year = Some(convert_year(y, res.century_specified, today.year));
    }
    let tzname_is_z = matches!(res.tzname.as_deref(), Some("Z") | Some("z"));
    if (res.tzoffset == Some(0) && res.tzname.is_none()) || tzname_is_z {
        res.tzname = Some("UTC".into());
        res.tzoffset = Some(0);
    } else if res.tzoffset != Some(0) && res.tzname.as_deref().is_some_and(is_utczone) {
        res.tzoffset = Some(0);
    }
    Some(res)
}

fn convert_year(year: i128, century_specified: bool, this_year: i32) -> i128 {
    let this_year = i128::from(this_year);
    if year < 100 && !century_specified {
        let mut y = year + this_year / 100 * 100;
        if y >= this_year + 50 {
            y -= 100;
        } else if y < this_year - 50 {
            y += 100;
        }
        y
    } else {
        year
    }
}

/// `dateutil.parser.parse(value)` with no `tzinfos`, as rrulestr calls it. `Err` carries a short
/// description of why the value is not a date-time.
pub(super) fn parse_datetime(value: &str, today: Today) -> Result<PyDateTime, String> {
    let res = parse_fields(value, today)
        .ok_or_else(|| format!("{value:?} is not a date-time dateutil can read"))?;
    if res.is_empty() {
        return Err(format!("{value:?} does not contain a date"));
    }
    let bad = |what: &str| format!("{value:?} has an out-of-range {what}");
    let year = res.year.unwrap_or(i128::from(today.year));
    let month = res.month.unwrap_or(i128::from(today.month));
    let mut day = res.day.unwrap_or(i128::from(today.day));
    if !(1..=12).contains(&month) {
        return Err(bad("month"));
    }
    if res.day.is_none() {
        // dateutil falls back to the end of the month when today's day does not exist there.
        day = day.min(days_in_month(year, month));
    }
    if !(1..=9999).contains(&year) {
        return Err(bad("year"));
    }
    if !(1..=days_in_month(year, month)).contains(&day) {
        return Err(bad("day"));
    }
    let hour = res.hour.unwrap_or(0);
    let minute = res.minute.unwrap_or(0);
    let second = res.second.unwrap_or(0);
    let micro = res.microsecond.unwrap_or(0);
    if !(0..24).contains(&hour) {
        return Err(bad("hour"));
    }
    if !(0..60).contains(&minute) {
        return Err(bad("minute"));
    }
    if !(0..60).contains(&second) {
        return Err(bad("second"));
    }
    if !(0..1_000_000).contains(&micro) {
        return Err(bad("microsecond"));
    }
    let mut days = crate::schedules::zone::days_from_civil(year as i32, month as u8, day as u8);
    if let (Some(wd), None | Some(0)) = (res.weekday, res.day) {
        // relativedelta(weekday=...): the next such weekday on or after the date.
        let cur = (crate::schedules::zone::weekday_sun0(days) + 6) % 7;
        days += i64::from((wd + 7 - cur) % 7);
        if days > crate::schedules::zone::days_from_civil(9999, 12, 31) {
            return Err(bad("year"));
        }
    }
    let wall =
        ((days * 86_400 + (hour * 3600 + minute * 60 + second) as i64) * 1_000_000) + micro as i64;
    Ok(PyDateTime {
        wall,
        aware: res.tzoffset.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Today = Today {
        year: 2026,
        month: 5,
        day: 31,
    };

    fn p(s: &str) -> Option<(String, bool)> {
        parse_datetime(s, TODAY).ok().map(|d| {
            let secs = d.wall.div_euclid(1_000_000);
            let (y, m, dd) = crate::schedules::zone::civil_from_days(secs.div_euclid(86_400));
            let t = secs.rem_euclid(86_400);
            let us = d.wall.rem_euclid(1_000_000);
            (
                format!(
                    "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{us:06}",
                    t / 3600,
                    t / 60 % 60,
                    t % 60
                ),
                d.aware,
            )
        })
    }

    #[test]
    fn lexer_matches_dateutil() {
        assert_eq!(
            timelex("20260101T090000Z"),
            ["20260101", "T", "090000", "Z"]
        );
        assert_eq!(
            timelex("2026-01-01T09:00:00.5"),
            [
                "2026", "-", "01", "-", "01", "T", "09", ":", "00", ":", "00.5"
            ]
        );
        assert_eq!(timelex("1.2.3"), ["1", ".", "2", ".", "3"]);
        assert_eq!(timelex("12,5"), ["12.5"]);
        assert_eq!(timelex("JAN.5"), ["JAN", ".", "5"]);
    }

    #[test]
    fn common_forms() {
        assert_eq!(
            p("20260101T090000"),
            Some(("2026-01-01T09:00:00.000000".into(), false))
        );
        assert_eq!(
            p("20260101T090000Z"),
            Some(("2026-01-01T09:00:00.000000".into(), true))
        );
        assert_eq!(
            p("20260101"),
            Some(("2026-01-01T00:00:00.000000".into(), false))
        );
        assert_eq!(
            p("2026-03-08T02:30:00+05:00"),
            Some(("2026-03-08T02:30:00.000000".into(), true))
        );
        assert_eq!(
            p("2026-03-08T02:30"),
            Some(("2026-03-08T02:30:00.000000".into(), false))
        );
        assert_eq!(p("20260230T000000"), None);
        assert_eq!(p("NOTADATE"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("T"), None);
        // Missing parts come from today; a day beyond the month's end is clamped.
        assert_eq!(p("JAN"), Some(("2026-01-31T00:00:00.000000".into(), false)));
        assert_eq!(p("FEB"), Some(("2026-02-28T00:00:00.000000".into(), false)));
        // A lone 4-digit number is a year.
        assert_eq!(
            p("0930"),
            Some(("0930-05-31T00:00:00.000000".into(), false))
        );
        assert_eq!(
            p("1.5H"),
            Some(("2026-05-31T01:30:00.000000".into(), false))
        );
        assert_eq!(p("5PM"), Some(("2026-05-31T17:00:00.000000".into(), false)));
        // 2026-05-31 is a Sunday: the next Monday.
        assert_eq!(p("MON"), Some(("2026-06-01T00:00:00.000000".into(), false)));
        assert_eq!(
            p("20260101T0900EST"),
            Some(("2026-01-01T09:00:00.000000".into(), false))
        );
        assert_eq!(
            p("20260101T0900UTC"),
            Some(("2026-01-01T09:00:00.000000".into(), true))
        );
    }

    #[test]
    fn python_int() {
        assert_eq!(py_int("1_0"), Some(10));
        assert_eq!(py_int("+3"), Some(3));
        assert_eq!(py_int("-0"), Some(0));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("_1"), None);
        assert_eq!(py_int(""), None);
        assert_eq!(py_int("-"), None);
    }
}
