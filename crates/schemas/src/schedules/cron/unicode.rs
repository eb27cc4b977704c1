//! Unicode decimal digits, which Python's `\d` and `int()` accept as digits.
//!
//! croniter matches numbers with `\d+` and converts them with `int()`, and both accept every
//! character of Unicode category Nd (`٣ * * * *` is a valid expression). Nd digits come in runs
//! of ten, 0 to 9; this table lists the zero of each run (Unicode 14.0, Python 3.11's
//! `unicodedata`).

/// The code point of the zero of every run of Unicode decimal digits, ascending.
const ZEROS: [u32; 66] = [
    0x00030, 0x00660, 0x006F0, 0x007C0, 0x00966, 0x009E6, 0x00A66, 0x00AE6, 0x00B66, 0x00BE6,
    0x00C66, 0x00CE6, 0x00D66, 0x00DE6, 0x00E50, 0x00ED0, 0x00F20, 0x01040, 0x01090, 0x017E0,
    0x01810, 0x01946, 0x019D0, 0x01A80, 0x01A90, 0x01B50, 0x01BB0, 0x01C40, 0x01C50, 0x0A620,
    0x0A8D0, 0x0A900, 0x0A9D0, 0x0A9F0, 0x0AA50, 0x0ABF0, 0x0FF10, 0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
    0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2,
    0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of `c` if it is a Unicode decimal digit (category Nd).
pub(super) fn decimal_digit(c: char) -> Option<u8> {
    let c = c as u32;
    let i = ZEROS.partition_point(|&z| z <= c).checked_sub(1)?;
    let d = c - ZEROS[i];
    (d < 10).then_some(d as u8)
}
