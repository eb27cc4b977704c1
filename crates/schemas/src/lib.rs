//! Prefect API wire models and Prefect-exact schedule computation.
//!
//! `prefab-schemas` is the sans-IO layer of [prefab]: it holds the JSON shapes the Prefect 3.9.1
//! API speaks and computes the run dates of deployment schedules — interval, cron and rrule —
//! date for date as Prefect's scheduler does, across daylight-saving changes, in nanoseconds
//! per date rather than microseconds.
//!
//! ```
//! use prefab_schemas::schedules::Schedule;
//!
//! let schedule: Schedule = serde_json::from_str(
//!     r#"{"cron": "30 2 * * *", "timezone": "America/New_York"}"#,
//! )?;
//! let start = prefab_schemas::schedules::parse_timestamp("2027-03-13T00:00:00-05:00")?;
//! let dates = schedule.dates(Some(3), Some(start), None)?;
//! let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
//! // 02:30 does not exist on 14 March 2027 in New York: Prefect runs at 03:30 instead.
//! assert_eq!(
//!     shown,
//!     [
//!         "2027-03-13T02:30:00-05:00",
//!         "2027-03-14T03:30:00-04:00",
//!         "2027-03-15T02:30:00-04:00",
//!     ]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [prefab]: https://github.com/prefab-rs/prefab

pub mod api;
mod error;
pub mod schedules;
mod secret;

pub use error::ScheduleError;
pub use secret::Secret;
