//! The normalised state of a Prefect server and the comparison of two such states: a port of
//! `dump-state` (`normalise_state`) in the prefect.yaml corpus's `record.py` and of its
//! `compare.py` (see `tests/fixtures/prefect-yaml/README.md`).
//!
//! Self-contained on purpose (std and `serde_json` only, HTTP over a plain [`TcpStream`]): the
//! conformance test includes it with `#[path]`, and so can a benchmark or a tool that wants to
//! compare what two clients left on a server.
//!
//! What is *not* ported: the request-log normaliser (`<uuid:N>`, `<ts>`) — the recorded
//! `requests` are secondary evidence, and the harness compares `state` only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// How long one API call may take (record.py's urllib timeout).
pub const API_TIMEOUT: Duration = Duration::from_secs(60);

/// Page size of the `/…/filter` listings (record.py's `filter_all`).
pub const FILTER_PAGE: usize = 200;

/// An interval `anchor_date` this close to the run (either side) reads `"<now>"`.
pub const NOW_WINDOW_SECONDS: f64 = 2.0 * 86_400.0;

// ------------------------------------------------------------------------------------ HTTP

/// A tiny blocking JSON client for the Prefect REST API (record.py's `Api`): one connection per
/// call, `Connection: close`.
#[derive(Debug, Clone)]
pub struct Api {
    /// `host:port`.
    host: String,
    /// The path prefix, `/api`.
    prefix: String,
}

impl Api {
    /// A client for `http://HOST:PORT/api` (what `PREFECT_API_URL` holds).
    pub fn new(api_url: &str) -> Result<Api, String> {
        let rest = api_url
            .strip_prefix("http://")
            .ok_or_else(|| format!("not an http:// URL: {api_url}"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        Ok(Api {
            host: host.to_owned(),
            prefix: format!("/{}", path.trim_end_matches('/')).replace("//", "/"),
        })
    }

    /// The URL it talks to, `http://HOST:PORT/api`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.host, self.prefix.trim_end_matches('/'))
    }

    /// `METHOD path` with an optional JSON body. A status outside 200/201/204 and `allow` is an
    /// error (with the start of the answer); an empty body reads as `null`, a body that is not
    /// JSON as a string.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        allow: &[u16],
    ) -> Result<Value, String> {
        let (status, raw) = self.send(method, path, body)?;
        if !matches!(status, 200 | 201 | 204) && !allow.contains(&status) {
            let head: String = String::from_utf8_lossy(&raw).chars().take(500).collect();
            return Err(format!("{method} {path} -> {status}: {head}"));
        }
        if raw.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned())))
    }

    /// `GET path`; statuses in `allow` are answers too.
    pub fn get(&self, path: &str, allow: &[u16]) -> Result<Value, String> {
        self.call("GET", path, None, allow)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.call("POST", path, Some(body), &[])
    }

    /// `DELETE path`; a 404 is fine (already gone).
    pub fn delete(&self, path: &str) -> Result<Value, String> {
        self.call("DELETE", path, None, &[404])
    }

    /// Every item of a `POST …/filter` listing, paged by [`FILTER_PAGE`]; `extra` is merged
    /// into each page's body.
    pub fn filter_all(&self, path: &str, extra: Option<&Value>) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let mut body = json!({"limit": FILTER_PAGE, "offset": offset});
            if let (Some(Value::Object(extra)), Value::Object(body)) = (extra, &mut body) {
                body.extend(extra.clone());
            }
            let chunk = match self.post(path, &body)? {
                Value::Array(items) => items,
                other => return Err(format!("POST {path}: expected a list, got {other}")),
            };
            let n = chunk.len();
            out.extend(chunk);
            if n < FILTER_PAGE {
                return Ok(out);
            }
            offset += FILTER_PAGE;
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>), String> {
        let what = format!("{method} {}{path}", self.url());
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\
             Connection: close\r\n",
            self.prefix.trim_end_matches('/'),
            self.host
        );
        if body.is_some() {
            let _ = write!(
                request,
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                payload.len()
            );
        } else if matches!(method, "POST" | "PUT" | "PATCH") {
            request.push_str("Content-Length: 0\r\n");
        }
        request.push_str("\r\n");
        request.push_str(&payload);
        let mut stream =
            TcpStream::connect(&self.host).map_err(|e| format!("{what}: connect: {e}"))?;
        stream
            .set_read_timeout(Some(API_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(API_TIMEOUT)))
            .map_err(|e| format!("{what}: {e}"))?;
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("{what}: send: {e}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|e| format!("{what}: read: {e}"))?;
        parse_response(&raw).map_err(|e| format!("{what}: {e}"))
    }
}

/// Status and body of a complete HTTP/1.1 response (`Content-Length`, chunked, or to EOF).
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("malformed HTTP response (no header end)")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let rest = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = rest[at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("truncated chunked body")?;
            let size_text = String::from_utf8_lossy(&rest[at..at + line_end]);
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            at += line_end + 2;
            if size == 0 {
                return Ok((status, body));
            }
            let chunk = rest.get(at..at + size).ok_or("truncated chunk")?;
            body.extend_from_slice(chunk);
            at += size + 2;
        }
    }
    match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => Ok((status, rest.get(..n).ok_or("truncated body")?.to_vec())),
        None => Ok((status, rest.to_vec())),
    }
}

/// One path segment, percent-encoded like Python's `urllib.parse.quote(s, safe='')`.
pub fn quote_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ------------------------------------------------------------------------------------ time

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An ISO 8601 timestamp as Unix seconds, as record.py's `parse_ts` reads it (Python's
/// `datetime.fromisoformat` after `Z` → `+00:00` and ` ` → `T`; naive means UTC). `None` when
/// it is not one.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.replace('Z', "+00:00").replace(' ', "T");
    let (date, time) = match s.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (s.as_str(), None),
    };
    let digits = |t: &str, n: usize| -> Option<i64> {
        (t.len() == n && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let mut parts = date.split('-');
    let (year, month, day) = (
        digits(parts.next()?, 4)?,
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > month_days[usize::try_from(month - 1).ok()?] {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) as f64 * 86_400.0;
    if let Some(time) = time {
        let (clock, offset) = match time.find(['+', '-']) {
            Some(i) => (&time[..i], Some(&time[i..])),
            None => (time, None),
        };
        let (hms, fraction) = match clock.split_once('.') {
            Some((hms, f)) => (hms, Some(f)),
            None => (clock, None),
        };
        let fields: Vec<&str> = hms.split(':').collect();
        if fields.is_empty() || fields.len() > 3 || (fraction.is_some() && fields.len() != 3) {
            return None;
        }
        let hour = digits(fields[0], 2)?;
        let minute = fields.get(1).map_or(Some(0), |m| digits(m, 2))?;
        let second = fields.get(2).map_or(Some(0), |x| digits(x, 2))?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        seconds += (hour * 3600 + minute * 60 + second) as f64;
        if let Some(f) = fraction {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            seconds += format!("0.{f}").parse::<f64>().ok()?;
        }
        if let Some(offset) = offset {
            let sign = if offset.starts_with('-') { -1.0 } else { 1.0 };
            let body = offset[1..].replace(':', "");
            let (h, m) = match body.len() {
                2 => (digits(&body, 2)?, 0),
                4 => (digits(&body[..2], 2)?, digits(&body[2..], 2)?),
                _ => return None,
            };
            seconds -= sign * (h * 3600 + m * 60) as f64;
        }
    }
    Some(seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ------------------------------------------------------------------------------------ normalising

/// Strings as record.py's `Normaliser` in the state mode (`number_uuids=False`,
/// `mask_ts=False`): path replacements (longest first), then every UUID → its name
/// (`<deployment:FLOW/NAME>`, `<flow:NAME>`) or `<uuid>`. Keys are normalised too.
#[derive(Debug, Clone, Default)]
pub struct Normaliser {
    replacements: Vec<(String, String)>,
    named: HashMap<String, String>,
}

impl Normaliser {
    /// `replacements`: (text, marker) pairs; `named`: UUID (any case) → marker.
    pub fn new(mut replacements: Vec<(String, String)>, named: HashMap<String, String>) -> Self {
        // Python's sorted(key=-len) is stable, and so is sort_by_key.
        replacements.sort_by_key(|(old, _)| std::cmp::Reverse(old.chars().count()));
        let named = named
            .into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect();
        Normaliser {
            replacements,
            named,
        }
    }

    /// One string.
    pub fn text(&self, s: &str) -> String {
        let mut s = s.to_owned();
        for (old, new) in &self.replacements {
            if !old.is_empty() {
                s = s.replace(old.as_str(), new);
            }
        }
        replace_uuids(&s, |u| {
            self.named
                .get(&u.to_lowercase())
                .cloned()
                .unwrap_or_else(|| "<uuid>".to_owned())
        })
    }

    /// Every string of a JSON value, keys included.
    pub fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|x| self.value(x)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, x)| (self.text(k), self.value(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Replaces every match of `[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}` (leftmost,
/// non-overlapping, no word boundaries: record.py's `UUID_RE`).
pub fn replace_uuids(s: &str, mut name: impl FnMut(&str) -> String) -> String {
    const SHAPE: &[u8; 36] = b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    let bytes = s.as_bytes();
    let is_uuid = |at: usize| {
        bytes.get(at..at + 36).is_some_and(|w| {
            w.iter().zip(SHAPE).all(|(b, shape)| {
                if *shape == b'-' {
                    *b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            })
        })
    };
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    let mut at = 0;
    while at + 36 <= bytes.len() {
        // A match is ASCII, so it starts and ends on character boundaries.
        if is_uuid(at) {
            out.push_str(&s[copied..at]);
            out.push_str(&name(&s[at..at + 36]));
            at += 36;
            copied = at;
        } else {
            at += 1;
        }
    }
    out.push_str(&s[copied..]);
    out
}

fn strip_keys(v: &Value, keys: &[&str]) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), strip_keys(x, keys)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|x| strip_keys(x, keys)).collect()),
        other => other.clone(),
    }
}

fn without(map: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Automation id (lower case, with dashes) → the resource that owns it, read from the server's
/// SQLite database with `python`'s `sqlite3` module (the REST API does not expose ownership;
/// record.py's `read_owners`). Any python 3 does; the Prefect venv's is always there.
pub fn read_owners(python: &Path, db: &Path) -> Result<BTreeMap<String, String>, String> {
    const SCRIPT: &str = r#"
import json, sqlite3, sys
con = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=30)
rows = con.execute(
    "select automation_id, resource_id from automation_related_resource "
    "where automation_owned_by_resource = 1").fetchall()
print(json.dumps([[str(a), r] for a, r in rows]))
"#;
    let out = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(db)
        .output()
        .map_err(|e| format!("run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "reading automation owners from {} failed: {}",
            db.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let rows: Vec<(String, Value)> = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("reading automation owners: {e}"))?;
    Ok(rows
        .into_iter()
        .map(|(id, resource)| {
            let id = if id.len() == 32 {
                // stored without dashes
                format!(
                    "{}-{}-{}-{}-{}",
                    &id[..8],
                    &id[8..12],
                    &id[12..16],
                    &id[16..20],
                    &id[20..]
                )
            } else {
                id
            };
            let resource = match resource {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (id.to_lowercase(), resource)
        })
        .collect())
}

/// The normalised state of a Prefect server (record.py's `normalise_state`):
///
/// - `deployments`: sorted by (flow name, deployment name); the server's JSON minus `id`,
///   `created`, `updated`, `created_by`, `updated_by`, `last_polled`, `work_queue_id`;
///   `flow_id` replaced by `flow_name`; schedules without `id`/`created`/`updated`/
///   `deployment_id`; an interval `anchor_date` within two days of `now` → `"<now>"`;
///   `global_concurrency_limit` without `id`/`created`/`updated`.
/// - `automations`: sorted by name (then by their JSON), without `id`/`created`/`updated`,
///   trigger ids removed, `owner` (only when `owners` is given) and `related_to`.
/// - `flows`: sorted names; `work_queues`: sorted `pool/queue`.
///
/// Everywhere a deployment id becomes `<deployment:FLOW/NAME>`, a flow id `<flow:NAME>`, any
/// other UUID `<uuid>`, and `project_dir` (resolved and as given) `<PROJECT_DIR>`. `now` is
/// Unix seconds (the start of the deploy run).
pub fn dump_state(
    api: &Api,
    project_dir: Option<&Path>,
    owners: Option<&BTreeMap<String, String>>,
    now: f64,
) -> Result<Value, String> {
    let str_of = |v: &Value| v.as_str().map(str::to_owned);
    let flows = api.filter_all("/flows/filter", None)?;
    let flow_names: Vec<(String, String)> = flows
        .iter()
        .filter_map(|f| Some((str_of(&f["id"])?, str_of(&f["name"])?)))
        .collect();
    let flow_name_of = |id: &Value| {
        id.as_str()
            .and_then(|id| flow_names.iter().find(|(fid, _)| fid == id))
            .map_or_else(|| "?".to_owned(), |(_, name)| name.clone())
    };
    let deps = api.filter_all("/deployments/filter", None)?;
    let dep_names: Vec<(String, String)> = deps
        .iter()
        .filter_map(|d| {
            let name = format!("{}/{}", flow_name_of(&d["flow_id"]), d["name"].as_str()?);
            Some((str_of(&d["id"])?, name))
        })
        .collect();
    let mut named: HashMap<String, String> = flow_names
        .iter()
        .map(|(id, name)| (id.clone(), format!("<flow:{name}>")))
        .collect();
    named.extend(
        dep_names
            .iter()
            .map(|(id, name)| (id.clone(), format!("<deployment:{name}>"))),
    );
    let mut replacements = Vec::new();
    if let Some(dir) = project_dir {
        let resolved = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        for p in [resolved, absolute] {
            replacements.push((p.to_string_lossy().into_owned(), "<PROJECT_DIR>".to_owned()));
        }
    }
    let norm = Normaliser::new(replacements, named);

    let mut out_deps = Vec::new();
    for d in &deps {
        let Value::Object(d) = d else {
            return Err(format!("a deployment that is not an object: {d}"));
        };
        let mut d = d.clone();
        let flow_id = d.remove("flow_id").unwrap_or(Value::Null);
        d.insert("flow_name".into(), Value::String(flow_name_of(&flow_id)));
        for key in [
            "id",
            "created",
            "updated",
            "created_by",
            "updated_by",
            "last_polled",
            "work_queue_id",
        ] {
            d.remove(key);
        }
        let mut schedules = Vec::new();
        for s in d
            .get("schedules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut s = s
                .as_object()
                .map(|s| without(s, &["id", "created", "updated", "deployment_id"]))
                .unwrap_or_default();
            let mut schedule = s
                .get("schedule")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if schedule.contains_key("interval")
                && let Some(anchor) = schedule.get("anchor_date").and_then(Value::as_str)
                && parse_timestamp(anchor).is_some_and(|t| (t - now).abs() < NOW_WINDOW_SECONDS)
            {
                schedule.insert("anchor_date".into(), Value::String("<now>".into()));
            }
            s.insert("schedule".into(), Value::Object(schedule));
            schedules.push(Value::Object(s));
        }
        d.insert("schedules".into(), Value::Array(schedules));
        if let Some(Value::Object(limit)) = d.get("global_concurrency_limit") {
            let limit = without(limit, &["id", "created", "updated"]);
            d.insert("global_concurrency_limit".into(), Value::Object(limit));
        }
        out_deps.push(norm.value(&Value::Object(d)));
    }
    out_deps.sort_by(|a, b| {
        let key = |d: &Value| (py_str(&d["flow_name"]), py_str(&d["name"]));
        key(a).cmp(&key(b))
    });

    let mut related: HashMap<String, Vec<String>> = HashMap::new();
    for (id, name) in &dep_names {
        let path = format!("/automations/related-to/prefect.deployment.{id}");
        for a in api.get(&path, &[])?.as_array().into_iter().flatten() {
            if let Some(aid) = a["id"].as_str() {
                related
                    .entry(aid.to_owned())
                    .or_default()
                    .push(format!("<deployment:{name}>"));
            }
        }
    }
    let mut out_autos = Vec::new();
    for a in api.filter_all("/automations/filter", None)? {
        let Value::Object(a) = a else {
            return Err(format!("an automation that is not an object: {a}"));
        };
        let aid = a.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let mut a = without(&a, &["id", "created", "updated"]);
        let trigger = strip_keys(a.get("trigger").unwrap_or(&Value::Null), &["id"]);
        a.insert("trigger".into(), trigger);
        if let Some(owners) = owners {
            let owner = owners
                .get(&aid.to_lowercase())
                .map_or(Value::Null, |o| Value::String(o.clone()));
            a.insert("owner".into(), owner);
        }
        let mut rel = related.get(&aid).cloned().unwrap_or_default();
        rel.sort();
        a.insert(
            "related_to".into(),
            Value::Array(rel.into_iter().map(Value::String).collect()),
        );
        out_autos.push(norm.value(&Value::Object(a)));
    }
    out_autos.sort_by_cached_key(|a| {
        let name = match &a["name"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => py_str(other),
        };
        (name, py_json(a, true, true))
    });

    let mut queues = Vec::new();
    for p in api.filter_all("/work_pools/filter", None)? {
        let pool = p["name"].as_str().unwrap_or_default();
        let path = format!("/work_pools/{}/queues/filter", quote_segment(pool));
        for q in api
            .post(&path, &json!({}))?
            .as_array()
            .into_iter()
            .flatten()
        {
            queues.push(format!("{pool}/{}", q["name"].as_str().unwrap_or_default()));
        }
    }
    queues.sort();
    let mut flow_list: Vec<String> = flow_names.into_iter().map(|(_, name)| name).collect();
    flow_list.sort();
    Ok(json!({
        "deployments": out_deps,
        "automations": out_autos,
        "flows": flow_list,
        "work_queues": queues,
    }))
}

// ------------------------------------------------------------------------------------ Python text

/// Python's `str()` of a JSON value as record.py / compare.py format them into keys and labels
/// (strings bare, `null` → `None`, booleans `True`/`False`, the rest as JSON).
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => py_json(other, false, false),
    }
}

/// Python's `json.dumps(v, sort_keys=…, ensure_ascii=…)` with the default separators
/// (`", "`, `": "`) and Python's float `repr`: the canonical text compare.py sorts by and
/// prints.
pub fn py_json(v: &Value, sort_keys: bool, ensure_ascii: bool) -> String {
    let mut out = String::new();
    write_py_json(&mut out, v, sort_keys, ensure_ascii);
    out
}

fn write_py_json(out: &mut String, v: &Value, sort_keys: bool, ensure_ascii: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (_, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (_, _, Some(f)) => out.push_str(&py_float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_py_string(out, s, ensure_ascii),
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_json(out, x, sort_keys, ensure_ascii);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_string(out, k, ensure_ascii);
                out.push_str(": ");
                write_py_json(out, x, sort_keys, ensure_ascii);
            }
            out.push('}');
        }
    }
}

fn write_py_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest round-trip digits, positional for exponents -4..16,
/// scientific (`1e+16`, `1.5e-05`) otherwise.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sci = format!("{f:e}"); // e.g. "-1.5e-5", "3.6e3", "0e0"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let text = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs())
    }
}

/// Python's `repr()` of a list of strings (`['a', 'b']`).
fn py_str_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| {
            if s.contains('\'') && !s.contains('"') {
                format!("\"{s}\"")
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        })
        .collect();
    format!("[{}]", quoted.join(", "))
}

// ------------------------------------------------------------------------------------ comparing

/// Field-level differences between an expected and an actual state (compare.py's `Differ`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Differences {
    /// `(path, message)`, e.g. `("deployments[f/d].tags", "expected [\"a\"], actual []")`.
    pub diffs: Vec<(String, String)>,
    /// Remarks that are not differences (same schedules in another order, owner not compared,
    /// deployments ignored because Prefect stopped before them).
    pub notes: Vec<String>,
}

impl Differences {
    /// Whether the states are equal.
    pub fn is_empty(&self) -> bool {
        self.diffs.is_empty()
    }

    fn add(&mut self, path: String, message: String) {
        self.diffs.push((path, message));
    }

    fn diffs_under(&self, path: &str) -> bool {
        self.diffs.iter().any(|(p, _)| {
            p == path
                || p.strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
        })
    }

    fn value(&mut self, path: &str, exp: &Value, act: &Value, unordered: bool) {
        match (exp, act) {
            (Value::Object(e), Value::Object(a)) => {
                for (k, ev) in e {
                    match a.get(k) {
                        None => self.add(
                            format!("{path}.{k}"),
                            format!("missing in actual (expected {})", short(ev)),
                        ),
                        Some(av) => self.value(&format!("{path}.{k}"), ev, av, false),
                    }
                }
                for (k, av) in a {
                    if !e.contains_key(k) {
                        self.add(
                            format!("{path}.{k}"),
                            format!("unexpected in actual ({})", short(av)),
                        );
                    }
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                if e.len() != a.len() {
                    self.add(
                        path.to_owned(),
                        format!(
                            "expected {} items, actual {}: expected {}, actual {}",
                            e.len(),
                            a.len(),
                            short(exp),
                            short(act)
                        ),
                    );
                    return;
                }
                if unordered {
                    for (i, (ev, av)) in sorted_by_canon(e)
                        .into_iter()
                        .zip(sorted_by_canon(a))
                        .enumerate()
                    {
                        self.value(&format!("{path}[~{i}]"), ev, av, false);
                    }
                    if canon(exp) != canon(act) && !self.diffs_under(path) {
                        self.notes
                            .push(format!("{path}: same items, different order"));
                    }
                    return;
                }
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    self.value(&format!("{path}[{i}]"), ev, av, false);
                }
            }
            _ => {
                if !scalar_equal(exp, act) {
                    self.add(
                        path.to_owned(),
                        format!("expected {}, actual {}", short(exp), short(act)),
                    );
                }
            }
        }
    }
}

impl fmt::Display for Differences {
    /// compare.py's output: one `PATH: MESSAGE` line per difference, the notes, then
    /// `N difference(s)` or `states are equal`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, message) in &self.diffs {
            writeln!(f, "{path}: {message}")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        if self.diffs.is_empty() {
            write!(f, "states are equal")
        } else {
            write!(f, "{} difference(s)", self.diffs.len())
        }
    }
}

/// compare.py's multiset order: by canonical JSON text.
fn sorted_by_canon(items: &[Value]) -> Vec<&Value> {
    let mut keyed: Vec<(String, &Value)> = items.iter().map(|x| (canon(x), x)).collect();
    keyed.sort_by(|x, y| x.0.cmp(&y.0));
    keyed.into_iter().map(|(_, x)| x).collect()
}

fn canon(v: &Value) -> String {
    py_json(v, true, false)
}

fn short(v: &Value) -> String {
    const LIMIT: usize = 300;
    let s = py_json(v, true, false);
    if s.chars().count() <= LIMIT {
        s
    } else {
        let head: String = s.chars().take(LIMIT - 3).collect();
        format!("{head}...")
    }
}

/// Numbers by value (`3600 == 3600.0`), booleans never equal to numbers, everything else by
/// type and value (compare.py's `scalar_equal` without `--strict-types`).
pub fn scalar_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => a == b,
        _ => false,
    }
}

fn deployment_key(d: &Value) -> String {
    format!("{}/{}", py_str(&d["flow_name"]), py_str(&d["name"]))
}

/// Last one wins, first position kept (a Python dict built from a list).
fn keyed(items: &[Value], key: impl Fn(&Value) -> String) -> Vec<(String, &Value)> {
    let mut out: Vec<(String, &Value)> = Vec::new();
    for item in items {
        let k = key(item);
        match out.iter_mut().find(|(existing, _)| *existing == k) {
            Some(slot) => slot.1 = item,
            None => out.push((k, item)),
        }
    }
    out
}

fn list<'a>(state: &'a Value, key: &str) -> &'a [Value] {
    state
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// compare.py's `compare_states` with its defaults: deployments matched by `FLOW/NAME`,
/// automations by name (then by position among equal names), a deployment's `schedules`
/// compared as a multiset, every other list in order; an automation's `owner` skipped when the
/// actual state has none.
pub fn compare_states(exp: &Value, act: &Value) -> Differences {
    let mut d = Differences::default();
    let e_deps = keyed(list(exp, "deployments"), deployment_key);
    let a_deps = keyed(list(act, "deployments"), deployment_key);
    for (k, e) in &e_deps {
        let Some((_, a)) = a_deps.iter().find(|(ak, _)| ak == k) else {
            d.add(format!("deployments[{k}]"), "missing in actual".into());
            continue;
        };
        let drop_schedules = |v: &Value| match v {
            Value::Object(m) => Value::Object(without(m, &["schedules"])),
            other => other.clone(),
        };
        d.value(
            &format!("deployments[{k}]"),
            &drop_schedules(e),
            &drop_schedules(a),
            false,
        );
        if e.get("schedules").is_some() || a.get("schedules").is_some() {
            d.value(
                &format!("deployments[{k}].schedules"),
                e.get("schedules").unwrap_or(&Value::Null),
                a.get("schedules").unwrap_or(&Value::Null),
                true,
            );
        }
    }
    for (k, _) in &a_deps {
        if !e_deps.iter().any(|(ek, _)| ek == k) {
            d.add(format!("deployments[{k}]"), "unexpected in actual".into());
        }
    }

    let group = |autos: &[Value]| {
        let mut out: Vec<(String, Vec<Value>)> = Vec::new();
        for a in autos {
            let name = py_str(&a["name"]);
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, items)) => items.push(a.clone()),
                None => out.push((name, vec![a.clone()])),
            }
        }
        out
    };
    let e_autos = group(list(exp, "automations"));
    let a_autos = group(list(act, "automations"));
    let no_autos = Vec::new();
    let mut owner_skipped = false;
    for (name, es) in &e_autos {
        let as_ = a_autos
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&no_autos, |(_, items)| items);
        for (i, e) in es.iter().enumerate() {
            let label = if es.len() > 1 {
                format!("automations[{name}]#{i}")
            } else {
                format!("automations[{name}]")
            };
            let Some(a) = as_.get(i) else {
                d.add(label, "missing in actual".into());
                continue;
            };
            let mut e = e.clone();
            if let (Value::Object(em), false) = (&mut e, a.get("owner").is_some())
                && em.remove("owner").is_some()
            {
                owner_skipped = true;
            }
            d.value(&label, &e, a, false);
        }
        for j in es.len()..as_.len() {
            d.add(
                format!("automations[{name}]#{j}"),
                "unexpected in actual".into(),
            );
        }
    }
    for (name, as_) in &a_autos {
        if !e_autos.iter().any(|(n, _)| n == name) {
            for j in 0..as_.len() {
                let label = if as_.len() > 1 {
                    format!("automations[{name}]#{j}")
                } else {
                    format!("automations[{name}]")
                };
                d.add(label, "unexpected in actual".into());
            }
        }
    }
    if owner_skipped {
        d.notes
            .push("automation owner not compared (actual dump made without --db)".into());
    }

    for key in ["flows", "work_queues"] {
        if exp.get(key).is_some() || act.get(key).is_some() {
            let names =
                |v: &Value| -> Vec<String> { list(v, key).iter().map(py_str).collect::<Vec<_>>() };
            let (mut e, mut a) = (names(exp), names(act));
            e.sort();
            a.sort();
            if e != a {
                let e_set: HashSet<&String> = e.iter().collect();
                let a_set: HashSet<&String> = a.iter().collect();
                let mut missing: Vec<String> =
                    e_set.difference(&a_set).map(|s| (*s).clone()).collect();
                let mut extra: Vec<String> =
                    a_set.difference(&e_set).map(|s| (*s).clone()).collect();
                missing.sort();
                extra.sort();
                d.add(
                    key.to_owned(),
                    format!(
                        "missing {}, unexpected {}",
                        py_str_list(&missing),
                        py_str_list(&extra)
                    ),
                );
            }
        }
    }
    d
}

/// For a case where Prefect's run failed part-way (exit code 1): the actual state restricted to
/// what Prefect left, plus one note per thing set aside. Prefect stops at the first failing
/// deployment; a client that goes on past failures also applies the later valid ones, so an
/// actual deployment that is not in `exp` is set aside, and with it the automations it owns
/// or relates to (unless `exp` has an automation of that name), the flows and work queues only
/// such deployments use.
pub fn left_by_prefect(exp: &Value, act: &Value) -> (Value, Vec<String>) {
    let expected_keys: HashSet<String> = list(exp, "deployments")
        .iter()
        .map(deployment_key)
        .collect();
    let (kept, extra): (Vec<Value>, Vec<Value>) = list(act, "deployments")
        .iter()
        .cloned()
        .partition(|d| expected_keys.contains(&deployment_key(d)));
    let mut notes: Vec<String> = extra
        .iter()
        .map(|d| {
            format!(
                "deployments[{}] not compared: Prefect stopped before it",
                deployment_key(d)
            )
        })
        .collect();
    let extra_markers: HashSet<String> = extra
        .iter()
        .map(|d| format!("<deployment:{}>", deployment_key(d)))
        .collect();
    let expected_autos: HashSet<String> = list(exp, "automations")
        .iter()
        .map(|a| py_str(&a["name"]))
        .collect();
    let mut autos = Vec::new();
    for a in list(act, "automations") {
        let owner = a["owner"].as_str().unwrap_or_default();
        let belongs_to_extra = extra_markers.iter().any(|m| owner.ends_with(m.as_str()))
            || list(a, "related_to")
                .iter()
                .any(|r| r.as_str().is_some_and(|r| extra_markers.contains(r)));
        if belongs_to_extra && !expected_autos.contains(&py_str(&a["name"])) {
            notes.push(format!(
                "automations[{}] not compared: it belongs to a deployment Prefect did not reach",
                py_str(&a["name"])
            ));
        } else {
            autos.push(a.clone());
        }
    }
    let strings =
        |v: &Value, key: &str| -> Vec<String> { list(v, key).iter().map(py_str).collect() };
    let expected_flows: HashSet<String> = strings(exp, "flows").into_iter().collect();
    let flows: Vec<String> = strings(act, "flows")
        .into_iter()
        .filter(|f| {
            let only_extra = !expected_flows.contains(f)
                && extra.iter().any(|d| d["flow_name"].as_str() == Some(f));
            if only_extra {
                notes.push(format!(
                    "flow {f:?} not compared: only skipped deployments use it"
                ));
            }
            !only_extra
        })
        .collect();
    let expected_queues: HashSet<String> = strings(exp, "work_queues").into_iter().collect();
    let queues: Vec<String> = strings(act, "work_queues")
        .into_iter()
        .filter(|q| {
            let only_extra = !expected_queues.contains(q)
                && extra.iter().any(|d| {
                    format!(
                        "{}/{}",
                        py_str(&d["work_pool_name"]),
                        py_str(&d["work_queue_name"])
                    ) == *q
                });
            if only_extra {
                notes.push(format!(
                    "work queue {q:?} not compared: only skipped deployments use it"
                ));
            }
            !only_extra
        })
        .collect();
    let mut out = act.clone();
    if let Value::Object(map) = &mut out {
        map.insert("deployments".into(), Value::Array(kept));
        map.insert("automations".into(), Value::Array(autos));
        map.insert(
            "flows".into(),
            Value::Array(flows.into_iter().map(Value::String).collect()),
        );
        map.insert(
            "work_queues".into(),
            Value::Array(queues.into_iter().map(Value::String).collect()),
        );
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_like_python_fromisoformat() {
        let base = 1_704_067_200.0; // 2024-01-01T00:00:00Z
        assert_eq!(parse_timestamp("2024-01-01T00:00:00Z"), Some(base));
        assert_eq!(parse_timestamp("2024-01-01T00:00:00+00:00"), Some(base));
        assert_eq!(parse_timestamp("2024-01-01 00:00:00"), Some(base));
        assert_eq!(parse_timestamp("2024-01-01"), Some(base));
        assert_eq!(parse_timestamp("2024-01-01T01:00:00+01:00"), Some(base));
        assert_eq!(parse_timestamp("2023-12-31T19:00:00-05:00"), Some(base));
        assert_eq!(parse_timestamp("2024-01-01T00:00:00.5Z"), Some(base + 0.5));
        assert_eq!(
            parse_timestamp("2024-02-29T00:00:00"),
            Some(base + 59.0 * 86_400.0)
        );
        assert_eq!(parse_timestamp("2023-02-29T00:00:00"), None);
        assert_eq!(parse_timestamp("not a date"), None);
        assert_eq!(parse_timestamp("1:30"), None);
    }

    #[test]
    fn uuids_are_replaced_leftmost_without_word_boundaries() {
        let text = "prefect.deployment.0b6e3b52-6ba4-4d6b-8d1f-0f8c1d2e3f4a/xAB6E3B52-6BA4-4D6B-8D1F-0F8C1D2E3F4Ay ü";
        let named = HashMap::from([(
            "0B6E3B52-6BA4-4D6B-8D1F-0F8C1D2E3F4A".to_owned(),
            "<deployment:f/d>".to_owned(),
        )]);
        let n = Normaliser::new(vec![], named);
        assert_eq!(
            n.text(text),
            "prefect.deployment.<deployment:f/d>/x<uuid>y ü"
        );
    }

    #[test]
    fn longer_replacements_go_first() {
        let n = Normaliser::new(
            vec![
                ("/tmp/p".into(), "<A>".into()),
                ("/tmp/p/q".into(), "<B>".into()),
            ],
            HashMap::new(),
        );
        assert_eq!(n.text("/tmp/p/q/x and /tmp/p"), "<B>/x and <A>");
    }

    #[test]
    fn python_json_text() {
        let v = json!({"b": [1, 2.5, 3600.0, 1e16, 0.00001, true, null], "a": "é\n"});
        assert_eq!(
            py_json(&v, true, false),
            r#"{"a": "é\n", "b": [1, 2.5, 3600.0, 1e+16, 1e-05, true, null]}"#
        );
        assert_eq!(py_json(&json!("é"), false, true), r#""\u00e9""#);
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(123_456.789), "123456.789");
        assert_eq!(py_float(-1.5e-7), "-1.5e-07");
    }

    #[test]
    fn numbers_by_value_but_booleans_never_numbers() {
        assert!(scalar_equal(&json!(3600), &json!(3600.0)));
        assert!(!scalar_equal(&json!(1), &json!(true)));
        assert!(!scalar_equal(&json!(0), &json!(false)));
        assert!(!scalar_equal(&json!("1"), &json!(1)));
        assert!(!scalar_equal(&json!(null), &json!(false)));
    }

    fn dep(name: &str, schedules: Value) -> Value {
        json!({"flow_name": "f", "name": name, "interval": 3600, "schedules": schedules})
    }

    #[test]
    fn schedules_are_a_multiset_and_other_lists_are_ordered() {
        let a = json!({"schedule": {"cron": "0 * * * *"}, "active": true});
        let b = json!({"schedule": {"interval": 60.0}, "active": true});
        let exp = json!({"deployments": [dep("d", json!([a, b]))], "flows": ["f"]});
        let act = json!({"deployments": [
            {"flow_name": "f", "name": "d", "interval": 3600.0, "schedules": [b, a]}
        ], "flows": ["f"]});
        let d = compare_states(&exp, &act);
        assert!(d.is_empty(), "{d}");
        assert_eq!(
            d.notes,
            ["deployments[f/d].schedules: same items, different order"]
        );

        let exp = json!({"deployments": [{"flow_name": "f", "name": "d", "tags": ["a", "b"]}]});
        let act = json!({"deployments": [{"flow_name": "f", "name": "d", "tags": ["b", "a"]}]});
        let d = compare_states(&exp, &act);
        assert_eq!(
            d.diffs,
            [
                (
                    "deployments[f/d].tags[0]".to_owned(),
                    r#"expected "a", actual "b""#.to_owned()
                ),
                (
                    "deployments[f/d].tags[1]".to_owned(),
                    r#"expected "b", actual "a""#.to_owned()
                ),
            ]
        );
    }

    #[test]
    fn differences_read_like_compare_py() {
        let exp = json!({
            "deployments": [dep("d", json!([])), dep("gone", json!([]))],
            "automations": [{"name": "x", "owner": "o", "enabled": true}],
            "flows": ["f"], "work_queues": ["p/default"],
        });
        let act = json!({
            "deployments": [
                {"flow_name": "f", "name": "d", "interval": true, "schedules": [], "extra": 1},
                dep("new", json!([])),
            ],
            "automations": [{"name": "x", "enabled": false}],
            "flows": ["f", "g"], "work_queues": [],
        });
        let d = compare_states(&exp, &act);
        assert_eq!(
            d.to_string(),
            "deployments[f/d].interval: expected 3600, actual true\n\
             deployments[f/d].extra: unexpected in actual (1)\n\
             deployments[f/gone]: missing in actual\n\
             deployments[f/new]: unexpected in actual\n\
             automations[x].enabled: expected true, actual false\n\
             flows: missing [], unexpected ['g']\n\
             work_queues: missing ['p/default'], unexpected []\n\
             note: automation owner not compared (actual dump made without --db)\n\
             7 difference(s)"
        );
    }

    #[test]
    fn a_failed_run_compares_only_what_prefect_left() {
        let exp = json!({
            "deployments": [dep("first", json!([]))],
            "automations": [],
            "flows": ["f"], "work_queues": ["p/default"],
        });
        let mut later = dep("later", json!([]));
        later["flow_name"] = json!("g");
        later["work_pool_name"] = json!("p");
        later["work_queue_name"] = json!("q");
        let act = json!({
            "deployments": [dep("first", json!([])), later],
            "automations": [{"name": "later__automation_1",
                             "owner": "prefect.deployment.<deployment:g/later>",
                             "related_to": ["<deployment:g/later>"]}],
            "flows": ["f", "g"], "work_queues": ["p/default", "p/q"],
        });
        assert_eq!(compare_states(&exp, &act).diffs.len(), 4);
        let (left, notes) = left_by_prefect(&exp, &act);
        let d = compare_states(&exp, &left);
        assert!(d.is_empty(), "{d}");
        assert_eq!(notes.len(), 4, "{notes:?}");

        // A deployment Prefect did create is still compared in full.
        let mut changed = act.clone();
        changed["deployments"][0]["interval"] = json!(60);
        let (left, _) = left_by_prefect(&exp, &changed);
        assert_eq!(compare_states(&exp, &left).diffs.len(), 1);
    }

    #[test]
    fn chunked_and_sized_responses() {
        let sized = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]";
        assert_eq!(parse_response(sized), Ok((200, b"[]".to_vec())));
        let chunked =
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Ok((201, b"{}".to_vec())));
        assert_eq!(quote_segment("pool a/é"), "pool%20a%2F%C3%A9");
    }
}
