//! In-memory functions and layers, backed by the store, with the pools that serve them.
//!
//! Reads (including every invoke) take a short read lock and never wait on the disk. Changes are
//! serialized by an async mutex, written to disk first, and only then made visible.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::model::{FunctionRecord, LayerRecord, State, UpdateStatus, LATEST};
use crate::pool::{Pool, RunSpec, Runner};
use crate::process::Exec;
use crate::spare::SpareKey;
use crate::store::Store;
use crate::time::{lambda_timestamp, now_millis};

#[derive(Debug)]
struct Entry {
    rec: FunctionRecord,
    /// Serves `rec.active`; `latest_rev` is the revision it was built from.
    latest_pool: Option<Arc<Pool>>,
    latest_rev: Option<String>,
    version_pools: HashMap<u64, Arc<Pool>>,
}

impl Entry {
    fn new(rec: FunctionRecord) -> Entry {
        Entry {
            rec,
            latest_pool: None,
            latest_rev: None,
            version_pools: HashMap::new(),
        }
    }

    /// Brings pools in line with the record; returns the pools to drain.
    fn sync_pools(&mut self, runner: &Arc<Runner>) -> Vec<Arc<Pool>> {
        let mut retired = Vec::new();
        match &self.rec.active {
            Some(active) if self.latest_rev.as_deref() != Some(active.revision_id.as_str()) => {
                let pool = Pool::new(RunSpec::from_config(active), runner.clone());
                retired.extend(self.latest_pool.replace(pool));
                self.latest_rev = Some(active.revision_id.clone());
            }
            Some(_) => {}
            None => {
                retired.extend(self.latest_pool.take());
                self.latest_rev = None;
            }
        }
        let versions = &self.rec.versions;
        self.version_pools.retain(|n, pool| {
            let keep = versions.get(n).is_some_and(|v| v.state == State::Active);
            if !keep {
                retired.push(pool.clone());
            }
            keep
        });
        for (n, v) in versions {
            if v.state == State::Active && !self.version_pools.contains_key(n) {
                self.version_pools
                    .insert(*n, Pool::new(RunSpec::from_config(v), runner.clone()));
            }
        }
        retired
    }

    fn all_pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.latest_pool.iter().chain(self.version_pools.values())
    }
}

/// `$LATEST` (and the Pending versions of the same code) after its unpacking: Active and
/// Successful, or Failed with the reason.
fn record_activation(rec: &mut FunctionRecord, unpacked: &Result<(), String>) {
    let latest = &mut rec.latest;
    latest.revision_id = uuid::Uuid::new_v4().to_string();
    let code = latest.code_sha256.clone();
    match unpacked {
        Ok(()) => {
            latest.state = State::Active;
            latest.state_reason = None;
            latest.state_reason_code = None;
            latest.last_update_status = UpdateStatus::Successful;
            latest.last_update_status_reason = None;
            latest.last_update_status_reason_code = None;
            rec.active = Some(rec.latest.clone());
        }
        Err(reason) => {
            if latest.state == State::Pending {
                latest.state = State::Failed;
                latest.state_reason = Some(reason.clone());
                latest.state_reason_code = Some("InvalidZipFileException".into());
            }
            latest.last_update_status = UpdateStatus::Failed;
            latest.last_update_status_reason = Some(reason.clone());
            latest.last_update_status_reason_code = Some("InvalidZipFileException".into());
        }
    }
    for v in rec.versions.values_mut() {
        if v.state == State::Pending && v.code_sha256 == code {
            match unpacked {
                Ok(()) => {
                    v.state = State::Active;
                    v.last_update_status = UpdateStatus::Successful;
                }
                Err(reason) => {
                    v.state = State::Failed;
                    v.state_reason = Some(reason.clone());
                    v.state_reason_code = Some("InvalidZipFileException".into());
                    v.last_update_status = UpdateStatus::Failed;
                }
            }
        }
    }
}

/// What an invoke resolved to.
pub(crate) struct Target {
    pub pool: Arc<Pool>,
    pub executed_version: String,
}

#[derive(Debug)]
pub(crate) struct Registry {
    pub store: Arc<Store>,
    pub runner: Arc<Runner>,
    functions: RwLock<BTreeMap<String, Entry>>,
    layers: RwLock<BTreeMap<String, LayerRecord>>,
    write: tokio::sync::Mutex<()>,
    /// How long a create or update stays Pending/InProgress at least, as on AWS.
    update_window: Duration,
}

impl Registry {
    /// Loads persisted functions and layers, finishes deploys a crash interrupted, and removes
    /// code nothing references any more.
    pub(crate) fn load(
        store: Arc<Store>,
        runner: Arc<Runner>,
        update_window: Duration,
    ) -> Arc<Registry> {
        let records: Vec<FunctionRecord> = store.load_all(&store.functions_dir());
        let layers: Vec<LayerRecord> = store.load_all(&store.layers_dir());
        let mut keep = HashSet::new();
        for r in &records {
            for c in std::iter::once(&r.latest)
                .chain(r.active.iter())
                .chain(r.versions.values())
            {
                keep.insert(c.code_sha256.clone());
                keep.extend(c.layers.iter().map(|l| l.sha256.clone()));
            }
        }
        for l in &layers {
            keep.extend(l.versions.values().map(|v| v.code_sha256.clone()));
        }
        store.collect_garbage(&keep);
        let mut unfinished = Vec::new();
        let mut functions = BTreeMap::new();
        for rec in records {
            if rec.latest.state == State::Pending
                || rec.latest.last_update_status == UpdateStatus::InProgress
            {
                unfinished.push(rec.latest.name.clone());
            }
            let mut entry = Entry::new(rec);
            entry.sync_pools(&runner);
            functions.insert(entry.rec.latest.name.clone(), entry);
        }
        let registry = Arc::new(Registry {
            store,
            runner,
            functions: RwLock::new(functions),
            layers: RwLock::new(layers.into_iter().map(|l| (l.name.clone(), l)).collect()),
            write: tokio::sync::Mutex::new(()),
            update_window,
        });
        for name in unfinished {
            tracing::info!("finishing the interrupted deploy of {name}");
            registry.schedule_activation(name);
        }
        registry
    }

    /// Reads a function record under a short lock.
    pub(crate) fn read<R>(&self, name: &str, f: impl FnOnce(&FunctionRecord) -> R) -> Option<R> {
        let map = self.functions.read().expect("function map poisoned");
        map.get(name).map(|e| f(&e.rec))
    }

    /// All records' names in order, for listing.
    pub(crate) fn list<R>(&self, mut f: impl FnMut(&FunctionRecord) -> R) -> Vec<R> {
        let map = self.functions.read().expect("function map poisoned");
        map.values().map(|e| f(&e.rec)).collect()
    }

    async fn persist(&self, rec: &FunctionRecord) -> Result<(), ApiError> {
        let store = self.store.clone();
        let rec = rec.clone();
        tokio::task::spawn_blocking(move || {
            let dir = store.functions_dir();
            store.save_json(&dir, &rec.latest.name, &rec)
        })
        .await
        .map_err(|e| ApiError::service(e.to_string()))??;
        Ok(())
    }

    fn publish(&self, rec: FunctionRecord) -> Vec<Arc<Pool>> {
        let mut map = self.functions.write().expect("function map poisoned");
        let name = rec.latest.name.clone();
        let entry = map.entry(name).or_insert_with(|| Entry::new(rec.clone()));
        entry.rec = rec;
        entry.sync_pools(&self.runner)
    }

    /// Applies a change to one function: on a copy, saved to disk, then swapped in.
    pub(crate) async fn mutate<R>(
        &self,
        name: &str,
        arn: &str,
        f: impl FnOnce(&mut FunctionRecord) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let _guard = self.write.lock().await;
        let mut rec = self
            .read(name, FunctionRecord::clone)
            .ok_or_else(|| ApiError::function_not_found(arn))?;
        let out = f(&mut rec)?;
        self.persist(&rec).await?;
        for pool in self.publish(rec) {
            pool.drain();
        }
        Ok(out)
    }

    /// Adds a new function; 409 if the name is taken.
    pub(crate) async fn insert(self: &Arc<Self>, rec: FunctionRecord) -> Result<(), ApiError> {
        let _guard = self.write.lock().await;
        let name = rec.latest.name.clone();
        if self.read(&name, |_| ()).is_some() {
            return Err(ApiError::conflict(format!(
                "Function already exist: {name}"
            )));
        }
        self.persist(&rec).await?;
        self.publish(rec);
        self.schedule_activation(name);
        Ok(())
    }

    /// Deletes a whole function; its workers drain.
    pub(crate) async fn remove(&self, name: &str, arn: &str) -> Result<(), ApiError> {
        let _guard = self.write.lock().await;
        if self.read(name, |_| ()).is_none() {
            return Err(ApiError::function_not_found(arn));
        }
        let store = self.store.clone();
        let n = name.to_string();
        tokio::task::spawn_blocking(move || store.remove_json(&store.functions_dir(), &n))
            .await
            .map_err(|e| ApiError::service(e.to_string()))??;
        let entry = self
            .functions
            .write()
            .expect("function map poisoned")
            .remove(name);
        if let Some(entry) = entry {
            for pool in entry.all_pools() {
                pool.drain();
            }
        }
        // Its spare may be no one else's; the next activation or cold start starts one again.
        self.runner.spares.clear();
        Ok(())
    }

    /// Reinstalls compiled packages for the local interpreter while the function is Pending, so
    /// its first invoke does not wait for pip, and has a spare interpreter ready for it; a
    /// failure is the invoke's to report.
    async fn prepare_run(&self, name: &str) {
        if let Some(spec) = self.read(name, |r| RunSpec::from_config(&r.latest)) {
            match self.runner.prepare(&spec).await {
                Ok(prepared) => {
                    let common = Exec::common(&spec, &self.runner.store, &prepared);
                    let key = SpareKey::of(&prepared.launch, &common);
                    // Awaited, so the spares exist once the function is Active (and a delete
                    // that follows kills them).
                    let _ = self.runner.replenish_spares(key).await;
                }
                Err(e) => tracing::warn!("{name}: {e}"),
            }
        }
    }

    /// Unpacks the code (and layers) of `$LATEST` in the background, then marks it Active (or
    /// the update Successful), or Failed with the reason; never before the update window has
    /// passed, so a client that chains changes without waiting meets AWS's 409 here too.
    pub(crate) fn schedule_activation(self: &Arc<Self>, name: String) {
        let registry = self.clone();
        let until = tokio::time::Instant::now() + self.update_window;
        tokio::spawn(async move { registry.activate(name, until).await });
    }

    /// Activates `$LATEST` as soon as its code is unpacked, without the update window, and
    /// resolves when it is Active (or Failed): for code updates from lambda-ls's live loop only
    /// (see `api::functions::LIVE_HEADER`). A task of its own, so a client that hangs up
    /// mid-way never leaves the function InProgress.
    pub(crate) async fn activate_now(self: &Arc<Self>, name: String) {
        let registry = self.clone();
        let now = tokio::time::Instant::now();
        let _ = tokio::spawn(async move { registry.activate(name, now).await }).await;
    }

    async fn activate(&self, name: String, until: tokio::time::Instant) {
        let Some((unpacked, revision)) = self.unpack_latest(&name).await else {
            return;
        };
        if unpacked.is_ok() {
            self.prepare_run(&name).await;
        }
        tokio::time::sleep_until(until).await;
        let arn = crate::model::function_arn(&name);
        let result = self
            .mutate(&name, &arn, |rec| {
                if rec.latest.revision_id != revision {
                    // Superseded by a later change, which schedules its own activation.
                    return Ok(());
                }
                if let Err(reason) = &unpacked {
                    tracing::warn!("deploy of {name} failed: {reason}");
                }
                record_activation(rec, &unpacked);
                Ok(())
            })
            .await;
        if let Err(e) = result {
            if e.status != 404 {
                tracing::error!("cannot record the deploy of {name}: {}", e.message);
            }
        }
    }

    /// Unpacks `$LATEST`'s code (next to the code it replaces) and layers; with the revision
    /// it was read at. `None` if the function is gone.
    async fn unpack_latest(&self, name: &str) -> Option<(Result<(), String>, String)> {
        let (code, earlier, layers, revision) = self.read(name, |r| {
            (
                r.latest.code_sha256.clone(),
                r.active.as_ref().map(|a| a.code_sha256.clone()),
                r.latest
                    .layers
                    .iter()
                    .map(|l| l.sha256.clone())
                    .collect::<Vec<_>>(),
                r.latest.revision_id.clone(),
            )
        })?;
        let store = self.store.clone();
        let unpacked = tokio::task::spawn_blocking(move || {
            store.ensure_unpacked_from(&code, earlier.as_deref())?;
            for l in &layers {
                store.ensure_unpacked(l)?;
            }
            Ok::<(), String>(())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        Some((unpacked, revision))
    }

    /// The pool that runs `name` at `qualifier` (a version, an alias or `$LATEST`).
    pub(crate) fn target(
        &self,
        name: &str,
        qualifier: Option<&str>,
        arn: &str,
    ) -> Result<Target, ApiError> {
        let map = self.functions.read().expect("function map poisoned");
        let entry = map
            .get(name)
            .ok_or_else(|| ApiError::function_not_found(arn))?;
        let mut qualifier = qualifier.unwrap_or(LATEST).to_string();
        if let Some(alias) = entry.rec.aliases.get(&qualifier) {
            qualifier = alias.function_version.clone();
        }
        let not_ready = |state: State| {
            ApiError::conflict(format!(
                "The operation cannot be performed at this time. The function is currently in the following state: {state:?}"
            ))
        };
        if qualifier == LATEST {
            return match &entry.latest_pool {
                Some(pool) => Ok(Target {
                    pool: pool.clone(),
                    executed_version: LATEST.into(),
                }),
                None => Err(not_ready(entry.rec.latest.state)),
            };
        }
        let n: u64 = qualifier
            .parse()
            .map_err(|_| ApiError::function_not_found(arn))?;
        let version = entry
            .rec
            .versions
            .get(&n)
            .ok_or_else(|| ApiError::function_not_found(arn))?;
        match entry.version_pools.get(&n) {
            Some(pool) => Ok(Target {
                pool: pool.clone(),
                executed_version: qualifier,
            }),
            None => Err(not_ready(version.state)),
        }
    }

    /// Every pool of every function, and the spares, for the idle reaper.
    pub(crate) fn reap_idle(&self) {
        let pools: Vec<Arc<Pool>> = {
            let map = self.functions.read().expect("function map poisoned");
            map.values().flat_map(|e| e.all_pools().cloned()).collect()
        };
        let now = Instant::now();
        for p in pools {
            p.reap_idle(now);
        }
        self.runner.spares.reap(self.runner.idle_timeout);
    }

    // ---- layers ----

    pub(crate) fn read_layer<R>(&self, name: &str, f: impl FnOnce(&LayerRecord) -> R) -> Option<R> {
        self.layers
            .read()
            .expect("layer map poisoned")
            .get(name)
            .map(f)
    }

    pub(crate) fn list_layers<R>(&self, mut f: impl FnMut(&LayerRecord) -> R) -> Vec<R> {
        self.layers
            .read()
            .expect("layer map poisoned")
            .values()
            .map(&mut f)
            .collect()
    }

    /// Applies a change to a layer (creating the record if `create`), saved before it is seen.
    pub(crate) async fn mutate_layer<R>(
        &self,
        name: &str,
        create: bool,
        f: impl FnOnce(&mut LayerRecord) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let _guard = self.write.lock().await;
        let existing = self.read_layer(name, LayerRecord::clone);
        let mut rec = match (existing, create) {
            (Some(r), _) => r,
            (None, true) => LayerRecord {
                name: name.to_string(),
                last_version: 0,
                versions: BTreeMap::new(),
            },
            (None, false) => {
                return Err(ApiError::not_found(format!(
                    "Layer version {} does not exist.",
                    crate::model::layer_arn(name)
                )))
            }
        };
        let out = f(&mut rec)?;
        let store = self.store.clone();
        let saved = rec.clone();
        tokio::task::spawn_blocking(move || {
            let dir = store.layers_dir();
            // A layer with no versions left keeps its record: version numbers are never reused.
            store.save_json(&dir, &saved.name, &saved)
        })
        .await
        .map_err(|e| ApiError::service(e.to_string()))??;
        self.layers
            .write()
            .expect("layer map poisoned")
            .insert(name.to_string(), rec);
        Ok(out)
    }

    /// The current time in LastModified format, for records being changed.
    pub(crate) fn now_stamp() -> String {
        lambda_timestamp(now_millis())
    }
}
