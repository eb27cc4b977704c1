//! YAML 1.1 scalar resolution as PyYAML's `SafeLoader` does it ([`Schema::Yaml11`]): its
//! implicit resolvers (`resolver.py`, matched in its order) and constructors (`constructor.py`),
//! written out without regular expressions (timestamps: [`super::timestamp`]). Checked against
//! PyYAML 6.0.4 on 4,500 generated scalars (`crates/core/tests/yaml11_pyyaml.rs`,
//! `xtask/python/gen_yaml11_cases.py`).
//!
//! [`Schema::Yaml11`]: super::Schema::Yaml11

use saphyr_parser::ScalarStyle;
use serde_json::{Number, Value};

use super::compose::Refusal;
use super::timestamp::{self, Reading};
use super::{Location, TimestampKind, YamlError, no_json_form};

/// A resolved scalar: its value, and whether PyYAML builds a `date` / `datetime` for it.
type Resolved = (Value, Option<TimestampKind>);

/// A scalar's value under YAML 1.1; `core_tag` is the suffix of a `!!` tag (others were
/// handled by the caller).
pub(super) fn resolve(
    text: &str,
    style: ScalarStyle,
    core_tag: Option<&str>,
    at: Location,
) -> Result<Resolved, Refusal> {
    let refuse = |reason: String| {
        Refusal::Construct(YamlError::Unrepresentable {
            location: at,
            reason,
        })
    };
    let plain = |v: Value| (v, None);
    if let Some(suffix) = core_tag {
        let not = |kind: &str| refuse(format!("`{text}` is not a !!{kind}"));
        return match suffix {
            "str" => Ok(plain(Value::String(text.to_owned()))),
            "null" => Ok(plain(Value::Null)),
            "bool" => bool_of(text)
                .map(|b| plain(Value::Bool(b)))
                .ok_or_else(|| not("bool")),
            "int" => int_of(text, at)?.map(plain).ok_or_else(|| not("int")),
            "float" => float_of(text, at)?.map(plain).ok_or_else(|| not("float")),
            // PyYAML fails (AttributeError) on a !!timestamp its pattern does not match.
            "timestamp" => timestamp_of(text, timestamp::tagged(text), at)
                .unwrap_or_else(|| Err(not("timestamp"))),
            other => Err(refuse(format!(
                "`{text}` is tagged !!{other}, which a data file cannot hold"
            ))),
        };
    }
    if !matches!(style, ScalarStyle::Plain) {
        return Ok(plain(Value::String(text.to_owned())));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(plain(Value::Null));
    }
    if let Some(b) = bool_of(text) {
        return Ok(plain(Value::Bool(b)));
    }
    if let Some(v) = float_of(text, at)? {
        return Ok(plain(v));
    }
    if let Some(v) = int_of(text, at)? {
        return Ok(plain(v));
    }
    if let Some(resolved) = timestamp_of(text, timestamp::implicit(text), at) {
        return resolved;
    }
    if text == "=" {
        return Err(refuse(
            "`=` is YAML 1.1's value type, which PyYAML cannot construct (`prefect deploy` \
             fails on it); quote it ('=') for the text"
                .into(),
        ));
    }
    Ok(plain(Value::String(text.to_owned())))
}

/// A timestamp's JSON text (pydantic's), `None` when `reading` is not a timestamp.
fn timestamp_of(text: &str, reading: Reading, at: Location) -> Option<Result<Resolved, Refusal>> {
    match reading {
        Reading::NotOne => None,
        Reading::Valid(json, kind) => Some(Ok((Value::String(json), Some(kind)))),
        Reading::Impossible(what, kind) => {
            let (noun, write) = match kind {
                TimestampKind::Date => ("date", "a date that exists"),
                _ => ("date and time", "a date and time that exist"),
            };
            Some(Err(Refusal::Construct(YamlError::InvalidTimestamp {
                location: at,
                reason: format!(
                    "`{text}` is a YAML 1.1 {noun}, which PyYAML builds (`prefect deploy` fails \
                     on it): {what}; write {write}, or quote it ('{text}') to keep it as text"
                ),
            })))
        }
    }
}

fn bool_of(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn split_sign(text: &str) -> (i128, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    }
}

fn all(s: &str, ok: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(ok)
}

/// `:[0-5]?[0-9]` groups after the first part (sexagesimal).
fn sexagesimal_tail(parts: &[&str]) -> bool {
    !parts.is_empty()
        && parts.iter().all(|p| match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
            _ => false,
        })
}

/// PyYAML's int resolver and `construct_yaml_int`; `None` when the text is not an int.
fn int_of(text: &str, at: Location) -> Result<Option<Value>, Refusal> {
    let (sign, body) = split_sign(text);
    let digit_ = |b: u8| b.is_ascii_digit() || b == b'_';
    let matches = if let Some(rest) = body.strip_prefix("0b") {
        all(rest, |b| matches!(b, b'0' | b'1' | b'_'))
    } else if let Some(rest) = body.strip_prefix("0x") {
        all(rest, |b| b.is_ascii_hexdigit() || b == b'_')
    } else if body == "0" {
        true
    } else if let Some(rest) = body.strip_prefix('0') {
        all(rest, |b| matches!(b, b'0'..=b'7' | b'_'))
    } else if body
        .as_bytes()
        .first()
        .is_some_and(|b| (b'1'..=b'9').contains(b))
    {
        let parts: Vec<&str> = body.split(':').collect();
        all(parts[0], digit_) && (parts.len() == 1 || sexagesimal_tail(&parts[1..]))
    } else {
        false
    };
    if !matches {
        return Ok(None);
    }
    let value = body.replace('_', "");
    let magnitude: Option<i128> = if value == "0" {
        Some(0)
    } else if let Some(digits) = value.strip_prefix("0b") {
        i128::from_str_radix(digits, 2).ok()
    } else if let Some(digits) = value.strip_prefix("0x") {
        i128::from_str_radix(digits, 16).ok()
    } else if value.starts_with('0') {
        i128::from_str_radix(&value, 8).ok()
    } else if value.contains(':') {
        value.split(':').try_fold(0i128, |acc, part| {
            acc.checked_mul(60)?.checked_add(part.parse::<i128>().ok()?)
        })
    } else {
        value.parse::<i128>().ok()
    };
    let Some(magnitude) = magnitude else {
        // `0b_` and the like: the resolver says int, the constructor has no digits.
        return Err(Refusal::Construct(YamlError::Unrepresentable {
            location: at,
            reason: format!("`{text}` reads as a YAML 1.1 integer without digits; quote it"),
        }));
    };
    let n = sign * magnitude;
    let value = i64::try_from(n)
        .map(Value::from)
        .or_else(|_| u64::try_from(n).map(Value::from))
        .map_err(|_| {
            Refusal::NoJsonForm(YamlError::Unrepresentable {
                location: at,
                reason: format!(
                    "the integer `{text}` does not fit in 64 bits, the most a JSON number keeps \
                     exactly; quote it to keep it as text"
                ),
            })
        })?;
    Ok(Some(value))
}

/// `[eE][-+][0-9]+` (YAML 1.1's exponent needs its sign) or nothing.
fn exponent_ok(s: &str) -> bool {
    match s.as_bytes() {
        [] => true,
        [b'e' | b'E', b'-' | b'+', rest @ ..] => {
            !rest.is_empty() && rest.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// PyYAML's float resolver and `construct_yaml_float`; `None` when the text is not a float.
fn float_of(text: &str, at: Location) -> Result<Option<Value>, Refusal> {
    let (sign, body) = split_sign(text);
    let signed = body.len() != text.len();
    let digit_ = |b: u8| b.is_ascii_digit() || b == b'_';
    let special = match body {
        ".inf" | ".Inf" | ".INF" => Some("infinity"),
        ".nan" | ".NaN" | ".NAN" if !signed => Some("not a number"),
        _ => None,
    };
    if let Some(what) = special {
        return Err(Refusal::NoJsonForm(no_json_form(text, what, at)));
    }
    let matches = if let Some((whole, fraction_exp)) = body.split_once('.') {
        let exp_at = fraction_exp.find(['e', 'E']).unwrap_or(fraction_exp.len());
        let (fraction, exp) = fraction_exp.split_at(exp_at);
        let fraction_ok = fraction.bytes().all(digit_) && exponent_ok(exp);
        if whole.is_empty() {
            // `\.[0-9][0-9_]*` — no sign allowed.
            !signed && fraction.as_bytes().first().is_some_and(u8::is_ascii_digit) && fraction_ok
        } else if whole.contains(':') {
            // Sexagesimal: `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`, no exponent.
            let parts: Vec<&str> = whole.split(':').collect();
            all(parts[0], digit_)
                && parts[0].as_bytes()[0].is_ascii_digit()
                && sexagesimal_tail(&parts[1..])
                && exp.is_empty()
                && fraction.bytes().all(digit_)
        } else {
            all(whole, digit_) && whole.as_bytes()[0].is_ascii_digit() && fraction_ok
        }
    } else {
        false
    };
    if !matches {
        return Ok(None);
    }
    let value = body.replace('_', "").to_ascii_lowercase();
    let magnitude = if value.contains(':') {
        let (whole, fraction) = value.split_once('.').unwrap_or((&value, ""));
        let mut parts: Vec<f64> = whole
            .split(':')
            .map(|p| p.parse::<f64>().unwrap_or(0.0))
            .collect();
        if let Some(last) = parts.last_mut() {
            *last += format!("0.{fraction}").parse::<f64>().unwrap_or(0.0);
        }
        parts.iter().fold(0.0, |acc, p| acc * 60.0 + p)
    } else {
        // Python's float() reads `1.`, `.5` and `1.e+3`; Rust's parser does too once a digit
        // stands on each side of the dot.
        let mut v = value.clone();
        if v.starts_with('.') {
            v.insert(0, '0');
        }
        if let Some(i) = v.find('.')
            && !v[i + 1..].starts_with(|c: char| c.is_ascii_digit())
        {
            v.insert(i + 1, '0');
        }
        v.parse::<f64>().unwrap_or(f64::NAN)
    };
    let f = if sign < 0 { -magnitude } else { magnitude };
    match Number::from_f64(f) {
        Some(n) if f.is_finite() => Ok(Some(Value::Number(n))),
        _ => Err(Refusal::NoJsonForm(YamlError::Unrepresentable {
            location: at,
            reason: format!(
                "the number `{text}` is too large for a 64-bit float (it would become \
                 infinity); quote it to keep it as text"
            ),
        })),
    }
}
