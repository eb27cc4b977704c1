//! Parsing croniter's dialect into bitmasks.
//!
//! The accepted language is exactly what `croniter.is_valid` (Prefect's vendored copy) accepts,
//! including its quirks; see schedules.md §5. The parser works on bytes and does not allocate
//! for ASCII expressions of up to 128 bytes: non-ASCII input is first normalised the way
//! Python sees it (Unicode white space separates fields, Unicode decimal digits are digits,
//! anything else can never be part of a valid field).

use std::borrow::Cow;

use super::unicode::decimal_digit;

/// The seven fields, in croniter's order (seconds are the 6th field, the year the 7th).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Minute,
    Hour,
    Day,
    Month,
    Dow,
    Second,
    Year,
}

impl Field {
    pub(super) const ALL: [Field; 7] = [
        Field::Minute,
        Field::Hour,
        Field::Day,
        Field::Month,
        Field::Dow,
        Field::Second,
        Field::Year,
    ];

    /// The inclusive range of values (croniter's `RANGES`).
    pub(super) const fn range(self) -> (u32, u32) {
        match self {
            Field::Minute | Field::Second => (0, 59),
            Field::Hour => (0, 23),
            Field::Day => (1, 31),
            Field::Month => (1, 12),
            Field::Dow => (0, 6),
            Field::Year => (1970, 2099),
        }
    }

    /// How many distinct entries make croniter rewrite a field to `*` (`LEN_MEANS_ALL`).
    const fn len_means_all(self) -> u32 {
        match self {
            Field::Minute | Field::Second => 60,
            Field::Hour => 24,
            Field::Day => 31,
            Field::Month => 12,
            Field::Dow => 7,
            Field::Year => 130,
        }
    }

    /// Bit index of value `v` in the field's mask.
    const fn bit(self, v: u32) -> u32 {
        match self {
            Field::Year => v - 1970,
            _ => v,
        }
    }

    pub(super) const fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::Day => "day-of-month",
            Field::Month => "month",
            Field::Dow => "day-of-week",
            Field::Second => "second",
            Field::Year => "year",
        }
    }
}

/// `Spec::star` bit of a field.
pub(super) const fn star_bit(f: Field) -> u8 {
    1 << f as u8
}

/// `Spec::nth` bit for `L<d>` (last `<d>`-day of the month); bits 1–5 are `#1`–`#5`.
pub(super) const NTH_LAST: u8 = 1;

/// A compiled expression: one bitmask per field plus croniter's special entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Spec {
    /// Number of fields: 5, 6 (seconds) or 7 (seconds and year).
    pub nfields: u8,
    /// Fields whose expanded list contains `*` (croniter then skips them), one bit per [`Field`].
    pub star: u8,
    /// Seconds 0–59, bit per value.
    pub seconds: u64,
    /// Minutes 0–59.
    pub minutes: u64,
    /// Hours 0–23.
    pub hours: u32,
    /// Days of the month 1–31 (bit 0 unused).
    pub days: u32,
    /// `L` in the day-of-month field: the last day of the month.
    pub last_day: bool,
    /// Months 1–12 (bit 0 unused).
    pub months: u16,
    /// Days of the week, 0 = Sunday.
    pub dows: u8,
    /// Years 1970–2099, bit `year - 1970`.
    pub years: Bits,
    /// Per weekday (0 = Sunday): `#k` occurrences (bit k) and [`NTH_LAST`].
    pub nth: [u8; 7],
}

impl Spec {
    /// Whether croniter skips field `f`.
    #[inline]
    pub fn is_star(&self, f: Field) -> bool {
        self.star & star_bit(f) != 0
    }

    /// Whether any `#k` / `L<d>` entry exists (croniter then uses its nth-weekday search for
    /// the day-of-week field, whatever else that field lists).
    #[inline]
    pub fn has_nth(&self) -> bool {
        self.nth.iter().any(|&n| n != 0)
    }
}

/// Why an expression was refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// croniter's `is_valid` is false; the reason names the field and value.
    Invalid(String),
    /// A random (`R`) or hashed (`H`) field. Prefect refuses a bare `R` (and croniter refuses
    /// `H`, having no hash id); the other random forms Prefect accepts, but croniter draws
    /// their value anew for every croniter it builds — on every `get_dates` call — so their
    /// dates cannot be reproduced (docs/deviations.md S9).
    Unsupported {
        /// The first such field.
        field: Field,
        /// `H` rather than `R`.
        hashed: bool,
    },
}

/// Why an entry was refused; turned into a message only when the expression is refused, so
/// that the parser's results stay small enough for registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    /// Not something croniter can read in this field.
    Unreadable,
    /// A value outside the field's range.
    OutOfRange(u32),
    /// A step of 0.
    ZeroStep,
    /// `#k` with `k` outside 1–5.
    Occurrence,
    /// `?` anywhere but alone in a day field.
    Question,
    /// An `R` expression croniter's expander refuses.
    MalformedRandom,
    /// A non-ASCII character that is not a digit.
    Foreign,
}

type Res<T> = Result<T, Bad>;

/// A set of up to 192 small numbers (the year field has 130 values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Bits([u64; 3]);

impl Bits {
    #[inline]
    fn insert(&mut self, i: u32) {
        self.0[(i / 64) as usize] |= 1 << (i % 64);
    }

    fn len(&self) -> u32 {
        // Only the year field reaches past the first word (and `count_ones` may be a software
        // popcount on baseline x86-64).
        let [low, mid, high] = self.0;
        let extra = if mid | high != 0 {
            mid.count_ones() + high.count_ones()
        } else {
            0
        };
        low.count_ones() + extra
    }

    /// The first 64 members (all of them for every field but the year).
    #[inline]
    fn low(&self) -> u64 {
        self.0[0]
    }

    /// The smallest member at or above `i`.
    pub fn first_from(&self, i: u32) -> Option<u32> {
        let mut word = (i / 64) as usize;
        let mut bits = self.0.get(word)? & (u64::MAX << (i % 64));
        loop {
            if bits != 0 {
                return Some(word as u32 * 64 + bits.trailing_zeros());
            }
            word += 1;
            bits = *self.0.get(word)?;
        }
    }
}

/// The kind of a random or hashed field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Random,
    Hashed,
}

/// One field while it is being parsed.
#[derive(Clone, Copy, Default)]
struct FieldSet {
    bits: Bits,
    star: bool,
    last: bool,
    nth: [u8; 7],
    /// A random (`R`) or hashed (`H`) field.
    unsupported: Option<Hash>,
}

/// The expression a macro stands for (croniter's aliases, matched on the whole string).
fn macro_expansion(lower: &[u8]) -> Option<&'static [u8]> {
    Some(match lower {
        b"@midnight" | b"@daily" => b"0 0 * * *",
        b"@hourly" => b"0 * * * *",
        b"@weekly" => b"0 0 * * 0",
        b"@monthly" => b"0 0 1 * *",
        b"@yearly" | b"@annually" => b"0 0 1 1 *",
        _ => return None,
    })
}

/// Python's `str.isspace()` restricted to ASCII (`str.split()` separators).
#[inline]
fn is_py_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

/// Marker for a non-ASCII character that can never be part of a valid field.
const FOREIGN: u8 = 0;

/// The expression as croniter sees it after `lower()`: ASCII, lower case, Unicode white space as
/// `' '`, Unicode decimal digits as ASCII digits, every other non-ASCII character as [`FOREIGN`].
/// Short ASCII expressions are lowered into `stack`, so typical ones never allocate.
fn normalize<'a>(expr: &'a str, stack: &'a mut [u8; 128]) -> Cow<'a, [u8]> {
    if expr.is_ascii() {
        let bytes = expr.as_bytes();
        if !bytes.iter().any(u8::is_ascii_uppercase) {
            Cow::Borrowed(bytes)
        } else if let Some(buf) = stack.get_mut(..bytes.len()) {
            buf.copy_from_slice(bytes);
            buf.make_ascii_lowercase();
            Cow::Borrowed(buf)
        } else {
            Cow::Owned(bytes.to_ascii_lowercase())
        }
    } else {
        Cow::Owned(
            expr.chars()
                .map(|c| {
                    if c.is_ascii() {
                        (c as u8).to_ascii_lowercase()
                    } else if c.is_whitespace() {
                        b' '
                    } else if let Some(d) = decimal_digit(c) {
                        b'0' + d
                    } else {
                        FOREIGN
                    }
                })
                .collect(),
        )
    }
}

/// Compiles `expr` the way `croniter.expand` does, refusing what `croniter.is_valid` refuses.
pub(super) fn compile(expr: &str) -> Result<Spec, Refusal> {
    let mut stack = [0u8; 128];
    let norm = normalize(expr, &mut stack);
    let text: &[u8] = macro_expansion(&norm).unwrap_or(&norm);

    let mut tokens: [&[u8]; 7] = [&[]; 7];
    let mut count = 0usize;
    for tok in text.split(|&b| is_py_space(b)).filter(|t| !t.is_empty()) {
        if count < 7 {
            tokens[count] = tok;
        }
        count += 1;
    }
    if !(5..=7).contains(&count) {
        return Err(Refusal::Invalid(format!(
            "expected 5, 6 or 7 fields, found {count}"
        )));
    }

    let ascii = expr.is_ascii();
    // Filled in place: copying whole field sets right after byte-sized writes stalls.
    let mut sets = [FieldSet::default(); 7];
    for ((tok, &f), set) in tokens[..count].iter().zip(&Field::ALL).zip(&mut sets) {
        parse_field(tok, f, count, ascii, set)
            .map_err(|(bad, entry)| Refusal::Invalid(message(f, bad, entry)))?;
        collapse(set, f, &tokens);
    }

    // croniter refuses `#`/`L<d>` next to plain weekdays, unless the list names all seven.
    let dow = &sets[Field::Dow as usize];
    let nth_keys = dow
        .nth
        .iter()
        .enumerate()
        .fold(0u64, |m, (d, &n)| if n != 0 { m | 1 << d } else { m });
    if nth_keys != 0 && dow.bits.low() & !nth_keys != 0 && dow.bits.len() + u32::from(dow.star) != 7
    {
        return Err(Refusal::Invalid(
            "day-of-week field: '#' and 'L' entries cannot be mixed with plain weekdays".into(),
        ));
    }
    if let Some((i, kind)) = sets[..count]
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.unsupported.map(|k| (i, k)))
    {
        return Err(Refusal::Unsupported {
            field: Field::ALL[i],
            hashed: kind == Hash::Hashed,
        });
    }

    let mut spec = Spec {
        nfields: count as u8,
        star: 0,
        seconds: sets[Field::Second as usize].bits.low(),
        minutes: sets[Field::Minute as usize].bits.low(),
        hours: sets[Field::Hour as usize].bits.low() as u32,
        days: sets[Field::Day as usize].bits.low() as u32,
        last_day: sets[Field::Day as usize].last,
        months: sets[Field::Month as usize].bits.low() as u16,
        dows: dow.bits.low() as u8,
        years: sets[Field::Year as usize].bits,
        nth: dow.nth,
    };
    for (i, set) in sets.iter().enumerate() {
        // Absent fields (seconds and year of a 5-field expression) are unrestricted.
        if i >= count || set.star {
            spec.star |= 1 << i;
        }
    }
    Ok(spec)
}

/// The message for a refused entry of field `f`.
#[cold]
fn message(f: Field, bad: Bad, entry: &[u8]) -> String {
    let name = f.name();
    let (min, max) = f.range();
    let entry = show(entry);
    match bad {
        Bad::Unreadable if entry.is_empty() => format!("{name} field: empty list entry"),
        Bad::Unreadable => {
            let expected = match f {
                Field::Month => "a month 1-12 or jan-dec",
                Field::Dow => "a weekday 0-7 or sun-sat, L<weekday> or <weekday>#<1-5>",
                Field::Day => "a day 1-31 or L",
                _ => "a number",
            };
            format!(
                "{name} field: '{entry}' is not acceptable (expected {expected}, a range a-b, \
                 a step */n, a/n or a-b/n, or a comma-separated list of those)"
            )
        }
        Bad::OutOfRange(v) => format!("{name} field: {v} is out of range {min}-{max}"),
        Bad::ZeroStep => format!("{name} field: '{entry}': a step must be at least 1"),
        Bad::Occurrence => {
            format!("{name} field: '{entry}': the occurrence after '#' must be 1-5")
        }
        Bad::Question => format!(
            "{name} field: '{entry}': '?' is only allowed alone, in the day-of-month or \
             day-of-week field"
        ),
        Bad::MalformedRandom => format!("{name} field: '{entry}' is not a valid random (R) value"),
        Bad::Foreign => format!("{name} field: unexpected non-ASCII character"),
    }
}

/// croniter rewrites a field listing every value to `*` — except day-of-month (day-of-week)
/// when the other day field's text has no `*`, which keeps the OR semantics (schedules.md §5).
fn collapse(set: &mut FieldSet, f: Field, tokens: &[&[u8]; 7]) {
    let distinct = set.bits.len() + u32::from(set.star) + u32::from(set.last);
    if distinct != f.len_means_all() {
        return;
    }
    let keep = match f {
        Field::Day => !tokens[Field::Dow as usize].contains(&b'*'),
        Field::Dow => !tokens[Field::Day as usize].contains(&b'*'),
        _ => false,
    };
    if !keep {
        (set.bits, set.star, set.last) = (Bits::default(), true, false);
    }
}

/// Parses one field; `ascii` says the expression was ASCII (so [`FOREIGN`] cannot occur).
/// A refusal comes with the entry it is about.
fn parse_field<'t>(
    tok: &'t [u8],
    f: Field,
    nfields: usize,
    ascii: bool,
    set: &mut FieldSet,
) -> Result<(), (Bad, &'t [u8])> {
    if !ascii && tok.contains(&FOREIGN) {
        return Err((Bad::Foreign, tok));
    }
    if matches!(tok.first(), Some(b'h' | b'r'))
        && hash_expression(tok, f).map_err(|bad| (bad, tok))?
    {
        set.unsupported = Some(if tok[0] == b'h' {
            Hash::Hashed
        } else {
            Hash::Random
        });
        return Ok(());
    }
    let tok: &[u8] = if tok.contains(&b'?') {
        if tok != b"?" || !matches!(f, Field::Day | Field::Dow) {
            return Err((Bad::Question, tok));
        }
        b"*"
    } else {
        tok
    };
    for e in tok.split(|&b| b == b',') {
        element(e, f, nfields, set).map_err(|bad| (bad, e))?;
    }
    Ok(())
}

/// croniter's `H`/`R` expander: `^(h|r)(\(\d+-\d+\))?(/\d+)?$`. Returns whether the token is
/// such an expression, or an error for a random one croniter's expander refuses.
#[cold]
fn hash_expression(tok: &[u8], f: Field) -> Res<bool> {
    let (kind, mut rest) = match tok.split_first() {
        Some((&k @ (b'h' | b'r'), rest)) => (k, rest),
        _ => return Ok(false),
    };
    let mut bounds = None;
    if let Some(inner) = rest.strip_prefix(b"(") {
        let Some(close) = inner.iter().position(|&b| b == b')') else {
            return Ok(false);
        };
        let Some((a, b)) = split_once(&inner[..close], b'-') else {
            return Ok(false);
        };
        if !is_digits(a) || !is_digits(b) {
            return Ok(false);
        }
        bounds = Some((a, b));
        rest = &inner[close + 1..];
    }
    let mut divisor = None;
    if !rest.is_empty() {
        match rest.strip_prefix(b"/") {
            Some(d) if is_digits(d) => divisor = Some(d),
            _ => return Ok(false),
        }
    }
    if kind == b'h' {
        return Ok(true);
    }
    if let Some((a, b)) = bounds
        && number(a).ok_or(Bad::MalformedRandom)? >= number(b).ok_or(Bad::MalformedRandom)?
    {
        return Err(Bad::MalformedRandom);
    }
    if let Some(d) = divisor {
        if number(d).ok_or(Bad::MalformedRandom)? == 0 {
            return Err(Bad::MalformedRandom);
        }
        // croniter rewrites `R(a-b)/d` to `x-b/d`: an end beyond the field is always refused.
        if let Some((_, b)) = bounds
            && number(b).ok_or(Bad::MalformedRandom)? > u64::from(f.range().1)
        {
            return Err(Bad::MalformedRandom);
        }
    }
    Ok(true)
}

/// One comma-separated entry.
fn element(e: &[u8], f: Field, nfields: usize, set: &mut FieldSet) -> Res<()> {
    if f == Field::Dow {
        // croniter's `special_dow_re`: `<he>#<k>` or `l<d>`.
        if let Some((he, k)) = split_once(e, b'#') {
            if is_digits(k) && is_special_head(he) {
                let k = number(k)
                    .filter(|k| (1..=5).contains(k))
                    .ok_or(Bad::Occurrence)?;
                return body(he, f, nfields, 1 << k, set);
            }
        } else if let Some(d) = e.strip_prefix(b"l")
            && is_digits(d)
        {
            return body(d, f, nfields, NTH_LAST, set);
        }
    }
    body(e, f, nfields, 0, set)
}

/// The part before `#` that croniter's regex accepts: `\w+`, or a range of weekday or month names.
fn is_special_head(he: &[u8]) -> bool {
    if !he.is_empty() && he.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
        return true;
    }
    match split_once(he, b'-') {
        Some((a, b)) => {
            (dow_name(a).is_some() && dow_name(b).is_some())
                || (month_name(a).is_some() && month_name(b).is_some())
        }
        None => false,
    }
}

/// An entry (or the head of a `#` entry), after the day-of-week special forms.
fn body(e: &[u8], f: Field, nfields: usize, nth: u8, set: &mut FieldSet) -> Res<()> {
    let (min, max) = f.range();
    // `*/n` is `min-max/n`.
    if let Some(step) = e.strip_prefix(b"*/")
        && is_digits(step)
    {
        return range(min, max, step, f, nth, set);
    }
    if let Some((low, high, step)) = step_search(e) {
        let high: &[u8] = if f == Field::Day && high == b"l" {
            b"31"
        } else {
            high
        };
        let low = alias(band(low, f)?, f, nfields);
        let high = alias(band(high, f)?, f, nfields);
        return range(low, high, step, f, nth, set);
    }
    if let Some(slash) = e.iter().rposition(|&b| b == b'/') {
        // `a/n` is `a-max/n` (croniter rewrites it and matches again).
        let (low, step) = (&e[..slash], &e[slash + 1..]);
        if !low.is_empty() && !low.contains(&b'-') && is_digits(step) {
            let low = alias(band(low, f)?, f, nfields);
            return range(low, max, step, f, nth, set);
        }
        return Err(Bad::Unreadable);
    }
    simple(e, f, nfields, nth, set)
}

/// croniter's `step_search_re`: `^([^-]+)-([^-/]+)(/(\d+))?$`, returning low, high and step.
fn step_search(t: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (low, rest) = split_once(t, b'-')?;
    if low.is_empty() || rest.contains(&b'-') {
        return None;
    }
    let (high, step): (&[u8], &[u8]) = match split_once(rest, b'/') {
        Some((h, s)) if is_digits(s) => (h, s),
        Some(_) => return None,
        None => (rest, b"1"),
    };
    (!high.is_empty()).then_some((low, high, step))
}

/// A range bound: digits or a name (croniter's `_alphaconv`); `L` is refused as a bound.
fn band(b: &[u8], f: Field) -> Res<u32> {
    let value = if is_digits(b) {
        number(b).map(clamp_u32)
    } else {
        name_value(b, f)
    };
    value.ok_or(Bad::Unreadable)
}

/// Expands `low-high/step` as croniter does, including wrap-around and the `a-a` quirk.
fn range(low: u32, high: u32, step: &[u8], f: Field, nth: u8, set: &mut FieldSet) -> Res<()> {
    let (min, max) = f.range();
    if low.max(high) > max {
        return Err(Bad::OutOfRange(low.max(high)));
    }
    let step = number(step).ok_or(Bad::Unreadable)?;
    if step == 0 {
        return Err(Bad::ZeroStep);
    }
    // Values below the field are refused, except in `a-a`, which means the whole field anyway.
    if low < min && low != high {
        return Err(Bad::OutOfRange(low));
    }
    let step = step.min(u64::from(u32::MAX));
    let (low, high, min, max) = (
        u64::from(low),
        u64::from(high),
        u64::from(min),
        u64::from(max),
    );
    let mut add = |from: u64, to: u64| {
        let mut v = from;
        while v <= to {
            put(set, f, v as u32, nth);
            v += step;
        }
    };
    if low > high {
        // Wrap-around (`FRI-MON`, `Apr-Jan/3`): low..max, then on from the field's start,
        // skipping what the step still owes (croniter's `to_skip`).
        add(low, max);
        let last = low + (max - low) / step * step;
        let already_skipped = max - last;
        let curpos = last - min;
        let to_skip = if curpos + step > max - min + 1 && already_skipped < step {
            step - already_skipped
        } else {
            0
        };
        add(min + to_skip, high);
    } else if low == high {
        // croniter quirk: `5-5` (or `SUN-SUN`, `0-7`) means the whole field (schedules.md §5).
        add(min, max);
    } else {
        add(low, high);
    }
    Ok(())
}

/// A single value, `*`, or a name.
fn simple(t: &[u8], f: Field, nfields: usize, nth: u8, set: &mut FieldSet) -> Res<()> {
    let (min, max) = f.range();
    if t == b"*" {
        set.star = true;
        return Ok(());
    }
    if f == Field::Day && t == b"l" {
        set.last = true;
        return Ok(());
    }
    let value = if is_digits(t) {
        number(t).map(clamp_u32)
    } else {
        name_value(t, f)
    };
    let value = alias(value.ok_or(Bad::Unreadable)?, f, nfields);
    if value < min || value > max {
        return Err(Bad::OutOfRange(value));
    }
    put(set, f, value, nth);
    Ok(())
}

#[inline]
fn put(set: &mut FieldSet, f: Field, v: u32, nth: u8) {
    set.bits.insert(f.bit(v));
    if nth != 0 {
        set.nth[v as usize] |= nth;
    }
}

/// croniter's `value_alias`: day 0 → 1 only with 6 fields, weekday 7 → 0 only with 5 fields
/// (elsewhere those values are out of range) — a croniter quirk kept on purpose (schedules.md §5).
#[inline]
fn alias(v: u32, f: Field, nfields: usize) -> u32 {
    match (f, nfields, v) {
        (Field::Day, 6, 0) => 1,
        (Field::Dow, 5, 7) => 0,
        _ => v,
    }
}

fn name_value(t: &[u8], f: Field) -> Option<u32> {
    match f {
        Field::Month => month_name(t),
        Field::Dow => dow_name(t),
        _ => None,
    }
}

fn month_name(t: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    MONTHS.iter().position(|m| *m == t).map(|i| i as u32 + 1)
}

fn dow_name(t: &[u8]) -> Option<u32> {
    const DAYS: [&[u8]; 7] = [b"sun", b"mon", b"tue", b"wed", b"thu", b"fri", b"sat"];
    DAYS.iter().position(|d| *d == t).map(|i| i as u32)
}

#[inline]
fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// Python's `int()` of a digit string: refused beyond 4300 digits (CPython's
/// `sys.get_int_max_str_digits()` default), otherwise the value, saturated.
fn number(s: &[u8]) -> Option<u64> {
    if s.len() > 4300 {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[inline]
fn clamp_u32(v: u64) -> u32 {
    v.min(u64::from(u32::MAX)) as u32
}

#[inline]
fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// An entry for an error message (shortened: the input may be huge).
fn show(s: &[u8]) -> String {
    let text = String::from_utf8_lossy(s);
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text.into_owned()
    }
}
