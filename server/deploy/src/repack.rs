//! Incremental repackaging: what the last build of a function's package left behind (its zip,
//! where each entry lies in it, the SHA-256 state before each entry, the imports of each module),
//! so that after a one-file edit only that file is read and compressed and only the bytes after
//! it are hashed again, and the zip is byte-identical to a build from scratch.
//!
//! An entry is reused only when its file has the same path, device, inode, size, mode and
//! modification and change times (to the nanosecond) as when it was read, and its change time
//! was settled then: older than [`SETTLE`] before the build began. The kernel sets the change
//! time to the current time on every write (no one can set it back, unlike the modification
//! time), so a later write changes the stamp; but a file rewritten within one timestamp tick of
//! being read could keep its stamp with new content (git's "racy" files), so an unsettled file
//! is read again next time. A cold or stale cache only costs time: whatever is not known to be
//! unchanged is compressed again.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::analysis::{self, Import};
use crate::zipper::{self, Compressed, Deflater, EntrySource, Mark, Spare, ZipEntry, ZipError};

/// How old a file's times must be for its stamp to identify its content: above the timestamp
/// granularity of every file system Lambda code is likely to live on.
const SETTLE: Duration = Duration::from_secs(2);
/// The most a cache keeps (zips and their spare buffers); the least recently built go first.
const BUDGET: usize = 256 << 20;
/// Fewer changed files than this are compressed on the calling thread.
const INLINE: usize = 16;

/// How a file looked when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether any write after `now` would change this stamp: its change time is [`SETTLE`]
    /// older (the modification time may be anything: it can be set, even into the future).
    fn settled(&self, now: SystemTime) -> bool {
        let Some(limit) = now
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| d.checked_sub(SETTLE))
        else {
            return false;
        };
        let limit = (limit.as_secs() as i64, i64::from(limit.subsec_nanos()));
        self.ctime < limit
    }
}

/// What an entry's bytes were made from, as far as it identifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    File(PathBuf, Stamp),
    Bytes(Vec<u8>),
    /// Unreadable, or changed too recently to trust its stamp: never reused.
    Unknown,
}

impl Origin {
    fn of(entry: &ZipEntry, stamp: Option<Stamp>, now: SystemTime) -> Self {
        match (&entry.source, stamp) {
            (EntrySource::Bytes(b), _) => Origin::Bytes(b.clone()),
            (EntrySource::File { path, .. }, Some(s)) if s.settled(now) => {
                Origin::File(path.clone(), s)
            }
            (EntrySource::File { .. }, _) => Origin::Unknown,
        }
    }
}

/// One entry of the last zip.
struct Laid {
    name: String,
    executable: bool,
    origin: Origin,
    mark: Mark,
}

/// The last build of one function's package.
struct Previous {
    archive: Arc<Vec<u8>>,
    sha256: [u8; 32],
    /// The zip before last, kept to write the next one into without fresh pages.
    spare: Vec<u8>,
    /// In name order, as in the zip.
    laid: Vec<Laid>,
    central_at: (usize, Sha256),
    imports: HashMap<PathBuf, (Stamp, Vec<Import>)>,
}

impl Previous {
    fn find(&self, entry: &ZipEntry, origin: &Origin) -> Option<usize> {
        if *origin == Origin::Unknown {
            return None;
        }
        let i = self
            .laid
            .binary_search_by(|l| l.name.as_str().cmp(&entry.name))
            .ok()?;
        let l = &self.laid[i];
        (l.origin == *origin && l.executable == entry.executable).then_some(i)
    }

    /// Entry `i`'s local header and data.
    fn span(&self, i: usize) -> std::ops::Range<usize> {
        let end = self
            .laid
            .get(i + 1)
            .map_or(self.central_at.0, |l| l.mark.start);
        self.laid[i].mark.start..end
    }

    /// Whether entry `i` of the new zip is byte for byte entry `i` of this one.
    fn same_at(&self, i: usize, entry: &ZipEntry, piece: &Piece) -> bool {
        match piece {
            Piece::Reused(j) => *j == i,
            Piece::Fresh(c) => self.laid.get(i).is_some_and(|l| {
                let data = self.span(i).start + 30 + l.name.len()..self.span(i).end;
                l.name == entry.name
                    && l.executable == entry.executable
                    && c.header().ok() == Some(l.mark.header)
                    && self.archive[data] == c.data[..]
            }),
        }
    }

    fn retained(&self) -> usize {
        self.archive.capacity() + self.spare.capacity() + self.laid.len() * 256
    }
}

/// Identifies a function's package across builds: its file and function.
pub(crate) type Key = (PathBuf, String);

/// Packages built before, kept in memory by a long-lived process (the language server, `watch`)
/// so the next build of the same function redoes only what changed.
pub struct PackageCache {
    /// Least recently built first.
    slots: Mutex<Vec<(Key, Previous)>>,
}

impl Default for PackageCache {
    fn default() -> Self {
        Self::new()
    }
}

impl PackageCache {
    pub const fn new() -> Self {
        Self {
            slots: Mutex::new(Vec::new()),
        }
    }

    /// The cache every deploy in this process shares.
    pub fn process() -> &'static PackageCache {
        static PROCESS: PackageCache = PackageCache::new();
        &PROCESS
    }

    /// Empties the cache, as after a restart.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Key, Previous)>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a function's last build out, so a concurrent build of it starts cold instead of
    /// sharing it.
    fn take(&self, key: &Key) -> Option<Previous> {
        let mut slots = self.lock();
        let i = slots.iter().position(|(k, _)| k == key)?;
        Some(slots.remove(i).1)
    }

    fn put(&self, key: Key, previous: Previous) {
        let mut slots = self.lock();
        slots.retain(|(k, _)| *k != key);
        slots.push((key, previous));
        while slots.iter().map(|(_, p)| p.retained()).sum::<usize>() > BUDGET {
            slots.remove(0);
        }
    }
}

/// One build, against what a cache (if any) held for its function.
pub(crate) struct Session<'a> {
    cache: Option<&'a PackageCache>,
    key: Key,
    now: SystemTime,
    previous: Option<Previous>,
    known_imports: HashMap<PathBuf, (Stamp, Vec<Import>)>,
    imports: HashMap<PathBuf, (Stamp, Vec<Import>)>,
}

/// A finished zip.
pub(crate) struct Written {
    pub bytes: Arc<Vec<u8>>,
    pub sha256: [u8; 32],
    /// Entries copied from the last build instead of read and compressed.
    pub reused: usize,
}

impl<'a> Session<'a> {
    pub(crate) fn start(cache: Option<&'a PackageCache>, key: Key) -> Self {
        let mut previous = cache.and_then(|c| c.take(&key));
        let known_imports = previous
            .as_mut()
            .map(|p| std::mem::take(&mut p.imports))
            .unwrap_or_default();
        Self {
            cache,
            key,
            now: SystemTime::now(),
            previous,
            known_imports,
            imports: HashMap::new(),
        }
    }

    /// The imports of a module: parsed again only when the file changed since the last build.
    pub(crate) fn imports_of(&mut self, path: &Path) -> Option<Vec<Import>> {
        let stamp = std::fs::metadata(path).ok().map(|m| Stamp::of(&m));
        if let (Some(s), Some((known, imports))) = (stamp, self.known_imports.remove(path)) {
            if s == known {
                self.imports.insert(path.to_owned(), (s, imports.clone()));
                return Some(imports);
            }
        }
        let source = std::fs::read_to_string(path).ok()?;
        let imports = analysis::analyze(&source).imports;
        if let Some(s) = stamp.filter(|s| self.cache.is_some() && s.settled(self.now)) {
            self.imports.insert(path.to_owned(), (s, imports.clone()));
        }
        Some(imports)
    }

    /// Writes the zip of `entries` (in name order, unique; `stamps` beside them), reusing what
    /// the cache held, and leaves this build in the cache.
    pub(crate) fn write(
        mut self,
        entries: Vec<ZipEntry>,
        stamps: Vec<Option<Stamp>>,
    ) -> Result<Written, ZipError> {
        let Some(cache) = self.cache else {
            let archive = zipper::write_zip(entries)?;
            return Ok(Written {
                bytes: Arc::new(archive.bytes),
                sha256: archive.sha256,
                reused: 0,
            });
        };
        let origins: Vec<Origin> = entries
            .iter()
            .zip(stamps)
            .map(|(e, s)| Origin::of(e, s, self.now))
            .collect();
        let keys: Vec<(String, bool)> = entries
            .iter()
            .map(|e| (e.name.clone(), e.executable))
            .collect();
        let built = match self.previous.take() {
            Some(previous) => rebuild(&entries, &origins, previous)?,
            None => Built::from(zipper::write_zip(entries)?),
        };
        let laid = keys
            .into_iter()
            .zip(origins)
            .zip(built.marks)
            .map(|(((name, executable), origin), mark)| Laid {
                name,
                executable,
                origin,
                mark,
            })
            .collect();
        let written = Written {
            bytes: built.bytes.clone(),
            sha256: built.sha256,
            reused: built.reused,
        };
        let previous = Previous {
            archive: built.bytes,
            sha256: built.sha256,
            spare: built.spare,
            laid,
            central_at: built.central_at,
            imports: std::mem::take(&mut self.imports),
        };
        cache.put(self.key, previous);
        Ok(written)
    }
}

/// A zip and where its entries lie.
struct Built {
    bytes: Arc<Vec<u8>>,
    sha256: [u8; 32],
    reused: usize,
    marks: Vec<Mark>,
    central_at: (usize, Sha256),
    spare: Vec<u8>,
}

impl From<zipper::Archive> for Built {
    fn from(a: zipper::Archive) -> Self {
        Self {
            bytes: Arc::new(a.bytes),
            sha256: a.sha256,
            reused: 0,
            marks: a.marks,
            central_at: a.central_at,
            spare: Vec::new(),
        }
    }
}

/// Where an entry's bytes come from in an incremental build.
enum Piece {
    /// Entry `usize` of the last zip, as it was.
    Reused(usize),
    Fresh(Compressed),
}

/// The zip of `entries`, copying unchanged entries out of `previous` and resuming its hash at
/// the first entry that differs.
fn rebuild(
    entries: &[ZipEntry],
    origins: &[Origin],
    mut previous: Previous,
) -> Result<Built, ZipError> {
    if entries.len() > zipper::MAX_ENTRIES {
        return Err(ZipError::TooManyEntries(entries.len()));
    }
    let pieces = pieces(entries, origins, &previous)?;
    let reused = pieces
        .iter()
        .filter(|p| matches!(p, Piece::Reused(_)))
        .count();
    let same = entries
        .iter()
        .zip(&pieces)
        .enumerate()
        .take_while(|(i, (e, p))| previous.same_at(*i, e, p))
        .count();
    if same == entries.len() && same == previous.laid.len() {
        return Ok(Built {
            bytes: previous.archive.clone(),
            sha256: previous.sha256,
            reused,
            marks: previous.laid.iter().map(|l| l.mark.clone()).collect(),
            central_at: previous.central_at.clone(),
            spare: std::mem::take(&mut previous.spare),
        });
    }
    let (prefix_end, mut hasher) = match previous.laid.get(same) {
        Some(l) => (l.mark.start, l.mark.hasher.clone()),
        None => previous.central_at.clone(),
    };
    let mut out = std::mem::take(&mut previous.spare);
    out.clear();
    // Exactly, with a little room: doubling would take fresh pages for the whole zip.
    let needed = previous.archive.len() + fresh_bytes(&pieces);
    out.reserve_exact(needed + needed / 64);
    out.extend_from_slice(&previous.archive[..prefix_end]);
    let mut marks: Vec<Mark> = previous.laid[..same]
        .iter()
        .map(|l| l.mark.clone())
        .collect();
    for (entry, piece) in entries.iter().zip(&pieces).skip(same) {
        let start = out.len();
        let header = match piece {
            Piece::Reused(j) => {
                out.extend_from_slice(&previous.archive[previous.span(*j)]);
                previous.laid[*j].mark.header
            }
            Piece::Fresh(c) => {
                let header = c.header()?;
                zipper::local_entry(&mut out, &entry.name, &header, &c.data);
                header
            }
        };
        marks.push(Mark {
            start,
            header,
            hasher: hasher.clone(),
        });
        hasher.update(&out[start..]);
    }
    let mut central = Vec::with_capacity(entries.len() * (46 + 40));
    for (entry, mark) in entries.iter().zip(&marks) {
        zipper::central_record(&mut central, entry, mark)?;
    }
    let archive = zipper::finish(out, &central, hasher, marks)?;
    let mut built = Built::from(archive);
    built.reused = reused;
    // The caller of the last build has dropped its zip by now (or still holds it: then the
    // next build takes fresh pages).
    built.spare = Arc::try_unwrap(previous.archive).unwrap_or_default();
    Ok(built)
}

fn fresh_bytes(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Fresh(c) => c.data.len() + 64,
            Piece::Reused(_) => 0,
        })
        .sum()
}

/// Each entry reused from `previous` or compressed anew (on all cores when there are many).
fn pieces(
    entries: &[ZipEntry],
    origins: &[Origin],
    previous: &Previous,
) -> Result<Vec<Piece>, ZipError> {
    let reuse: Vec<Option<usize>> = entries
        .iter()
        .zip(origins)
        .map(|(e, o)| previous.find(e, o))
        .collect();
    let missing: Vec<usize> = (0..entries.len()).filter(|&i| reuse[i].is_none()).collect();
    let mut fresh: HashMap<usize, Result<Compressed, ZipError>> = compress(entries, &missing);
    reuse
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            Some(j) => Ok(Piece::Reused(j)),
            None => fresh
                .remove(&i)
                .expect("every missing entry was compressed")
                .map(Piece::Fresh),
        })
        .collect()
}

/// Compresses `entries[i]` for each `i` of `which`.
fn compress(entries: &[ZipEntry], which: &[usize]) -> HashMap<usize, Result<Compressed, ZipError>> {
    let spare = Spare::default();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if which.len() < INLINE || threads == 1 {
        let mut d = Deflater::new();
        return which
            .iter()
            .map(|&i| (i, d.compress(&entries[i], &spare)))
            .collect();
    }
    let spare = &spare;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut d = Deflater::new();
                    which
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|&i| (i, d.compress(&entries[i], spare)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("compressing does not panic"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file just written may be written again within the same timestamp tick without its
    /// stamp changing: it is not trusted until its change time is [`SETTLE`] old.
    #[test]
    fn a_stamp_is_trusted_only_once_its_change_time_has_settled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.py");
        std::fs::write(&path, "x = 1\n").unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
        let now = SystemTime::now();
        assert!(!stamp.settled(now));
        assert!(!stamp.settled(now + SETTLE / 2));
        assert!(stamp.settled(now + SETTLE + Duration::from_millis(50)));
        // A modification time set far into the past changes nothing: the change time tells.
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(1)).unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
        assert!(!stamp.settled(SystemTime::now()));
        let entry = ZipEntry {
            name: "m.py".into(),
            source: EntrySource::File {
                path: path.clone(),
                len: 6,
            },
            executable: false,
        };
        assert_eq!(Origin::of(&entry, Some(stamp), now), Origin::Unknown);
    }
}
