//! Prefect 3.9.1 API wire models.
//!
//! Generated from the server's OpenAPI document (`openapi/prefect-3.9.1.json`) by
//! `cargo xtask codegen`; the schedule models are the hand-written types of
//! [`crate::schedules`], which carry the schedule computation. Field names are exactly the API's;
//! request types distinguish a field that is not sent (`None`) from one sent as `null`
//! (`Some(None)`), because Prefect does.

mod generated;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use generated::*;

/// A duration in seconds, as Prefect writes it (a float); on input a number of seconds or an
/// ISO 8601 duration string (`"PT30S"`), as Prefect accepts.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Seconds(pub f64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

impl From<f64> for Seconds {
    fn from(s: f64) -> Self {
        Seconds(s)
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Seconds(n)),
            Raw::Text(t) => crate::schedules::parse_duration_seconds(&t).map(Seconds).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid duration {t:?}: expected seconds or an ISO 8601 duration such as PT30S"
                ))
            }),
        }
    }
}

/// Serde helpers for `Option<Option<T>>` request fields: `None` is not sent, `Some(None)` is
/// sent as `null`, `Some(Some(v))` as `v`.
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            // Only reached without `skip_serializing_if`; write null rather than nothing.
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
