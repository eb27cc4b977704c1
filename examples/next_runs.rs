//! Print the next runs of a few deployment schedules, the way Prefect's scheduler would create
//! them: `cargo run --example next_runs`.

use prefab::schemas::schedules::{Schedule, parse_timestamp};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Schedule bodies exactly as they appear in a Prefect deployment (wire JSON).
    let bodies = [
        json!({"cron": "0 9 * * mon-fri", "timezone": "Europe/London"}),
        json!({"interval": 86400, "anchor_date": "2026-03-07T02:30:00-05:00", "timezone": "America/New_York"}),
        json!({"rrule": "DTSTART:20260101T060000\nRRULE:FREQ=MONTHLY;BYDAY=-1FR", "timezone": "Asia/Kolkata"}),
    ];
    let start = parse_timestamp("2026-03-06T00:00:00Z")?;
    for body in &bodies {
        let schedule = Schedule::from_json(body)?;
        println!("{}", serde_json::to_string(&schedule)?);
        for date in schedule.dates(Some(3), Some(start), None)? {
            println!("  {date}");
        }
    }
    Ok(())
}
