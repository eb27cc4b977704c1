//! `apply_all`: many deployments applied with bounded concurrency, progress events, one result
//! per deployment in input order, and one flow upsert per flow name for the whole run.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use http::Method;
use prefab_client::PrefectClient;
use prefab_client::request::Safety;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::RunnerDeployment;
use super::adaptive::{Concurrency, Limiter};
use super::apply::{ApplyOptions, VersionCache, apply_with, raw};
use super::error::{ApplyStep, DeploymentApplyError};
use super::plan::unchanged_on_server;

/// How many deployments [`apply_all`] applies at once by default: [`Concurrency::Auto`], which
/// starts at one and adds a slot while a slot more raises throughput (up to
/// [`MAX_AUTO_CONCURRENCY`](super::MAX_AUTO_CONCURRENCY)), and halves when the server turns
/// requests away for being busy. The best fixed setting depends on the server, which a client
/// cannot tell: a SQLite-backed Prefect server (the default, and what `prefab server` runs)
/// serialises writes, answers concurrent ones with `503`s and dropped connections, and is fastest
/// at 1; a PostgreSQL-backed one takes concurrent writes and gains a little up to 2-4 before the
/// server's CPU saturates. Measured ratios to the best fixed setting: docs/performance.md,
/// "Adaptive concurrency". [`BulkOptions::concurrency`] (`--concurrency N`) fixes it instead.
pub const DEFAULT_CONCURRENCY: Concurrency = Concurrency::Auto;

/// Flow ids by flow name, shared by the applies of one run: the first apply that needs a flow
/// upserts it (`POST /flows/`), concurrent and later ones wait for and reuse its id. A failed
/// upsert is not cached (the next apply that needs the flow tries again).
///
/// A cache made by [`FlowIdCache::bulk`] (as [`apply_all`] does) also leaves out the
/// `DELETE /automations/owned-by/…` right after a deployment was created: a deployment id that
/// did not exist a moment ago owns nothing (docs/deviations.md D7). It also holds what else the
/// applies of one run share: the inferred version info (read once per directory) and, with
/// [`BulkOptions::pre_read`] or [`BulkOptions::skip_unchanged`], which deployments exist.
#[derive(Debug, Default)]
pub struct FlowIdCache {
    cells: Mutex<HashMap<String, Arc<OnceCell<Uuid>>>>,
    bulk: bool,
    /// `(flow, deployment)` → what the run's pre-read or plan found (`None`: no such deployment).
    existing: Mutex<HashMap<(String, String), Option<Existing>>>,
    /// Version info inferred once per run.
    versions: VersionCache,
}

/// A deployment a bulk run's pre-read or plan found: its id, and the server's read of it (at
/// least the fields the apply looks at: `enforce_parameter_schema`, `parameters`).
#[derive(Debug, Clone)]
pub(crate) struct Existing {
    pub id: Uuid,
    pub body: Value,
}

/// The fields of a `POST /deployments/filter` item that a pre-read keeps (serde skips the rest,
/// the parameter schema included, without building it).
#[derive(Debug, Deserialize)]
struct FilteredDeployment {
    id: Uuid,
    name: String,
    #[serde(default)]
    enforce_parameter_schema: Option<bool>,
    #[serde(default)]
    parameters: Option<serde_json::Map<String, Value>>,
}

impl FlowIdCache {
    /// An empty cache; `apply_with` sends Prefect's exact sequence apart from the flow upserts
    /// it saves.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache for a bulk run: also no owned-automation delete after a fresh create.
    pub fn bulk() -> Self {
        FlowIdCache {
            bulk: true,
            ..Self::default()
        }
    }

    /// Whether this cache belongs to a bulk run ([`FlowIdCache::bulk`]).
    pub fn is_bulk(&self) -> bool {
        self.bulk
    }

    /// What the pre-read or plan found for `flow`/`name`, once: `None` when it was not read (or
    /// was taken already: ask the server), `Some(None)` when it does not exist.
    pub(crate) fn take_existing(&self, flow: &str, name: &str) -> Option<Option<Existing>> {
        self.existing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(flow.to_owned(), name.to_owned()))
    }

    /// Records what a read found for `flow`/`name`, for the apply that follows to use once.
    pub(crate) fn put_existing(&self, flow: &str, name: &str, found: Option<Existing>) {
        self.existing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((flow.to_owned(), name.to_owned()), found);
    }

    /// The run's inferred version info.
    pub(crate) fn versions(&self) -> &VersionCache {
        &self.versions
    }

    /// The cached id of `flow_name`, if an upsert of it succeeded.
    pub fn get(&self, flow_name: &str) -> Option<Uuid> {
        self.cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(flow_name)
            .and_then(|c| c.get().copied())
    }

    /// The id of `flow_name`: cached, or from `upsert` (run at most once at a time per name).
    pub(crate) async fn get_or_upsert<F, Fut, E>(
        &self,
        flow_name: &str,
        upsert: F,
    ) -> Result<Uuid, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Uuid, E>>,
    {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(flow_name.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(upsert).await.copied()
    }
}

/// [`apply_all`]'s settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BulkOptions {
    /// How many deployments are applied at once: adapted to the server
    /// ([`Concurrency::Auto`], the default [`DEFAULT_CONCURRENCY`]) or fixed.
    pub concurrency: Concurrency,
    /// Whether a flow's deployments are looked up with one `POST /deployments/filter` before the
    /// run instead of a by-name read per deployment, as Prefect does (D24). Off by default:
    /// against a SQLite-backed server it was not reliably faster (faster in two measured runs,
    /// slower in two; docs/performance.md). It saves a round trip per deployment where round
    /// trips are what costs (Prefect Cloud, a remote server). No effect with [`BulkOptions::skip_unchanged`], whose plan reads each
    /// deployment anyway.
    pub pre_read: bool,
    /// Whether a deployment the server already matches is left alone (D25). Each deployment is
    /// first planned ([`plan`](super::plan): its read by name and its related automations);
    /// one that plans as unchanged gets no write at all and is reported as
    /// [`BulkOutcome::Unchanged`]; the others are applied as usual, reusing the plan's read
    /// (so a deployment that did change costs one read more: its automations).
    /// Off by default: Prefect's re-apply rewrites every deployment (new schedule and automation
    /// ids, auto-scheduled runs deleted, an interval without an anchor date re-anchored at
    /// "now"), and prefab's default does the same. A deployment with SLAs is always applied
    /// (the plan cannot read them back).
    pub skip_unchanged: bool,
    /// How many deployments in a row may fail because the server is unavailable (no
    /// connection, no answer in time, a 5xx after the client's retries, an answer that is not
    /// the API's) before the run stops starting new ones; the rest are reported as not
    /// attempted ([`DeploymentApplyError::is_not_attempted`]). `None` never stops. Default
    /// [`DEFAULT_CIRCUIT_BREAKER`]: against a dead server, 100 deployments end after three
    /// deployments' retries instead of a hundred.
    pub circuit_breaker: Option<usize>,
    /// The breaker also opens when the deployments failing in a row because the server is
    /// unavailable have taken this long together, however few they are: against a server that
    /// never answers, one deployment already waits out two request timeouts (2 × 60 s by
    /// default). Default [`DEFAULT_CIRCUIT_BREAKER_WINDOW`].
    pub circuit_breaker_window: Duration,
    /// Stops the run from starting new deployments when triggered (Ctrl-C); those in flight
    /// finish their request sequence, the rest are reported as not attempted.
    pub stop: Option<StopSignal>,
}

/// [`BulkOptions::circuit_breaker`]'s default: three deployments in a row.
pub const DEFAULT_CIRCUIT_BREAKER: usize = 3;

/// [`BulkOptions::circuit_breaker_window`]'s default: 90 seconds of failures in a row.
pub const DEFAULT_CIRCUIT_BREAKER_WINDOW: Duration = Duration::from_secs(90);

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            concurrency: DEFAULT_CONCURRENCY,
            pre_read: false,
            skip_unchanged: false,
            circuit_breaker: Some(DEFAULT_CIRCUIT_BREAKER),
            circuit_breaker_window: DEFAULT_CIRCUIT_BREAKER_WINDOW,
            stop: None,
        }
    }
}

/// A flag that asks a bulk run ([`apply_all`]) to stop starting deployments. Cheap to clone;
/// every clone is the same flag. Safe to trigger from a signal-handling thread.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// A flag not yet triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop starting deployments.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`StopSignal::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a run stopped starting deployments.
#[derive(Debug, Default)]
struct Breaker {
    /// Deployments in a row that failed because the server was unavailable.
    consecutive: AtomicUsize,
    /// When the first deployment of the current failing streak started.
    streak_started: Mutex<Option<Instant>>,
    /// Set once the breaker opened: the message the not-attempted ones carry.
    open: Mutex<Option<String>>,
}

impl BulkOptions {
    /// Fixes the concurrency at `n` (0 counts as 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Concurrency::fixed(n);
        self
    }

    /// Sets the concurrency: [`Concurrency::Auto`] or [`Concurrency::Fixed`] (0 counts as 1).
    pub fn concurrency_mode(mut self, concurrency: Concurrency) -> Self {
        self.concurrency = match concurrency {
            Concurrency::Fixed(n) => Concurrency::fixed(n),
            auto => auto,
        };
        self
    }

    /// Sets whether the run pre-reads which deployments exist ([`BulkOptions::pre_read`]).
    pub fn pre_read(mut self, on: bool) -> Self {
        self.pre_read = on;
        self
    }

    /// Sets whether deployments the server already matches are left alone
    /// ([`BulkOptions::skip_unchanged`]).
    pub fn skip_unchanged(mut self, on: bool) -> Self {
        self.skip_unchanged = on;
        self
    }

    /// Sets how many deployments in a row may fail because the server is unavailable before
    /// the run stops ([`BulkOptions::circuit_breaker`]; `None` or `Some(0)`: never).
    pub fn circuit_breaker(mut self, after: Option<usize>) -> Self {
        self.circuit_breaker = after.filter(|n| *n > 0);
        self
    }

    /// Sets how long failures in a row may last before the breaker opens
    /// ([`BulkOptions::circuit_breaker_window`]).
    pub fn circuit_breaker_window(mut self, window: Duration) -> Self {
        self.circuit_breaker_window = window;
        self
    }

    /// Sets the flag that stops the run ([`BulkOptions::stop`]).
    pub fn stop(mut self, stop: StopSignal) -> Self {
        self.stop = Some(stop);
        self
    }
}

/// How one deployment of [`apply_all`] succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BulkOutcome {
    /// Applied with Prefect's request sequence: created, or updated.
    Applied(Uuid),
    /// With [`BulkOptions::skip_unchanged`]: the server already matched the definition, and
    /// nothing was written.
    Unchanged(Uuid),
}

impl BulkOutcome {
    /// The deployment's id.
    pub fn id(self) -> Uuid {
        match self {
            BulkOutcome::Applied(id) | BulkOutcome::Unchanged(id) => id,
        }
    }

    /// Whether the deployment was written ([`BulkOutcome::Applied`]).
    pub fn was_applied(self) -> bool {
        matches!(self, BulkOutcome::Applied(_))
    }
}

/// What [`apply_all`] reports while it works. `index` is the deployment's position in the
/// input; `name` its `flow/deployment` name.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApplyEvent {
    /// The apply of a deployment started.
    Started {
        /// Position in the input.
        index: usize,
        /// `flow/deployment`.
        name: String,
    },
    /// A deployment was applied.
    Applied {
        /// Position in the input.
        index: usize,
        /// `flow/deployment`.
        name: String,
        /// The deployment's id.
        id: Uuid,
    },
    /// With [`BulkOptions::skip_unchanged`]: the server already matched the deployment, and
    /// nothing was written.
    Unchanged {
        /// Position in the input.
        index: usize,
        /// `flow/deployment`.
        name: String,
        /// The deployment's id.
        id: Uuid,
    },
    /// A deployment was not started: the run was stopped ([`BulkOptions::stop`]) or the
    /// server was found unavailable ([`BulkOptions::circuit_breaker`]).
    NotAttempted {
        /// Position in the input.
        index: usize,
        /// `flow/deployment`.
        name: String,
        /// Why.
        reason: String,
    },
    /// A deployment failed (the full error is in its result).
    Failed {
        /// Position in the input.
        index: usize,
        /// `flow/deployment`.
        name: String,
        /// The error's message.
        error: String,
    },
}

/// Applies every `(deployment, options)` with Prefect 3.9.1's request sequence (see
/// [`apply`](super::apply)), `options.concurrency` at a time (fixed, or adapted to the server:
/// [`Concurrency::Auto`]), calling `on_event` as
/// each starts and ends. It goes on past failures; the results are in input order, one per
/// deployment.
///
/// Unlike a loop of single applies, the run upserts each flow name once (`POST /flows/`): the
/// flow id is shared between the deployments of the same flow (docs/deviations.md, D7). With
/// [`BulkOptions::skip_unchanged`], deployments the server already matches are not written.
pub async fn apply_all<F>(
    client: &PrefectClient,
    items: &[(RunnerDeployment, ApplyOptions)],
    options: &BulkOptions,
    on_event: F,
) -> Vec<Result<BulkOutcome, DeploymentApplyError>>
where
    F: Fn(ApplyEvent) + Sync,
{
    let flow_ids = FlowIdCache::bulk();
    let skip_unchanged = options.skip_unchanged;
    if options.pre_read && !skip_unchanged {
        pre_read(client, items, &flow_ids).await;
    }
    let on_event = &on_event;
    let flow_ids = &flow_ids;
    let breaker = Breaker::default();
    let run = Run {
        breaker: &breaker,
        after: options.circuit_breaker,
        window: options.circuit_breaker_window,
        stop: options.stop.as_ref(),
    };
    let run = &run;
    let mut limiter = Limiter::new(options.concurrency, Instant::now());
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut results = Vec::with_capacity(items.len());
    let mut next = 0;
    // Busy answers (503, 429, dropped connections) the client has met so far, retried or not.
    let mut busy_seen = client.stats().server_busy;
    loop {
        while next < items.len() && in_flight.len() < limiter.limit() {
            let (d, o) = &items[next];
            in_flight.push(apply_one(
                client,
                next,
                d,
                o,
                flow_ids,
                skip_unchanged,
                run,
                on_event,
            ));
            next += 1;
        }
        let Some((index, result)) = in_flight.next().await else {
            break;
        };
        let busy_now = client.stats().server_busy;
        // A deployment that never reached the server says nothing about it.
        let local =
            matches!(&result, Err(e) if e.is_not_attempted() || e.step == ApplyStep::Validate);
        if !local {
            let before = limiter.limit();
            if let Some(change) = limiter.on_complete(
                Instant::now(),
                busy_now.saturating_sub(busy_seen),
                in_flight.len(),
            ) {
                tracing::debug!(
                    from = before,
                    to = limiter.limit(),
                    ?change,
                    done = results.len() + 1,
                    "bulk apply concurrency"
                );
            }
            busy_seen = busy_now;
        }
        results.push((index, result));
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// What every deployment of one run checks before it starts and reports when it ends.
struct Run<'a> {
    breaker: &'a Breaker,
    after: Option<usize>,
    window: Duration,
    stop: Option<&'a StopSignal>,
}

impl Run<'_> {
    /// Why the run no longer starts deployments, if it does not.
    fn refusal(&self) -> Option<String> {
        if self.stop.is_some_and(StopSignal::is_triggered) {
            return Some("not attempted: the run was interrupted before it started".into());
        }
        self.breaker
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Counts a finished deployment (started at `started`) towards the breaker.
    fn record(&self, result: &Result<BulkOutcome, DeploymentApplyError>, started: Instant) {
        let Some(after) = self.after else { return };
        match result {
            Err(e) if e.is_server_unavailable() => {
                let n = self.breaker.consecutive.fetch_add(1, Ordering::SeqCst) + 1;
                let streak = {
                    let mut first = self
                        .breaker
                        .streak_started
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let first = *first.get_or_insert(started);
                    first.elapsed()
                };
                if n >= after || streak >= self.window {
                    let mut open = self
                        .breaker
                        .open
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if open.is_none() {
                        *open = Some(format!(
                            "not attempted: {n} deployment(s) in a row failed because the server \
                             is unavailable, over {:.0} s (the last: {}); the run stopped \
                             starting new ones",
                            streak.as_secs_f64(),
                            e.message
                        ));
                    }
                }
            }
            // A local check says nothing about the server.
            Err(e) if e.step == ApplyStep::Validate => {}
            _ => {
                self.breaker.consecutive.store(0, Ordering::SeqCst);
                *self
                    .breaker
                    .streak_started
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            }
        }
    }
}

/// One deployment of [`apply_all`], between its two events. (A function rather than a closure
/// returning an `async` block, one reason `apply_all`'s future is `Send`.)
#[allow(clippy::too_many_arguments)]
async fn apply_one<F>(
    client: &PrefectClient,
    index: usize,
    d: &RunnerDeployment,
    o: &ApplyOptions,
    flow_ids: &FlowIdCache,
    skip_unchanged: bool,
    run: &Run<'_>,
    on_event: &F,
) -> (usize, Result<BulkOutcome, DeploymentApplyError>)
where
    F: Fn(ApplyEvent) + Sync,
{
    let name = d.full_name();
    if let Some(reason) = run.refusal() {
        on_event(ApplyEvent::NotAttempted {
            index,
            name,
            reason: reason.clone(),
        });
        return (index, Err(DeploymentApplyError::not_attempted(reason)));
    }
    let started = Instant::now();
    on_event(ApplyEvent::Started {
        index,
        name: name.clone(),
    });
    let unchanged = if skip_unchanged && d.slas.is_none() {
        unchanged_on_server(client, d, o, flow_ids).await
    } else {
        None
    };
    let result = match unchanged {
        Some(id) => Ok(BulkOutcome::Unchanged(id)),
        None => apply_with(client, d, o, flow_ids)
            .await
            .map(BulkOutcome::Applied),
    };
    run.record(&result, started);
    on_event(match &result {
        Ok(BulkOutcome::Applied(id)) => ApplyEvent::Applied {
            index,
            name,
            id: *id,
        },
        Ok(BulkOutcome::Unchanged(id)) => ApplyEvent::Unchanged {
            index,
            name,
            id: *id,
        },
        Err(e) => ApplyEvent::Failed {
            index,
            name,
            error: e.to_string(),
        },
    });
    (index, result)
}

/// Deployments asked for per `POST /deployments/filter` page by [`pre_read`].
const PRE_READ_PAGE: usize = 100;

/// For each flow with two or more deployments in the run, reads which of them exist with
/// `POST /deployments/filter` (a page per [`PRE_READ_PAGE`] names) instead of a
/// `GET /deployments/name/…` per deployment (D24). A flow whose read fails is left to the
/// per-deployment reads.
async fn pre_read(
    client: &PrefectClient,
    items: &[(RunnerDeployment, ApplyOptions)],
    cache: &FlowIdCache,
) {
    let mut by_flow: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (d, _) in items {
        if let Some(flow) = d.flow_name.as_deref() {
            by_flow.entry(flow).or_default().push(&d.name);
        }
    }
    for (flow, mut names) in by_flow {
        names.sort_unstable();
        names.dedup();
        if names.len() < 2 {
            continue;
        }
        let mut known: HashMap<(String, String), Option<Existing>> = names
            .iter()
            .map(|n| ((flow.to_owned(), (*n).to_owned()), None))
            .collect();
        let mut complete = true;
        for chunk in names.chunks(PRE_READ_PAGE) {
            match read_existing(client, flow, chunk).await {
                Ok(found) => {
                    for f in found {
                        let body = json!({
                            "id": f.id,
                            "name": f.name,
                            "enforce_parameter_schema": f.enforce_parameter_schema,
                            "parameters": f.parameters,
                        });
                        known.insert((flow.to_owned(), f.name), Some(Existing { id: f.id, body }));
                    }
                }
                Err(e) => {
                    tracing::debug!(flow, error = %e, "pre-read failed; reading deployments one by one");
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            cache
                .existing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(known);
        }
    }
}

/// The deployments of `flow` named in `names` (at most [`PRE_READ_PAGE`]).
async fn read_existing(
    client: &PrefectClient,
    flow: &str,
    names: &[&str],
) -> Result<Vec<FilteredDeployment>, String> {
    let body = json!({
        "flows": {"name": {"any_": [flow]}},
        "deployments": {"name": {"any_": names}},
        "offset": 0,
        "limit": names.len(),
    });
    let req = raw(
        Method::POST,
        "/deployments/filter",
        &body,
        Safety::Idempotent,
        "deployments",
    );
    let resp = client.send(&req).await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&resp.body).map_err(|e| e.to_string())
}
