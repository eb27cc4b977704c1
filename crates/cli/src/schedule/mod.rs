//! `prefab schedule …`: preview a schedule's run dates, or answer a batch of schedule cases.

mod batch;
mod preview;

use clap::{Args, Subcommand, ValueEnum};

use crate::Failure;

/// `prefab schedule` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleCommand {
    /// Show the next run dates of a schedule, with UTC offsets and daylight-saving changes.
    Preview(PreviewArgs),
    /// Answer schedule cases in bulk: JSON lines in, one JSON line of dates (or error) out.
    Dates(DatesArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// A table for people.
    Table,
    /// JSON for machines.
    Json,
}

/// Arguments of `prefab schedule preview`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["cron", "interval", "rrule", "json"])))]
pub(crate) struct PreviewArgs {
    /// A cron expression in Prefect's (croniter's) dialect, e.g. "*/15 9-17 * * mon-fri".
    #[arg(long)]
    pub cron: Option<String>,
    /// An interval: seconds ("900"), an ISO 8601 duration ("PT15M") or a friendly one ("15m").
    #[arg(long)]
    pub interval: Option<String>,
    /// An RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=MO,WE,FR" (DTSTART and RDATE/EXDATE lines
    /// separated by "\n").
    #[arg(long)]
    pub rrule: Option<String>,
    /// A schedule body as Prefect's JSON, e.g. '{"cron": "0 9 * * *", "timezone": "UTC"}'.
    #[arg(long)]
    pub json: Option<String>,
    /// IANA time zone of the schedule, e.g. America/New_York.
    #[arg(long)]
    pub timezone: Option<String>,
    /// Cron only: fire when day-of-month OR day-of-week matches (true, the default) or only
    /// when both match (false).
    #[arg(long, value_name = "BOOL")]
    pub day_or: Option<bool>,
    /// Interval only: the anchor date (RFC 3339; default: --start, or now).
    #[arg(long, value_name = "DATETIME")]
    pub anchor: Option<String>,
    /// First date to consider, inclusive (RFC 3339; without an offset, UTC; default: now).
    #[arg(long, value_name = "DATETIME")]
    pub start: Option<String>,
    /// Last date to consider, inclusive (RFC 3339).
    #[arg(long, value_name = "DATETIME")]
    pub end: Option<String>,
    /// How many dates to show (default 10; Prefect examines at most ~1000 candidates).
    #[arg(short = 'n', long = "count", value_name = "N")]
    pub n: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// Arguments of `prefab schedule dates`.
#[derive(Debug, Args)]
pub(crate) struct DatesArgs {
    /// A file of JSON lines (`{"id", "schedule", "start", "end", "n"}`), or - for stdin.
    #[arg(long, value_name = "FILE")]
    pub jsonl: String,
}

pub(crate) fn run(cmd: ScheduleCommand) -> Result<(), Failure> {
    match cmd {
        ScheduleCommand::Preview(args) => preview::run(&args),
        ScheduleCommand::Dates(args) => batch::run(&args),
    }
}
