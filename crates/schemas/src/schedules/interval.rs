//! Interval schedules (work in progress on the main branch).

/// An interval schedule.
#[derive(Debug, Clone)]
pub struct IntervalSchedule;
