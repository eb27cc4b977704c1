//! Cron schedules in croniter's dialect (the one Prefect 3.9.1 vendors), with Prefect's DST rules.

use crate::schedules::ScheduleError;
use crate::schedules::zone::Zone;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
}

impl CronExpr {
    /// The source text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Parses an expression with Prefect's validation rules.
    pub fn parse(expr: &str) -> Result<CronExpr, ScheduleError> {
        Err(ScheduleError::InvalidCron {
            expr: expr.to_owned(),
            reason: "engine missing".into(),
        })
    }
}

/// Run dates (instants, µs since the epoch) of `expr` per Prefect's `_get_dates_whenever`.
pub(crate) fn cron_dates(
    expr: &CronExpr,
    _day_or: bool,
    _zone: &Zone,
    _start: i64,
    _end: Option<i64>,
    _n: usize,
) -> Result<Vec<i64>, ScheduleError> {
    Err(ScheduleError::InvalidCron {
        expr: expr.source.clone(),
        reason: "engine missing".into(),
    })
}
