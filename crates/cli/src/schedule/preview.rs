//! `prefab schedule preview`: a schedule's next run dates as a table (or JSON), marking the
//! dates that follow a daylight-saving change.

use std::fmt::Write as _;
use std::str::FromStr;

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use prefab_schemas::schedules::{
    CronSchedule, IntervalSchedule, RRuleSchedule, Schedule, ScheduledTime, parse_timestamp,
};
use serde_json::json;

use super::{Output, PreviewArgs};
use crate::Failure;

/// How many dates a preview shows when `-n` is not given.
const DEFAULT_COUNT: usize = 10;

pub(crate) fn run(args: &PreviewArgs) -> Result<(), Failure> {
    let start = match &args.start {
        Some(s) => parse_timestamp(s).map_err(|e| Failure::Input(format!("--start: {e}")))?,
        None => Timestamp::now(),
    };
    let end = match &args.end {
        Some(s) => Some(parse_timestamp(s).map_err(|e| Failure::Input(format!("--end: {e}")))?),
        None => None,
    };
    if let Some(end) = end.filter(|end| *end < start) {
        return Err(Failure::Input(format!(
            "--end ({end}) is before --start ({start}): no date can lie between them"
        )));
    }
    let schedule = build_schedule(args, start)?;
    let n = args.n.or(if end.is_some() {
        None
    } else {
        Some(DEFAULT_COUNT)
    });
    let dates = schedule
        .dates(n, Some(start), end)
        .map_err(|e| Failure::Input(e.to_string()))?;
    let tz = match schedule.timezone() {
        Some(name) if !name.is_empty() => TimeZone::get(name).unwrap_or(TimeZone::UTC),
        _ => TimeZone::UTC,
    };
    let rows = annotate(&tz, start, &dates);
    match args.output {
        Output::Json => {
            let body = json!({
                "schedule": schedule,
                "start": start.to_string(),
                "end": end.map(|e| e.to_string()),
                "dates": rows.iter().map(|r| json!({
                    "date": r.date.to_string(),
                    "utc": r.date.timestamp().to_string(),
                    "offset": offset_text(r.date.offset()),
                    "dst_change": r.change.map(|c| json!({
                        "at": c.at.to_string(),
                        "from": offset_text(c.before),
                        "to": offset_text(c.after),
                    })),
                })).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&body).map_err(|e| Failure::Run(e.to_string()))?
            );
        }
        Output::Table => print!("{}", table(&schedule, &tz, start, &rows)),
    }
    Ok(())
}

fn build_schedule(args: &PreviewArgs, start: Timestamp) -> Result<Schedule, Failure> {
    let bad = |flag: &str, e: &dyn std::fmt::Display| Failure::Input(format!("{flag}: {e}"));
    if args.day_or.is_some() && args.cron.is_none() && args.json.is_none() {
        return Err(Failure::Input(
            "--day-or applies to cron schedules only (give --cron)".into(),
        ));
    }
    if args.anchor.is_some() && args.interval.is_none() {
        return Err(Failure::Input(
            "--anchor applies to interval schedules only (give --interval)".into(),
        ));
    }
    if let Some(json) = &args.json {
        if args.timezone.is_some() || args.day_or.is_some() {
            return Err(Failure::Input(
                "--json carries the whole schedule: put timezone/day_or inside the JSON".into(),
            ));
        }
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| bad("--json", &e))?;
        return Schedule::from_json(&value).map_err(|e| bad("--json", &e));
    }
    if let Some(cron) = &args.cron {
        let mut s = CronSchedule::new(cron)
            .map_err(|e| bad("--cron", &e))?
            .with_day_or(args.day_or.unwrap_or(true));
        if let Some(tz) = &args.timezone {
            s = s.with_timezone(tz).map_err(|e| bad("--timezone", &e))?;
        }
        return Ok(s.into());
    }
    if let Some(rule) = &args.rrule {
        // Let "\n" typed in a shell argument separate lines, as in Prefect's YAML.
        let rule = rule.replace("\\n", "\n");
        let s = RRuleSchedule::new(&rule).map_err(|e| bad("--rrule", &e))?;
        let tz = args.timezone.as_deref().unwrap_or("UTC");
        return Ok(s
            .with_timezone(tz)
            .map_err(|e| bad("--timezone", &e))?
            .into());
    }
    let interval = args.interval.as_deref().unwrap_or_default();
    let every = parse_interval(interval).map_err(|e| bad("--interval", &e))?;
    let anchor = match &args.anchor {
        Some(a) => parse_timestamp(a).map_err(|e| bad("--anchor", &e))?,
        None => start,
    };
    let anchor = anchor.to_zoned_datetime(TimeZone::UTC);
    let tz = args.timezone.as_deref();
    Ok(IntervalSchedule::new(every, &anchor, tz.or(Some("UTC")))
        .map_err(|e| match e {
            prefab_schemas::ScheduleError::InvalidTimezone { .. } => bad("--timezone", &e),
            _ => bad("--interval", &e),
        })?
        .into())
}

/// Seconds, an ISO 8601 duration, or jiff's friendly format ("1h 30m", "15m").
fn parse_interval(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return SignedDuration::try_from_secs_f64(secs).map_err(|e| e.to_string());
    }
    if let Ok(d) = SignedDuration::from_str(text) {
        return Ok(d);
    }
    // Days and weeks (a Span) count as 24 hours each, as Prefect's timedelta does.
    jiff::Span::from_str(text)
        .ok()
        .and_then(|span| {
            span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .ok()
        })
        .ok_or_else(|| {
            format!(
                "{text:?} is not a duration: give seconds (900), ISO 8601 (PT15M) or friendly \
                 (15m, 1h 30m, 1d)"
            )
        })
}

/// A daylight-saving (or other offset) change between two dates.
#[derive(Clone, Copy)]
struct Change {
    at: Timestamp,
    before: Offset,
    after: Offset,
}

struct Row {
    date: ScheduledTime,
    change: Option<Change>,
}

/// Marks each date that follows an offset change (since the previous date, or since `start`).
///
/// Rows are listed in time order. (Prefect's own `get_dates` sorts by wall clock, which lists
/// the second pass through a repeated hour first; the library keeps that order, a person
/// reading a table wants chronology.)
fn annotate(tz: &TimeZone, start: Timestamp, dates: &[ScheduledTime]) -> Vec<Row> {
    let mut previous = start;
    let mut dates = dates.to_vec();
    dates.sort_by_key(ScheduledTime::timestamp);
    dates
        .into_iter()
        .map(|date| {
            let ts = date.timestamp();
            let change = tz
                .following(previous)
                .next()
                .filter(|t| t.timestamp() <= ts)
                .map(|t| Change {
                    at: t.timestamp(),
                    before: tz.to_offset(t.timestamp() - SignedDuration::from_secs(1)),
                    after: t.offset(),
                });
            previous = ts;
            Row { date, change }
        })
        .collect()
}

fn table(schedule: &Schedule, tz: &TimeZone, start: Timestamp, rows: &[Row]) -> String {
    let zone_name = tz.iana_name().unwrap_or("UTC");
    let mut out = String::new();
    let what = match schedule {
        Schedule::Cron(c) => format!("cron {:?} (day_or: {})", c.cron(), c.day_or()),
        Schedule::Interval(i) => {
            format!("every {:#} from {}", i.interval(), i.anchor_date())
        }
        Schedule::RRule(r) => format!("rrule {:?}", r.rrule()),
        _ => schedule.kind().to_owned(),
    };
    let _ = writeln!(out, "{what} in {zone_name}");
    let _ = writeln!(
        out,
        "{} date{} from {}\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        start
            .to_zoned_datetime(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S %:z")
    );
    if rows.is_empty() {
        out.push_str("  (no dates: the schedule has no run in this range)\n");
        return out;
    }
    let local_header = format!("local time ({zone_name})");
    let width = local_header.len().max(23);
    let _ = writeln!(
        out,
        "  {:>3}  {:<width$}  {:<6}  UTC",
        "#", local_header, "offset"
    );
    for (i, row) in rows.iter().enumerate() {
        let local = row
            .date
            .datetime()
            .strftime("%Y-%m-%d %a %H:%M:%S")
            .to_string();
        let utc = row
            .date
            .timestamp()
            .strftime("%Y-%m-%d %H:%M:%SZ")
            .to_string();
        let _ = write!(
            out,
            "  {:>3}  {:<width$}  {:<6}  {utc}",
            i + 1,
            local,
            offset_text(row.date.offset()),
        );
        if let Some(c) = row.change {
            let shift = c.after.seconds() - c.before.seconds();
            let direction = if shift > 0 { "forward" } else { "back" };
            let local_at =
                (c.at.to_zoned_datetime(TimeZone::fixed(c.before))).strftime("%Y-%m-%d %H:%M");
            let _ = write!(
                out,
                "  <- clocks went {direction} {} at {local_at} ({} -> {})",
                human(shift.unsigned_abs()),
                offset_text(c.before),
                offset_text(c.after)
            );
        }
        out.push('\n');
    }
    out
}

/// `±HH:MM` (with `:SS` when the offset has seconds).
fn offset_text(offset: Offset) -> String {
    let s = offset.seconds();
    let sign = if s < 0 { '-' } else { '+' };
    let a = s.unsigned_abs();
    let mut text = format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
    if !a.is_multiple_of(60) {
        let _ = write!(text, ":{:02}", a % 60);
    }
    text
}

fn human(seconds: u32) -> String {
    match (seconds / 3600, seconds / 60 % 60) {
        (h, 0) => format!("{h}h"),
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}
