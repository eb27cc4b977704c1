//! What `prefab deploy` and `prefab plan` print: tables for people, each deployment's next
//! runs (computed by prefab-schemas from the schedules `apply` sends), and the `--output json`
//! document.

use clap::ValueEnum;
use prefab_core::deployment::{
    ApplyOptions, DeploymentSchedule, RunnerDeployment, schedule_from_apply_arg,
};
use serde_json::{Value, json};

/// Output formats of `deploy` and `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Output {
    /// Tables for people (and a progress bar on a terminal).
    #[default]
    Text,
    /// One JSON document on stdout (shape in the README).
    Json,
}

/// How many next runs are shown per deployment.
pub(crate) const NEXT_RUNS: usize = 3;

/// A deployment's next runs, or why there are none.
pub(crate) struct NextRuns {
    /// The dates, RFC 3339 in each schedule's time zone, earliest first.
    pub dates: Vec<String>,
    /// Why `dates` is empty (`no schedule`, `no active schedule`, `paused`), or an error.
    pub note: Option<String>,
}

/// The next [`NEXT_RUNS`] runs of `d` as applied with `options`: the active schedules that
/// `apply` sends (the `apply.schedules` argument replaces the deployment's), merged.
pub(crate) fn next_runs(d: &RunnerDeployment, options: &ApplyOptions) -> NextRuns {
    let none = |note: &str| NextRuns {
        dates: Vec::new(),
        note: Some(note.to_owned()),
    };
    let schedules: Vec<DeploymentSchedule> = if options.schedules.is_empty() {
        d.schedules.clone().unwrap_or_default()
    } else {
        match options
            .schedules
            .iter()
            .map(schedule_from_apply_arg)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(list) => list,
            Err(e) => return none(&format!("schedules: {e}")),
        }
    };
    if schedules.is_empty() {
        return none("no schedule");
    }
    if d.paused == Some(true) {
        return none("paused");
    }
    let mut dates = Vec::new();
    for s in schedules.iter().filter(|s| s.active) {
        let Some(schedule) = &s.schedule else {
            continue;
        };
        match schedule.dates(Some(NEXT_RUNS), None, None) {
            Ok(list) => dates.extend(list),
            Err(e) => return none(&format!("schedule: {e}")),
        }
    }
    if dates.is_empty() && !schedules.iter().any(|s| s.active) {
        return none("no active schedule");
    }
    dates.sort_by_key(|t| t.timestamp());
    dates.dedup_by_key(|t| t.timestamp());
    dates.truncate(NEXT_RUNS);
    let note = dates.is_empty().then(|| "no future runs".to_owned());
    NextRuns {
        dates: dates.iter().map(ToString::to_string).collect(),
        note,
    }
}

impl NextRuns {
    /// The dates, or the note, in one line.
    pub(crate) fn to_text(&self) -> String {
        if self.dates.is_empty() {
            self.note.clone().unwrap_or_default()
        } else {
            self.dates.join("  ")
        }
    }

    /// The JSON value: a list of dates (empty when there are none).
    pub(crate) fn to_json(&self) -> Value {
        json!(self.dates)
    }
}

/// A plain text table: a header row, then rows; every column but the last padded.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// `v` as compact JSON (a string without quotes), cut to `max` characters with `…`.
pub(crate) fn abbreviate(v: &Value, max: usize) -> String {
    let text = match v {
        Value::String(s) => s.replace('\n', "\\n"),
        other => other.to_string(),
    };
    if text.chars().count() <= max {
        text
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// The next-runs table (`DEPLOYMENT`, `NEXT RUNS`) of the deployments that have next runs,
/// after a blank line; nothing when none has.
pub(crate) fn print_next_runs<'a>(rows: impl Iterator<Item = (&'a str, Option<&'a NextRuns>)>) {
    let next: Vec<Vec<String>> = rows
        .filter_map(|(deployment, next)| next.map(|n| vec![deployment.to_owned(), n.to_text()]))
        .collect();
    if !next.is_empty() {
        println!();
        print!("{}", table(&["DEPLOYMENT", "NEXT RUNS"], &next));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_all_but_the_last_column() {
        let t = table(
            &["a", "bb", "c"],
            &[vec!["xyz".into(), "1".into(), "long text".into()]],
        );
        assert_eq!(t, "a    bb  c\nxyz  1   long text\n");
    }

    #[test]
    fn abbreviation_marks_the_cut() {
        assert_eq!(abbreviate(&json!("abcdef"), 4), "abc…");
        assert_eq!(abbreviate(&json!([1, 2]), 10), "[1,2]");
    }
}
