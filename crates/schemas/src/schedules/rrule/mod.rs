//! RRULE schedules (RFC 5545 as python-dateutil reads it), with Prefect's time-zone relabelling.

use crate::schedules::ScheduleError;
use crate::schedules::zone::Zone;

/// A parsed rrule string (RRULE/EXRULE/RDATE/EXDATE lines and an optional DTSTART).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRuleSet {
    source: String,
}

impl RRuleSet {
    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Parses a string with Prefect's validation rules.
    pub fn parse(rrule: &str) -> Result<RRuleSet, ScheduleError> {
        Err(ScheduleError::InvalidRRule {
            rrule: rrule.to_owned(),
            reason: "engine missing".into(),
        })
    }
}

/// Run dates (instants, µs since the epoch) per Prefect's `RRuleSchedule._get_dates_generator`.
pub(crate) fn rrule_dates(
    set: &RRuleSet,
    _zone: &Zone,
    _start: i64,
    _end: Option<i64>,
    _n: usize,
) -> Result<Vec<i64>, ScheduleError> {
    Err(ScheduleError::InvalidRRule {
        rrule: set.source.clone(),
        reason: "engine missing".into(),
    })
}
