//! What changed in a package's folders since its last build, as the kernel's inotify queue tells
//! it, so that a rebuild looks again only at what changed instead of at every file.
//!
//! A folder is watched before it is listed, and a build drains the queue before it walks: the
//! kernel queues a change's event before the write that made it returns, so a file with no event
//! since the last build still has the content that build read (or trusted, back to the build
//! that began the journal). Where the queue cannot tell, a build looks at every file, as without
//! a journal: when it overflowed; when a watched folder was deleted, moved or unmounted (its
//! events would carry a stale path); when a folder could not be watched or is on a file system
//! whose files may change elsewhere (only local disk and memory file systems are watched, not
//! network or FUSE mounts); for a file with other hard links (written through a name in another
//! folder, it raises no event here); and on systems without inotify. A file changed through a
//! shared memory map raises no event either: that is not how source files are written.

#[cfg(target_os = "linux")]
pub(crate) use linux::Journal;

#[cfg(not(target_os = "linux"))]
pub(crate) use other::Journal;

use std::collections::HashSet;
use std::path::PathBuf;

/// The most folders one package's journal watches; a larger package is looked at file by file.
const MAX_WATCHES: usize = 16_384;

/// What the queue held since the last drain.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    /// Watched folders whose entries were created, deleted or renamed: listed again.
    pub(crate) listings: HashSet<PathBuf>,
    /// Paths in watched folders that had any event: looked at again.
    pub(crate) paths: HashSet<PathBuf>,
    /// The folders of `paths`.
    pub(crate) folders: HashSet<PathBuf>,
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

    use super::{Drained, MAX_WATCHES};

    /// File systems whose every change goes through this kernel: ext2/3/4, XFS, Btrfs, tmpfs,
    /// F2FS, ZFS.
    const LOCAL: [i64; 6] = [
        0xEF53,
        0x5846_5342,
        0x9123_683E,
        0x0102_1994,
        0xF2F5_2010,
        0x2FC1_2FC1,
    ];

    /// One package's watched folders and their queue.
    pub(crate) struct Journal {
        inotify: Inotify,
        dirs: HashMap<WatchDescriptor, PathBuf>,
        /// Each watched folder and the build that began watching it.
        watched: HashMap<PathBuf, u64>,
        /// Builds so far, counting the one under way.
        builds: u64,
    }

    impl Journal {
        pub(crate) fn new() -> Option<Journal> {
            Some(Journal {
                inotify: Inotify::init().ok()?,
                dirs: HashMap::new(),
                watched: HashMap::new(),
                builds: 1,
            })
        }

        /// Watches `dir` (a real path, before it is listed); false when it is not watched, and
        /// then nothing in it is known from the journal.
        pub(crate) fn watch(&mut self, dir: &Path) -> bool {
            if self.watched.contains_key(dir) {
                return true;
            }
            if self.watched.len() >= MAX_WATCHES || !on_local_disk(dir) {
                return false;
            }
            let mask = WatchMask::MODIFY
                | WatchMask::ATTRIB
                | WatchMask::CLOSE_WRITE
                | WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::MOVED_FROM
                | WatchMask::MOVED_TO
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF
                | WatchMask::DONT_FOLLOW
                | WatchMask::ONLYDIR;
            let Ok(wd) = self.inotify.watches().add(dir, mask) else {
                return false;
            };
            // The same folder under a second path (a bind mount): its events keep the first path,
            // and files under the second are looked at every time.
            match self.dirs.entry(wd) {
                std::collections::hash_map::Entry::Occupied(_) => return false,
                std::collections::hash_map::Entry::Vacant(v) => v.insert(dir.to_owned()),
            };
            self.watched.insert(dir.to_owned(), self.builds);
            true
        }

        /// Whether every change in `dir` since it was watched is in the queue.
        pub(crate) fn watches(&self, dir: &Path) -> bool {
            self.watched.contains_key(dir)
        }

        /// Whether `dir` was watched before the last build looked at its files, so every change
        /// since then is in the queue.
        pub(crate) fn watched_before(&self, dir: &Path) -> bool {
            self.watched.get(dir).is_some_and(|&b| b < self.builds)
        }

        /// Everything queued since the last drain, at the start of a build; `None` when the
        /// queue cannot be trusted (the journal is then of no further use).
        pub(crate) fn drain(&mut self) -> Option<Drained> {
            self.builds += 1;
            let mut drained = Drained::default();
            let mut buffer = [0u8; 16 << 10];
            loop {
                let events = match self.inotify.read_events(&mut buffer) {
                    Ok(events) => events,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(drained),
                    Err(_) => return None,
                };
                for event in events {
                    let untrusted = EventMask::Q_OVERFLOW
                        | EventMask::IGNORED
                        | EventMask::DELETE_SELF
                        | EventMask::MOVE_SELF
                        | EventMask::UNMOUNT;
                    if event.mask.intersects(untrusted) {
                        return None;
                    }
                    let (Some(dir), Some(name)) = (self.dirs.get(&event.wd), event.name) else {
                        return None;
                    };
                    let entries = EventMask::CREATE
                        | EventMask::DELETE
                        | EventMask::MOVED_FROM
                        | EventMask::MOVED_TO;
                    if event.mask.intersects(entries) {
                        drained.listings.insert(dir.clone());
                    }
                    drained.paths.insert(dir.join(name));
                    drained.folders.insert(dir.clone());
                }
            }
        }
    }

    fn on_local_disk(dir: &Path) -> bool {
        let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        let mut fs = std::mem::MaybeUninit::<libc::statfs>::uninit();
        // SAFETY: `path` is a valid C string and `fs` is written by statfs before it is read.
        if unsafe { libc::statfs(path.as_ptr(), fs.as_mut_ptr()) } != 0 {
            return false;
        }
        // SAFETY: statfs returned 0, so it filled `fs`.
        let kind = unsafe { fs.assume_init() }.f_type;
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        LOCAL.contains(&(i64::from(kind) & 0xFFFF_FFFF))
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    use std::path::Path;

    use super::Drained;

    /// No inotify here: every build looks at every file.
    pub(crate) enum Journal {}

    impl Journal {
        pub(crate) fn new() -> Option<Journal> {
            None
        }

        pub(crate) fn watch(&mut self, _dir: &Path) -> bool {
            match *self {}
        }

        pub(crate) fn watches(&self, _dir: &Path) -> bool {
            match *self {}
        }

        pub(crate) fn watched_before(&self, _dir: &Path) -> bool {
            match *self {}
        }

        pub(crate) fn drain(&mut self) -> Option<Drained> {
            match *self {}
        }
    }
}
