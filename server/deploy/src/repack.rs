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
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::analysis::{self, Import};
use crate::journal::{Drained, Journal};
use crate::zipper::{
    self, Compressed, Deflater, EntrySource, Header, Mark, Spare, ZipEntry, ZipError,
};

/// How old a file's times must be for its stamp to identify its content: above the timestamp
/// granularity of every file system Lambda code is likely to live on.
const SETTLE: Duration = Duration::from_secs(2);
/// The most a cache keeps (zips and their spare buffers); the least recently built go first.
const BUDGET: usize = 256 << 20;
/// The most packages watched at once (each journal is an inotify instance, of which a user has
/// 128 by default); the least recently built go unwatched.
const MAX_JOURNALS: usize = 8;
/// Fewer changed files than this are compressed on the calling thread.
const INLINE: usize = 16;

/// How a file looked when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    links: u64,
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
            links: meta.nlink(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn executable(&self) -> bool {
        self.mode & 0o111 != 0
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

/// How a file looked at a build: its stamp, and whether the journal vouched that it had not
/// changed since the last build read it (then the stamp is that build's).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    pub(crate) stamp: Option<Stamp>,
    vouched: bool,
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
    fn of(source: EntrySource, stamp: Option<Stamp>) -> Self {
        match (source, stamp) {
            (EntrySource::Bytes(b), _) => Origin::Bytes(b),
            (EntrySource::File { path, .. }, Some(s)) => Origin::File(path, s),
            (EntrySource::File { .. }, None) => Origin::Unknown,
        }
    }

    /// Whether `source` is made from this, without copying it.
    fn is(&self, source: &EntrySource, stamp: Option<Stamp>) -> bool {
        match (self, source, stamp) {
            (Origin::File(p, s), EntrySource::File { path, .. }, Some(t)) => p == path && *s == t,
            (Origin::Bytes(b), EntrySource::Bytes(c), _) => b == c,
            _ => false,
        }
    }
}

/// One entry of the last zip.
struct Laid {
    name: String,
    executable: bool,
    origin: Origin,
    /// Whether the stamp in `origin` identified the file's content when it was read: a later
    /// stat that finds the same stamp then proves it unchanged.
    settled: bool,
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
    journal: Option<Journal>,
    /// The watched folders' entries, as the walk read them.
    listings: HashMap<PathBuf, Listing>,
}

/// A folder's entries in name order.
pub(crate) type Listing = Arc<[Child]>;

/// One entry of a folder, as its listing tells it (links not followed).
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) name: OsString,
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Link,
    Other,
}

impl Previous {
    /// Where entry `name` lies, looked for first at `hint` (the same place in the new zip).
    fn index_of(&self, name: &str, hint: usize) -> Option<usize> {
        if self.laid.get(hint).is_some_and(|l| l.name == name) {
            return Some(hint);
        }
        self.laid
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
    }

    /// The stamp entry `name` had from `path` in this build, if it was trusted then.
    fn stamp_of(&self, name: &str, path: &Path, hint: usize) -> Option<Stamp> {
        let i = self.index_of(name, hint)?;
        match &self.laid[i].origin {
            Origin::File(p, s) if p == path => Some(*s),
            _ => None,
        }
    }

    /// The entry of this zip that `entry` (the `hint`th of the new one) can reuse.
    fn find(&self, entry: &ZipEntry, seen: Seen, hint: usize) -> Option<usize> {
        let i = self.index_of(&entry.name, hint)?;
        let l = &self.laid[i];
        let proven = seen.vouched || l.settled || matches!(l.origin, Origin::Bytes(_));
        (proven && l.origin.is(&entry.source, seen.stamp) && l.executable == entry.executable)
            .then_some(i)
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
        self.archive.capacity() + self.spare.capacity() + self.laid.len() * 320
    }
}

/// How a rebuild learns which files changed since the last build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrutiny {
    /// From the kernel's record of changes where it can tell (`journal.rs`): for the local
    /// Lambda, where the rebuild is on the way to a result the user waits for. Blind to a file
    /// hard-linked from outside the package's folders after it was looked at, and then written
    /// through that other name.
    Journal,
    /// From every file's metadata: for deploys to AWS, where a stale file would cost more than
    /// looking.
    EveryFile,
}

impl Scrutiny {
    /// How a deploy to the local Lambda (`local`) or to AWS learns what changed.
    pub fn for_target(local: bool) -> Scrutiny {
        if local {
            Scrutiny::Journal
        } else {
            Scrutiny::EveryFile
        }
    }
}

/// What a build may take from earlier builds.
#[derive(Clone, Copy)]
pub enum Reuse<'a> {
    /// Nothing: a build from scratch.
    Nothing,
    /// What `cache` holds, every file looked at to tell what changed.
    Stamps(&'a PackageCache),
    /// What `cache` holds, files looked at only where the journal cannot vouch for them.
    Journal(&'a PackageCache),
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
        let watched = slots.iter().filter(|(_, p)| p.journal.is_some()).count();
        let excess = watched.saturating_sub(MAX_JOURNALS);
        for (_, p) in slots
            .iter_mut()
            .filter(|(_, p)| p.journal.is_some())
            .take(excess)
        {
            p.journal = None;
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
    journal: Option<Journal>,
    /// What changed since the last build, when the journal knows; otherwise every file is
    /// looked at.
    drained: Option<Drained>,
    known_listings: HashMap<PathBuf, Listing>,
    listings: HashMap<PathBuf, Listing>,
    /// Files whose metadata this build read.
    looked_at: usize,
}

/// What the journal knows of the files in a folder.
#[derive(Debug, Clone, Copy)]
enum Known {
    /// The folder was not watched since before the last build.
    Nothing,
    /// No event in it since.
    Unchanged,
    /// Events for some of its files: those are looked at.
    Changes,
}

/// A finished zip.
pub(crate) struct Written {
    pub bytes: Arc<Vec<u8>>,
    pub sha256: [u8; 32],
    /// Entries copied from the last build instead of read and compressed.
    pub reused: usize,
    /// Files looked at (their metadata read); the others the journal vouched for.
    pub looked_at: usize,
}

impl<'a> Session<'a> {
    pub(crate) fn start(reuse: Reuse<'a>, key: Key) -> Self {
        let (cache, vouching) = match reuse {
            Reuse::Nothing => (None, false),
            Reuse::Stamps(c) => (Some(c), false),
            Reuse::Journal(c) => (Some(c), true),
        };
        let mut previous = cache.and_then(|c| c.take(&key));
        let known_imports = previous
            .as_mut()
            .map(|p| std::mem::take(&mut p.imports))
            .unwrap_or_default();
        let mut journal = previous.as_mut().and_then(|p| p.journal.take());
        // Drained even when not believed, so that the next build can believe it.
        let mut drained = journal.as_mut().and_then(Journal::drain);
        if drained.is_none() {
            journal = cache.and_then(|_| Journal::new());
        }
        drained = drained.filter(|_| vouching);
        let known_listings = match (&drained, previous.as_mut()) {
            (Some(_), Some(p)) => std::mem::take(&mut p.listings),
            _ => HashMap::new(),
        };
        Self {
            cache,
            key,
            now: SystemTime::now(),
            previous,
            known_imports,
            imports: HashMap::new(),
            journal,
            drained,
            known_listings,
            listings: HashMap::new(),
            looked_at: 0,
        }
    }

    /// A folder's entries: the last build's when the journal says none was created, deleted or
    /// renamed since; otherwise read, the folder watched first.
    pub(crate) fn list(&mut self, dir: &Path) -> std::io::Result<Listing> {
        let unchanged = self
            .drained
            .as_ref()
            .is_some_and(|d| !d.listings.contains(dir))
            && self.journal.as_ref().is_some_and(|j| j.watches(dir));
        if let Some(listing) = self.known_listings.remove(dir).filter(|_| unchanged) {
            self.listings.insert(dir.to_owned(), listing.clone());
            return Ok(listing);
        }
        let watched = self.journal.as_mut().is_some_and(|j| j.watch(dir));
        let listing = read_listing(dir)?;
        if watched {
            self.listings.insert(dir.to_owned(), listing.clone());
        }
        Ok(listing)
    }

    /// How each file looks now, in order: the last build's stamp for a file the journal saw no
    /// change to, otherwise a stat (on all cores when there are many).
    pub(crate) fn stamps(&mut self, files: &[(&str, &PathBuf)]) -> Vec<Seen> {
        // Files come folder by folder: what the journal knows of a folder is asked once.
        let mut folder: Option<(&Path, Known)> = None;
        let mut seen: Vec<Seen> = files
            .iter()
            .enumerate()
            .map(|(i, (name, path))| {
                let Some(parent) = path.parent() else {
                    return Seen::default();
                };
                let known = match folder {
                    Some((p, known)) if p == parent => known,
                    _ => {
                        let known = self.known(parent);
                        folder = Some((parent, known));
                        known
                    }
                };
                let stamp = match known {
                    Known::Nothing => None,
                    Known::Changes if self.touched(path) => None,
                    Known::Unchanged | Known::Changes => self.unchanged(name, path, i),
                };
                Seen {
                    stamp,
                    vouched: stamp.is_some(),
                }
            })
            .collect();
        let unknown: Vec<usize> = (0..files.len()).filter(|&i| !seen[i].vouched).collect();
        let paths: Vec<&PathBuf> = unknown.iter().map(|&i| files[i].1).collect();
        self.looked_at = paths.len();
        for (i, meta) in unknown.into_iter().zip(stat_all(&paths)) {
            seen[i].stamp = meta.as_ref().map(Stamp::of);
        }
        seen
    }

    /// What the journal knows of the files in `dir` since the last build.
    fn known(&self, dir: &Path) -> Known {
        let (Some(journal), Some(drained)) = (&self.journal, &self.drained) else {
            return Known::Nothing;
        };
        if !journal.watched_before(dir) {
            Known::Nothing
        } else if drained.folders.contains(dir) {
            Known::Changes
        } else {
            Known::Unchanged
        }
    }

    fn touched(&self, path: &Path) -> bool {
        self.drained
            .as_ref()
            .is_some_and(|d| d.paths.contains(path))
    }

    /// The last build's stamp of `path` (about the `hint`th entry), for a file the journal saw
    /// no change to.
    fn unchanged(&self, name: &str, path: &Path, hint: usize) -> Option<Stamp> {
        // A file with other names can be written through one in a folder no one watches.
        self.previous
            .as_ref()?
            .stamp_of(name, path, hint)
            .filter(|s| s.links == 1)
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
        seen: Vec<Seen>,
    ) -> Result<Written, ZipError> {
        let Some(cache) = self.cache else {
            let archive = zipper::write_zip(entries)?;
            return Ok(Written {
                bytes: Arc::new(archive.bytes),
                sha256: archive.sha256,
                reused: 0,
                looked_at: self.looked_at,
            });
        };
        let built = match self.previous.take() {
            Some(previous) => rebuild(&entries, &seen, previous)?,
            None => Built::from(zipper::write_sorted(&entries)?),
        };
        let laid = entries
            .into_iter()
            .zip(seen)
            .zip(built.marks)
            .map(|((entry, seen), mark)| Laid {
                name: entry.name,
                executable: entry.executable,
                origin: Origin::of(entry.source, seen.stamp),
                // A stamp identifies a file's content only once it has settled.
                settled: seen.stamp.is_some_and(|s| s.settled(self.now)),
                mark,
            })
            .collect();
        let written = Written {
            bytes: built.bytes.clone(),
            sha256: built.sha256,
            reused: built.reused,
            looked_at: self.looked_at,
        };
        let previous = Previous {
            archive: built.bytes,
            sha256: built.sha256,
            spare: built.spare,
            laid,
            central_at: built.central_at,
            imports: std::mem::take(&mut self.imports),
            journal: self.journal.take(),
            listings: std::mem::take(&mut self.listings),
        };
        cache.put(self.key, previous);
        Ok(written)
    }
}

fn read_listing(dir: &Path) -> std::io::Result<Listing> {
    let mut children: Vec<Child> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| {
            let kind = match e.file_type() {
                Ok(t) if t.is_symlink() => Kind::Link,
                Ok(t) if t.is_dir() => Kind::Dir,
                Ok(t) if t.is_file() => Kind::File,
                _ => Kind::Other,
            };
            Child {
                name: e.file_name(),
                kind,
            }
        })
        .collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(children.into())
}

/// Each file's metadata, on all cores when there are many.
fn stat_all(paths: &[&PathBuf]) -> Vec<Option<std::fs::Metadata>> {
    const PER_THREAD: usize = 1024;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(paths.len().div_ceil(PER_THREAD))
        .max(1);
    let stat = |chunk: &[&PathBuf]| -> Vec<Option<std::fs::Metadata>> {
        chunk.iter().map(|p| std::fs::metadata(p).ok()).collect()
    };
    if threads == 1 {
        return stat(paths);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(paths.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || stat(chunk)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("stat does not panic"))
            .collect()
    })
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
fn rebuild(entries: &[ZipEntry], seen: &[Seen], mut previous: Previous) -> Result<Built, ZipError> {
    if entries.len() > zipper::MAX_ENTRIES {
        return Err(ZipError::TooManyEntries(entries.len()));
    }
    let pieces = pieces(entries, seen, &previous)?;
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
    let (prefix_end, hasher) = match previous.laid.get(same) {
        Some(l) => (l.mark.start, l.mark.hasher.clone()),
        None => previous.central_at.clone(),
    };
    let mut out = std::mem::take(&mut previous.spare);
    // The entries from the first that differs on: an earlier zip's bytes or a fresh entry's.
    let fresh = fresh_entries(&entries[same..], &pieces[same..])?;
    let mut fresh_iter = fresh.iter();
    let tail: Vec<(&[u8], Header)> = pieces[same..]
        .iter()
        .map(|piece| match piece {
            Piece::Reused(j) => (
                &previous.archive[previous.span(*j)],
                previous.laid[*j].mark.header,
            ),
            Piece::Fresh(_) => {
                let (bytes, h) = fresh_iter.next().expect("one fresh entry per fresh piece");
                (bytes.as_slice(), *h)
            }
        })
        .collect();
    let mut marks: Vec<Mark> = previous.laid[..same]
        .iter()
        .map(|l| l.mark.clone())
        .collect();
    let hasher = lay_tail(
        &mut out,
        &previous.archive[..prefix_end],
        &tail,
        hasher,
        &mut marks,
    );
    drop(tail);
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

/// Each fresh entry among `entries` as it lies in a zip: local header, name and data.
fn fresh_entries(
    entries: &[ZipEntry],
    pieces: &[Piece],
) -> Result<Vec<(Vec<u8>, Header)>, ZipError> {
    entries
        .iter()
        .zip(pieces)
        .filter_map(|(entry, piece)| match piece {
            Piece::Fresh(c) => Some(c.header().map(|h| {
                let mut bytes = Vec::with_capacity(30 + entry.name.len() + c.data.len());
                zipper::local_entry(&mut bytes, &entry.name, &h, &c.data);
                (bytes, h)
            })),
            Piece::Reused(_) => None,
        })
        .collect()
}

/// Writes `prefix` then the `tail` entries into `out` (emptied), marking where each entry lies
/// and hashing the tail from `hasher` on: the hash after it.
fn lay_tail(
    out: &mut Vec<u8>,
    prefix: &[u8],
    tail: &[(&[u8], Header)],
    hasher: Sha256,
    marks: &mut Vec<Mark>,
) -> Sha256 {
    out.clear();
    // Exactly, with a little room: doubling would take fresh pages for the whole zip.
    let needed = prefix.len() + tail.iter().map(|(b, _)| b.len()).sum::<usize>();
    out.reserve_exact(needed + needed / 64);
    // Hashing what changed is the longest part: it runs beside the copying.
    let (states, hasher) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| hash_pieces(hasher, tail));
        out.extend_from_slice(prefix);
        for (bytes, _) in tail {
            out.extend_from_slice(bytes);
        }
        hashing.join().expect("hashing does not panic")
    });
    let mut start = prefix.len();
    for ((bytes, header), hasher) in tail.iter().zip(states) {
        marks.push(Mark {
            start,
            header: *header,
            hasher,
        });
        start += bytes.len();
    }
    hasher
}

/// The SHA-256 state before each piece, and after the last.
fn hash_pieces(mut hasher: Sha256, pieces: &[(&[u8], Header)]) -> (Vec<Sha256>, Sha256) {
    let states = pieces
        .iter()
        .map(|(bytes, _)| {
            let before = hasher.clone();
            hasher.update(bytes);
            before
        })
        .collect();
    (states, hasher)
}

/// Each entry reused from `previous` or compressed anew (on all cores when there are many).
fn pieces(
    entries: &[ZipEntry],
    seen: &[Seen],
    previous: &Previous,
) -> Result<Vec<Piece>, ZipError> {
    let reuse: Vec<Option<usize>> = entries
        .iter()
        .zip(seen)
        .enumerate()
        .map(|(i, (e, s))| previous.find(e, *s, i))
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

    #[test]
    fn only_the_local_lambda_trusts_the_journal() {
        assert_eq!(Scrutiny::for_target(true), Scrutiny::Journal);
        assert_eq!(Scrutiny::for_target(false), Scrutiny::EveryFile);
    }

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
    }
}
