//! The data directory: content-addressed code, one JSON file per function or layer, unpacked roots.
//!
//! Every file is written atomically (temporary file in the same directory, fsync, rename, fsync of
//! the directory) and code is stored before the metadata that names it, so a crash mid-deploy
//! leaves either the old or the new function on disk, never one whose code is missing.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{LocalError, StoreError};

/// The built-in bootstrap, written into the data directory so tracebacks name a real file.
const BOOTSTRAP_PY: &str = include_str!("bootstrap.py");
/// The spare workers' program (`spare`), written beside it.
const ZYGOTE_PY: &str = include_str!("zygote.py");

/// Takes the data directory for this process: two servers on one directory would delete
/// each other's fresh code at startup and overwrite each other's records. The lock lives as
/// long as the returned file.
/// Where the server holding the lock says it listens, for other processes to share it.
pub(crate) const ENDPOINT_FILE: &str = "endpoint";

pub(crate) fn lock(root: &Path) -> Result<File, LocalError> {
    let unusable = |error| LocalError::DataDir {
        path: root.to_path_buf(),
        error,
    };
    fs::create_dir_all(root).map_err(unusable)?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".lock"))
        .map_err(unusable)?;
    // SAFETY: flock on a descriptor owned by `file`, which outlives the call.
    let rc = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        return Err(if error.kind() == std::io::ErrorKind::WouldBlock {
            LocalError::InUse {
                path: root.to_path_buf(),
                endpoint: std::fs::read_to_string(root.join(ENDPOINT_FILE))
                    .ok()
                    .map(|e| e.trim().to_string())
                    .filter(|e| e.starts_with("http://127.0.0.1:")),
            }
        } else {
            unusable(error)
        });
    }
    Ok(file)
}

/// Paths inside one data directory.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
}

impl Store {
    /// Creates the layout, proves it is writable and installs the built-in bootstrap.
    pub(crate) fn open(root: &Path) -> Result<Store, LocalError> {
        let store = Store {
            root: root.to_path_buf(),
        };
        let unusable = |path: &Path| {
            let path = path.to_path_buf();
            move |error| LocalError::DataDir { path, error }
        };
        for dir in [
            store.code_dir(),
            store.functions_dir(),
            store.layers_dir(),
            store.unpacked_dir(),
            store.runtime_dir(),
            store.logs_dir(),
        ] {
            fs::create_dir_all(&dir).map_err(unusable(&dir))?;
        }
        // Worker temp dirs of a previous run are garbage: their processes are gone.
        let tmp = store.tmp_dir();
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(unusable(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(unusable(&tmp))?;
        // Creating directories can succeed on a full disk; writing a file is the real test.
        let probe = store.root.join(".write-probe");
        write_atomic(&probe, b"ok").map_err(|e| LocalError::DataDir {
            path: e.path,
            error: e.error,
        })?;
        fs::remove_file(&probe).map_err(unusable(&probe))?;
        for (path, text) in [
            (store.bootstrap_path(), BOOTSTRAP_PY),
            (store.zygote_path(), ZYGOTE_PY),
        ] {
            if fs::read_to_string(&path).ok().as_deref() != Some(text) {
                write_atomic(&path, text.as_bytes()).map_err(|e| LocalError::DataDir {
                    path: e.path,
                    error: e.error,
                })?;
            }
        }
        Ok(store)
    }

    fn code_dir(&self) -> PathBuf {
        self.root.join("code")
    }

    pub(crate) fn functions_dir(&self) -> PathBuf {
        self.root.join("functions")
    }

    pub(crate) fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    fn unpacked_dir(&self) -> PathBuf {
        self.root.join("unpacked")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `LAMBDA_RUNTIME_DIR` of the workers: where the built-in bootstrap lives.
    pub(crate) fn runtime_dir(&self) -> PathBuf {
        self.root.join("runtime")
    }

    /// The S3 buckets served on the Lambda port (code over 50 MB comes through them).
    pub(crate) fn s3_dir(&self) -> PathBuf {
        self.root.join("s3")
    }

    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Compiled packages reinstalled for the interpreter that runs them (see `deps`).
    pub(crate) fn deps_dir(&self) -> PathBuf {
        self.root.join("deps")
    }

    pub(crate) fn bootstrap_path(&self) -> PathBuf {
        self.runtime_dir().join("bootstrap.py")
    }

    pub(crate) fn zygote_path(&self) -> PathBuf {
        self.runtime_dir().join("zygote.py")
    }

    pub(crate) fn code_path(&self, sha_hex: &str) -> PathBuf {
        self.code_dir().join(format!("{sha_hex}.zip"))
    }

    /// Where the zip with this hash is (or will be) extracted: a function's task root or a layer.
    pub(crate) fn unpacked(&self, sha_hex: &str) -> PathBuf {
        self.unpacked_dir().join(sha_hex)
    }

    /// Stores code under its hash; storing the same bytes again is a no-op.
    pub(crate) fn put_code(&self, sha_hex: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.code_path(sha_hex);
        match fs::metadata(&path) {
            Ok(m) if m.len() == bytes.len() as u64 => Ok(()),
            _ => write_atomic(&path, bytes),
        }
    }

    pub(crate) fn save_json<T: Serialize>(
        &self,
        dir: &Path,
        name: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let path = dir.join(format!("{name}.json"));
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError {
            path: path.clone(),
            error: std::io::Error::other(e),
        })?;
        write_atomic(&path, &bytes)
    }

    pub(crate) fn remove_json(&self, dir: &Path, name: &str) -> Result<(), StoreError> {
        let path = dir.join(format!("{name}.json"));
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(dir).map_err(StoreError::at(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError { path, error: e }),
        }
    }

    /// Every `*.json` in `dir`; a file that does not parse is skipped with a warning rather than
    /// keeping the whole local Lambda from starting.
    pub(crate) fn load_all<T: DeserializeOwned>(&self, dir: &Path) -> Vec<T> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(v) => out.push(v),
                Err(e) => tracing::warn!("skipping unreadable {}: {e}", path.display()),
            }
        }
        out
    }

    /// Extracts the zip with this hash unless already done; returns the directory.
    ///
    /// Extraction goes to a temporary sibling that is renamed into place, so a half-extracted
    /// tree is never mistaken for a complete one.
    pub(crate) fn ensure_unpacked(&self, sha_hex: &str) -> Result<PathBuf, String> {
        self.ensure_unpacked_from(sha_hex, None)
    }

    /// [`Store::ensure_unpacked`], reusing the files of `earlier`'s tree (the code it replaces)
    /// that are unchanged (`unpack::unpack_reusing`).
    pub(crate) fn ensure_unpacked_from(
        &self,
        sha_hex: &str,
        earlier: Option<&str>,
    ) -> Result<PathBuf, String> {
        let dest = self.unpacked(sha_hex);
        if dest.is_dir() {
            return Ok(dest);
        }
        if let Some(earlier) = earlier.filter(|e| self.unpacked(e).is_dir()) {
            let tmp = self
                .unpacked_dir()
                .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
            let (zip, earlier_zip) = (self.code_path(sha_hex), self.code_path(earlier));
            let reused =
                crate::unpack::unpack_reusing(&zip, &earlier_zip, &self.unpacked(earlier), &tmp);
            match reused {
                Ok(true) => return self.finish_unpack(&tmp, dest),
                Ok(false) => {}
                Err(e) => tracing::debug!("unpacking {sha_hex} from scratch: {e}"),
            }
        }
        let zip_path = self.code_path(sha_hex);
        let file = File::open(&zip_path)
            .map_err(|e| format!("cannot read {}: {e}", zip_path.display()))?;
        let mut archive = zip::ZipArchive::new(BufReader::new(file))
            .map_err(|e| format!("Could not unzip uploaded file: {e}"))?;
        let tmp = self
            .unpacked_dir()
            .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
        if let Err(e) = archive.extract(&tmp) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(format!("Could not unzip uploaded file: {e}"));
        }
        self.finish_unpack(&tmp, dest)
    }

    /// Moves a finished tree into place.
    fn finish_unpack(&self, tmp: &Path, dest: PathBuf) -> Result<PathBuf, String> {
        if let Err(e) = fs::rename(tmp, &dest) {
            let _ = fs::remove_dir_all(tmp);
            // Another task may have finished the same extraction first.
            if !dest.is_dir() {
                return Err(format!("cannot create {}: {e}", dest.display()));
            }
        }
        Ok(dest)
    }

    /// Removes code and unpacked trees no record references. Only called at startup, when no
    /// worker can be running from a tree being removed.
    pub(crate) fn collect_garbage(&self, keep: &HashSet<String>) {
        let sweep = |dir: PathBuf, strip_zip: bool| {
            let Ok(entries) = fs::read_dir(&dir) else {
                return;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let hash = if strip_zip {
                    name.strip_suffix(".zip").unwrap_or(&name).to_string()
                } else {
                    name.clone()
                };
                if keep.contains(&hash) {
                    continue;
                }
                let path = entry.path();
                let result = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                if let Err(e) = result {
                    tracing::warn!("cannot remove unused {}: {e}", path.display());
                }
            }
        };
        sweep(self.code_dir(), true);
        sweep(self.unpacked_dir(), false);
    }
}

/// Hex (for file names) and base64 (AWS's CodeSha256) of the SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> (String, String) {
    let digest = Sha256::digest(bytes);
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    (
        hex,
        base64::engine::general_purpose::STANDARD.encode(digest),
    )
}

/// Base64 of the SHA-256 whose hex is given, so records need to keep only the hex.
pub(crate) fn hex_to_b64(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(StoreError::at(path))
}

/// Makes a rename durable: the new directory entry itself must reach the disk.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_forms_agree() {
        let (hex, b64) = sha256(b"abc");
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex_to_b64(&hex), b64);
        assert_eq!(b64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }

    #[test]
    fn a_data_dir_serves_one_server_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        let err = lock(dir.path()).unwrap_err();
        assert!(matches!(err, LocalError::InUse { .. }), "{err}");
        drop(held);
        lock(dir.path()).unwrap();
    }

    #[test]
    fn unwritable_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let err = Store::open(&file.join("data")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not-a-dir"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}
