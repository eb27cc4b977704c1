//! Wire forms (work in progress on the main branch).

/// A cron schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule;
/// An rrule schedule.
#[derive(Debug, Clone)]
pub struct RRuleSchedule;
/// A schedule.
#[derive(Debug, Clone)]
pub enum Schedule {}
/// Create.
#[derive(Debug, Clone)]
pub struct DeploymentScheduleCreate;
/// Update.
#[derive(Debug, Clone)]
pub struct DeploymentScheduleUpdate;
