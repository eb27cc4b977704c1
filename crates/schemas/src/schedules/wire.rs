//! The three schedule bodies and the deployment-schedule wrappers, with Prefect's wire JSON and
//! validation.
//!
//! Deserializing validates exactly as Prefect's server models do (pydantic, `extra="forbid"`),
//! so a value of these types is always a schedule Prefect would store; serializing writes the
//! normalised form Prefect stores (interval as float seconds, inferred time zone, UTC as `Z`).

use std::fmt;

use jiff::{SignedDuration, Timestamp, ZonedDateTime};
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::schedules::cron::{self, CronExpr};
use crate::schedules::interval::{interval_dates, seconds_to_micros};
use crate::schedules::rrule::{self, RRuleSet};
use crate::schedules::zone::{FIRST_INSTANT, MICROS, Zone};
use crate::schedules::{ScheduleError, ScheduledTime, default_n, now_micros, write_rfc3339};

// ---------------------------------------------------------------------------------------------
// Interval

/// A schedule that fires every `interval`, counted from `anchor_date`.
///
/// Sub-day intervals keep exact spacing in UTC; intervals of whole days keep the local wall-clock
/// time across daylight-saving changes (Prefect's rules, spec schedules.md §4).
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalSchedule {
    interval: i64,
    anchor: i64,
    anchor_offset: i32,
    timezone: String,
    zone: Zone,
}

impl IntervalSchedule {
    /// An interval schedule anchored at `anchor_date`. Without `timezone`, the time zone is the
    /// anchor's IANA zone, or `UTC` when the anchor only has a fixed offset (Prefect's
    /// inference).
    pub fn new(
        interval: SignedDuration,
        anchor_date: &ZonedDateTime,
        timezone: Option<&str>,
    ) -> Result<IntervalSchedule, ScheduleError> {
        let micros = interval.as_micros();
        let micros = i64::try_from(micros).map_err(|_| ScheduleError::InvalidInterval {
            value: format!("{interval:#}"),
            reason: "the interval is too large".into(),
        })?;
        let anchor_offset = anchor_date.offset().seconds();
        let inferred;
        let timezone = match timezone {
            Some(tz) => tz,
            None => {
                inferred = anchor_date
                    .time_zone()
                    .iana_name()
                    .unwrap_or("UTC")
                    .to_owned();
                &inferred
            }
        };
        IntervalSchedule::from_parts(
            micros,
            anchor_date.timestamp().as_microsecond(),
            anchor_offset,
            timezone,
            &format!("{interval:#}"),
        )
    }

    fn from_parts(
        interval: i64,
        anchor: i64,
        anchor_offset: i32,
        timezone: &str,
        shown: &str,
    ) -> Result<IntervalSchedule, ScheduleError> {
        if interval <= 0 {
            return Err(ScheduleError::InvalidInterval {
                value: shown.to_owned(),
                reason: "the interval must be positive (give seconds > 0 or an ISO 8601 duration \
                         such as PT15M)"
                    .into(),
            });
        }
        let zone = Zone::get(timezone)?;
        Ok(IntervalSchedule {
            interval,
            anchor,
            anchor_offset,
            timezone: timezone.to_owned(),
            zone,
        })
    }

    /// The interval.
    pub fn interval(&self) -> SignedDuration {
        SignedDuration::from_micros(self.interval)
    }

    /// The anchor date, with the UTC offset it was given in.
    pub fn anchor_date(&self) -> ScheduledTime {
        ScheduledTime::from_parts(self.anchor, i64::from(self.anchor_offset) * MICROS)
    }

    /// The schedule's time zone (given, or inferred from the anchor).
    pub fn timezone(&self) -> &str {
        &self.timezone
    }

    /// Run dates per Prefect's `get_dates(n, start, end)`; see [`Schedule::dates`].
    pub fn dates(
        &self,
        n: Option<usize>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Result<Vec<ScheduledTime>, ScheduleError> {
        let (start, end) = bounds(start, end);
        let instants = interval_dates(
            self.interval,
            self.anchor,
            &self.zone,
            start,
            end,
            default_n_for(n, end),
        );
        Ok(render(&self.zone, instants))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntervalWire {
    interval: Value,
    #[serde(default)]
    anchor_date: Option<Value>,
    #[serde(default)]
    timezone: Option<String>,
}

impl TryFrom<IntervalWire> for IntervalSchedule {
    type Error = ScheduleError;

    fn try_from(wire: IntervalWire) -> Result<Self, ScheduleError> {
        let interval = parse_interval(&wire.interval)?;
        let (anchor, anchor_offset) = match &wire.anchor_date {
            None | Some(Value::Null) => (now_micros(), 0),
            Some(v) => parse_anchor(v)?,
        };
        // An anchor parsed from JSON carries a fixed offset, never a zone: Prefect infers "UTC".
        let timezone = wire.timezone.as_deref().unwrap_or("UTC");
        IntervalSchedule::from_parts(
            interval,
            anchor,
            anchor_offset,
            timezone,
            &wire.interval.to_string(),
        )
    }
}

impl<'de> Deserialize<'de> for IntervalSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IntervalWire::deserialize(d)?
            .try_into()
            .map_err(D::Error::custom)
    }
}

impl Serialize for IntervalSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("interval", &(self.interval as f64 / MICROS as f64))?;
        map.serialize_entry("anchor_date", &AnchorJson(self.anchor, self.anchor_offset))?;
        map.serialize_entry("timezone", &self.timezone)?;
        map.end()
    }
}

/// An anchor as pydantic writes it: RFC 3339, `Z` for UTC.
struct AnchorJson(i64, i32);

impl fmt::Display for AnchorJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 == 0 {
            let mut s = String::new();
            write_rfc3339(&mut s, self.0, 0)?;
            f.write_str(s.trim_end_matches("+00:00"))?;
            f.write_str("Z")
        } else {
            write_rfc3339(f, self.0, self.1)
        }
    }
}

impl Serialize for AnchorJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An interval as pydantic's `timedelta` accepts it: a number of seconds, or an ISO 8601
/// duration string.
fn parse_interval(v: &Value) -> Result<i64, ScheduleError> {
    let bad = |reason: &str| ScheduleError::InvalidInterval {
        value: v.to_string(),
        reason: reason.to_owned(),
    };
    match v {
        Value::Number(n) => {
            let secs = n.as_f64().ok_or_else(|| bad("not a number of seconds"))?;
            seconds_to_micros(secs).ok_or_else(|| bad("the interval is out of range"))
        }
        Value::String(s) => {
            if let Ok(secs) = s.trim().parse::<f64>() {
                return seconds_to_micros(secs).ok_or_else(|| bad("the interval is out of range"));
            }
            parse_iso_duration(s).ok_or_else(|| {
                bad("expected a number of seconds or an ISO 8601 duration such as PT15M or P1D")
            })
        }
        _ => Err(bad(
            "expected a number of seconds or an ISO 8601 duration such as PT15M",
        )),
    }
}

/// `[-]P[nY][nM][nW][nD][T[nH][nM][nS]]`, years as 365 days and months as 30 (pydantic's
/// reading), fractions allowed.
pub(crate) fn parse_iso_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let s = s.strip_prefix(['P', 'p'])?;
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        match c {
            'T' | 't' if !in_time && num.is_empty() => in_time = true,
            '0'..='9' | '.' | ',' => num.push(if c == ',' { '.' } else { c }),
            _ => {
                let value: f64 = num.parse().ok()?;
                num.clear();
                let unit = match (in_time, c.to_ascii_uppercase()) {
                    (false, 'Y') => 365.0 * 86_400.0,
                    (false, 'M') => 30.0 * 86_400.0,
                    (false, 'W') => 7.0 * 86_400.0,
                    (false, 'D') => 86_400.0,
                    (true, 'H') => 3600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return None,
                };
                total += value * unit;
                any = true;
            }
        }
    }
    if !num.is_empty() || !any {
        return None;
    }
    seconds_to_micros(if neg { -total } else { total })
}

/// An anchor date as pendulum parses it: RFC 3339 / ISO 8601; without an offset it is UTC.
/// Returns (instant µs, offset s).
fn parse_anchor(v: &Value) -> Result<(i64, i32), ScheduleError> {
    let text = match v {
        Value::String(s) => s.as_str(),
        Value::Number(n) => {
            // pydantic reads numbers as Unix seconds (milliseconds when implausibly large).
            let bad = || ScheduleError::InvalidAnchorDate {
                value: v.to_string(),
                reason: "out of range".into(),
            };
            let x = n.as_f64().ok_or_else(bad)?;
            let secs = if x.abs() > 2e10 { x / 1000.0 } else { x };
            return Ok((seconds_to_micros(secs).ok_or_else(bad)?, 0));
        }
        _ => {
            return Err(ScheduleError::InvalidAnchorDate {
                value: v.to_string(),
                reason: "not a string".into(),
            });
        }
    };
    parse_datetime(text).map_err(|reason| ScheduleError::InvalidAnchorDate {
        value: text.to_owned(),
        reason,
    })
}

/// Parses an ISO 8601 date-time, with `T` or a space, optional fraction and optional offset (a
/// missing offset means UTC, as in Prefect), or a bare date (midnight UTC).
pub(crate) fn parse_datetime(text: &str) -> Result<(i64, i32), String> {
    use jiff::fmt::temporal::PiecesOffset;
    let pieces = jiff::fmt::temporal::Pieces::parse(text.trim()).map_err(|e| e.to_string())?;
    let date = pieces.date();
    let time = pieces.time().unwrap_or_default();
    let civil = date.to_datetime(time);
    let offset = match pieces.offset() {
        Some(PiecesOffset::Numeric(n)) => n.offset(),
        _ => jiff::tz::Offset::UTC,
    };
    let ts = offset.to_timestamp(civil).map_err(|_| {
        if civil.year() > 0 {
            "it lies after 9999-12-30T22:00:00Z, the last instant a schedule date can have \
             (jiff's Timestamp::MAX; docs/deviations.md S8)"
                .to_owned()
        } else {
            "it lies before the first instant jiff can represent".to_owned()
        }
    })?;
    Ok((ts.as_microsecond(), offset.seconds()))
}

// ---------------------------------------------------------------------------------------------
// Cron

/// A schedule given by a cron expression in croniter's dialect (Prefect's), evaluated on the
/// wall clock of `timezone` (UTC when it has none).
#[derive(Clone, Debug, PartialEq)]
pub struct CronSchedule {
    expr: CronExpr,
    timezone: Option<String>,
    day_or: bool,
    zone: Zone,
}

impl CronSchedule {
    /// A cron schedule in UTC with `day_or` on (Prefect's defaults).
    pub fn new(cron: &str) -> Result<CronSchedule, ScheduleError> {
        Ok(CronSchedule {
            expr: CronExpr::parse(cron)?,
            timezone: None,
            day_or: true,
            zone: Zone::utc(),
        })
    }

    /// Sets the time zone (an IANA name; `""` is accepted and means UTC, as in Prefect).
    pub fn with_timezone(mut self, timezone: &str) -> Result<CronSchedule, ScheduleError> {
        self.zone = Zone::get(timezone)?;
        self.timezone = Some(timezone.to_owned());
        Ok(self)
    }

    /// Sets how day-of-month and day-of-week combine when both are restricted: `true` (the
    /// default, classic cron) fires when either matches, `false` only when both match.
    pub fn with_day_or(mut self, day_or: bool) -> CronSchedule {
        self.day_or = day_or;
        self
    }

    /// The expression as given.
    pub fn cron(&self) -> &str {
        self.expr.as_str()
    }

    /// The parsed expression.
    pub fn expr(&self) -> &CronExpr {
        &self.expr
    }

    /// The time zone, if one was given.
    pub fn timezone(&self) -> Option<&str> {
        self.timezone.as_deref()
    }

    /// Whether day-of-month and day-of-week are OR-ed.
    pub fn day_or(&self) -> bool {
        self.day_or
    }

    /// Run dates per Prefect's `get_dates(n, start, end)`; see [`Schedule::dates`].
    pub fn dates(
        &self,
        n: Option<usize>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Result<Vec<ScheduledTime>, ScheduleError> {
        let (start, end) = bounds(start, end);
        let instants = cron::cron_dates(
            &self.expr,
            self.day_or,
            &self.zone,
            start,
            end,
            default_n_for(n, end),
        )?;
        Ok(render(&self.zone, instants))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CronWire {
    cron: String,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default = "yes")]
    day_or: bool,
}

fn yes() -> bool {
    true
}

impl TryFrom<CronWire> for CronSchedule {
    type Error = ScheduleError;

    fn try_from(wire: CronWire) -> Result<Self, ScheduleError> {
        let schedule = CronSchedule::new(&wire.cron)?.with_day_or(wire.day_or);
        match &wire.timezone {
            Some(tz) => schedule.with_timezone(tz),
            None => Ok(schedule),
        }
    }
}

impl<'de> Deserialize<'de> for CronSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CronWire::deserialize(d)?
            .try_into()
            .map_err(D::Error::custom)
    }
}

impl Serialize for CronSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("cron", self.cron())?;
        map.serialize_entry("timezone", &self.timezone)?;
        map.serialize_entry("day_or", &self.day_or)?;
        map.end()
    }
}

// ---------------------------------------------------------------------------------------------
// RRule

/// A schedule given by an RFC 5545 recurrence rule (as python-dateutil reads it), evaluated on
/// the wall clock of `timezone`.
#[derive(Clone, Debug, PartialEq)]
pub struct RRuleSchedule {
    set: RRuleSet,
    timezone: String,
    zone: Zone,
}

impl RRuleSchedule {
    /// An rrule schedule in UTC. A rule without DTSTART starts at 2020-01-01T00:00 in the
    /// schedule's time zone, as in Prefect.
    pub fn new(rrule: &str) -> Result<RRuleSchedule, ScheduleError> {
        Ok(RRuleSchedule {
            set: RRuleSet::parse(rrule)?,
            timezone: "UTC".to_owned(),
            zone: Zone::utc(),
        })
    }

    /// Sets the time zone (an IANA name). DTSTART, UNTIL, RDATE and EXDATE are read as wall
    /// times in this zone, whatever TZID or `Z` they carry (Prefect's relabelling).
    pub fn with_timezone(mut self, timezone: &str) -> Result<RRuleSchedule, ScheduleError> {
        // Prefect accepts "" here only by accident of an unanchored pattern; it then fails to
        // compute dates. We refuse it up front (docs/deviations.md).
        if timezone.is_empty() {
            return Err(ScheduleError::InvalidTimezone {
                value: String::new(),
            });
        }
        self.zone = Zone::get(timezone)?;
        self.timezone = timezone.to_owned();
        Ok(self)
    }

    /// The rule as given.
    pub fn rrule(&self) -> &str {
        self.set.as_str()
    }

    /// The parsed rule set.
    pub fn rule_set(&self) -> &RRuleSet {
        &self.set
    }

    /// The time zone.
    pub fn timezone(&self) -> &str {
        &self.timezone
    }

    /// Run dates per Prefect's `get_dates(n, start, end)`; see [`Schedule::dates`].
    pub fn dates(
        &self,
        n: Option<usize>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Result<Vec<ScheduledTime>, ScheduleError> {
        let (start, end) = bounds(start, end);
        let instants =
            rrule::rrule_dates(&self.set, &self.zone, start, end, default_n_for(n, end))?;
        Ok(render(&self.zone, instants))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RRuleWire {
    rrule: String,
    #[serde(default)]
    timezone: Option<String>,
}

impl TryFrom<RRuleWire> for RRuleSchedule {
    type Error = ScheduleError;

    fn try_from(wire: RRuleWire) -> Result<Self, ScheduleError> {
        RRuleSchedule::new(&wire.rrule)?.with_timezone(wire.timezone.as_deref().unwrap_or("UTC"))
    }
}

impl<'de> Deserialize<'de> for RRuleSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RRuleWire::deserialize(d)?
            .try_into()
            .map_err(D::Error::custom)
    }
}

impl Serialize for RRuleSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("rrule", self.rrule())?;
        map.serialize_entry("timezone", &self.timezone)?;
        map.end()
    }
}

// ---------------------------------------------------------------------------------------------
// Schedule

/// Any of Prefect's three schedule kinds. On the wire they are told apart by their keys:
/// `interval`, `cron` or `rrule`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Schedule {
    /// Every fixed interval from an anchor.
    Interval(IntervalSchedule),
    /// A cron expression.
    Cron(CronSchedule),
    /// An RFC 5545 recurrence rule.
    RRule(RRuleSchedule),
}

impl Schedule {
    /// Parses and validates a schedule body from Prefect's wire JSON.
    pub fn from_json(value: &Value) -> Result<Schedule, ScheduleError> {
        let Value::Object(map) = value else {
            return Err(ScheduleError::InvalidSchedule {
                reason: format!(
                    "expected a JSON object with an interval, cron or rrule key, got {value}"
                ),
            });
        };
        let kinds: Vec<&str> = ["interval", "cron", "rrule"]
            .into_iter()
            .filter(|k| map.contains_key(*k))
            .collect();
        let invalid = |e: serde_json::Error| ScheduleError::InvalidSchedule {
            reason: e.to_string(),
        };
        match kinds.as_slice() {
            ["interval"] => IntervalWire::deserialize(value)
                .map_err(invalid)?
                .try_into()
                .map(Schedule::Interval),
            ["cron"] => CronWire::deserialize(value)
                .map_err(invalid)?
                .try_into()
                .map(Schedule::Cron),
            ["rrule"] => RRuleWire::deserialize(value)
                .map_err(invalid)?
                .try_into()
                .map(Schedule::RRule),
            [] => Err(ScheduleError::InvalidSchedule {
                reason: "a schedule needs exactly one of the keys interval, cron or rrule".into(),
            }),
            _ => Err(ScheduleError::InvalidSchedule {
                reason: format!(
                    "only one schedule type can be given at a time, found {}",
                    kinds.join(" and ")
                ),
            }),
        }
    }

    /// The schedule's run dates, per Prefect's `get_dates(n, start, end)`:
    ///
    /// * `start` (inclusive) defaults to now; `end` (inclusive) is optional;
    /// * `n` defaults to 1 without `end`, to [`MAX_ITERATIONS`](super::MAX_ITERATIONS) with it;
    /// * about 1000 candidates are examined at most, so no call returns more than ~1000 dates;
    /// * dates are sorted and expressed in the schedule's time zone (UTC when it has none).
    pub fn dates(
        &self,
        n: Option<usize>,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Result<Vec<ScheduledTime>, ScheduleError> {
        match self {
            Schedule::Interval(s) => s.dates(n, start, end),
            Schedule::Cron(s) => s.dates(n, start, end),
            Schedule::RRule(s) => s.dates(n, start, end),
        }
    }

    /// The schedule's time zone name (`None` for a cron schedule without one).
    pub fn timezone(&self) -> Option<&str> {
        match self {
            Schedule::Interval(s) => Some(s.timezone()),
            Schedule::Cron(s) => s.timezone(),
            Schedule::RRule(s) => Some(s.timezone()),
        }
    }

    /// The kind's name: `interval`, `cron` or `rrule`.
    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::Interval(_) => "interval",
            Schedule::Cron(_) => "cron",
            Schedule::RRule(_) => "rrule",
        }
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Schedule::from_json(&value).map_err(D::Error::custom)
    }
}

impl From<IntervalSchedule> for Schedule {
    fn from(s: IntervalSchedule) -> Self {
        Schedule::Interval(s)
    }
}
impl From<CronSchedule> for Schedule {
    fn from(s: CronSchedule) -> Self {
        Schedule::Cron(s)
    }
}
impl From<RRuleSchedule> for Schedule {
    fn from(s: RRuleSchedule) -> Self {
        Schedule::RRule(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Deployment schedule wrappers

/// A schedule attached to a deployment, as sent when creating one (`DeploymentScheduleCreate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeploymentScheduleCreate {
    /// The schedule.
    pub schedule: Schedule,
    /// Whether the schedule is active (default `true`).
    #[serde(default = "yes")]
    pub active: bool,
    /// The maximum number of scheduled runs for this schedule (positive).
    #[serde(default)]
    pub max_scheduled_runs: Option<u32>,
    /// Parameter overrides for runs of this schedule.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// A unique identifier for the schedule within the deployment.
    #[serde(default)]
    pub slug: Option<String>,
    /// The slug of an existing schedule this one replaces (renaming slugs).
    #[serde(default)]
    pub replaces: Option<String>,
}

impl DeploymentScheduleCreate {
    /// An active schedule with no overrides.
    pub fn new(schedule: impl Into<Schedule>) -> DeploymentScheduleCreate {
        DeploymentScheduleCreate {
            schedule: schedule.into(),
            active: true,
            max_scheduled_runs: None,
            parameters: Map::new(),
            slug: None,
            replaces: None,
        }
    }
}

/// A change to a deployment's schedule (`DeploymentScheduleUpdate`): every field optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeploymentScheduleUpdate {
    /// The new schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Whether the schedule is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The maximum number of scheduled runs for this schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scheduled_runs: Option<u32>,
    /// Parameter overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    /// The slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// The slug of an existing schedule this one replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing

/// `start` (default now) and `end` in µs. A start before 0001-01-01T00:00Z, which Prefect
/// cannot take, is raised to it: no date before Python's first year is computed.
fn bounds(start: Option<Timestamp>, end: Option<Timestamp>) -> (i64, Option<i64>) {
    let start = start
        .map_or_else(now_micros, |t| t.as_microsecond())
        .max(FIRST_INSTANT);
    (start, end.map(|t| t.as_microsecond()))
}

fn default_n_for(n: Option<usize>, end: Option<i64>) -> usize {
    default_n(n, end)
}

/// Instants → dates in the zone, sorted the way Python sorts datetimes that share a tzinfo
/// (by wall clock), which is the instant order except around folds.
fn render(zone: &Zone, instants: Vec<i64>) -> Vec<ScheduledTime> {
    let mut out: Vec<ScheduledTime> = instants
        .into_iter()
        .map(|i| ScheduledTime::from_parts(i, zone.offset_at(i)))
        .collect();
    let wall = |d: &ScheduledTime| d.as_microsecond() + i64::from(d.offset_seconds()) * MICROS;
    if !out.is_sorted_by_key(wall) {
        out.sort_by_key(wall);
    }
    out
}
