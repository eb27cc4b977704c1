//! What templates and checks read from the Prefect API — variables, block documents, work
//! pools — read once per run and shared by every deployment (Prefect reads them again for
//! each deployment).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prefab_client::PrefectClient;
use serde_json::Value;
use tokio::sync::OnceCell;

type Cell<T> = Arc<OnceCell<T>>;
/// One read, once: the value (`None`: not found) or why the read failed.
type Read = Cell<Result<Option<Value>, String>>;

/// The run's reads from the API, each made once.
#[derive(Debug)]
pub struct ServerValues {
    client: PrefectClient,
    variables: Mutex<HashMap<String, Read>>,
    blocks: Mutex<HashMap<(String, String), Read>>,
    pools: Mutex<HashMap<String, Read>>,
}

fn cell<K: std::hash::Hash + Eq + Clone, T>(map: &Mutex<HashMap<K, Cell<T>>>, key: &K) -> Cell<T> {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(key.clone()).or_default().clone()
}

impl ServerValues {
    /// Reads through `client`.
    pub fn new(client: PrefectClient) -> Self {
        ServerValues {
            client,
            variables: Mutex::default(),
            blocks: Mutex::default(),
            pools: Mutex::default(),
        }
    }

    /// Variable `name`'s value; `None` when there is no such variable.
    pub async fn variable(&self, name: &str) -> Result<Option<Value>, String> {
        let c = cell(&self.variables, &name.to_owned());
        c.get_or_init(|| async {
            match self.client.read_variable_by_name(name).await {
                Ok(v) => Ok(v.map(|v| v.get("value").cloned().unwrap_or(Value::Null))),
                Err(e) => Err(format!("reading the variable {name:?}: {e}")),
            }
        })
        .await
        .clone()
    }

    /// The data of block document `name` of type `slug`; `None` when there is none.
    pub async fn block(&self, slug: &str, name: &str) -> Result<Option<Value>, String> {
        let c = cell(&self.blocks, &(slug.to_owned(), name.to_owned()));
        c.get_or_init(|| async {
            match self.client.read_block_document_by_name(slug, name).await {
                Ok(doc) => Ok(Some(doc.get("data").cloned().unwrap_or(Value::Null))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(format!("reading the block {slug}/{name}: {e}")),
            }
        })
        .await
        .clone()
    }

    /// Work pool `name` as the API returns it; `None` when there is none.
    pub async fn work_pool(&self, name: &str) -> Result<Option<Value>, String> {
        let c = cell(&self.pools, &name.to_owned());
        c.get_or_init(|| async {
            match self.client.read_work_pool(name).await {
                Ok(pool) => Ok(Some(serde_json::to_value(pool).unwrap_or(Value::Null))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(format!("reading the work pool {name:?}: {e}")),
            }
        })
        .await
        .clone()
    }
}
