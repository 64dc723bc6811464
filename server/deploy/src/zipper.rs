//! A deterministic zip writer: same files in, same bytes out, compressed on all cores.
//!
//! Entries are sorted by archive name, carry the DOS epoch as their time, fixed Unix
//! permissions and no extra fields, so the SHA-256 of the archive is a stable code identity
//! that matches Lambda's `CodeSha256`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use libdeflater::{CompressionLvl, Compressor};
use sha2::{Digest, Sha256};

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub enum EntrySource {
    /// A file and its size when it was listed: the size only reserves room for the archive up
    /// front; what is read is what goes in.
    File {
        path: PathBuf,
        len: u64,
    },
    Bytes(Vec<u8>),
}

/// One file of the archive.
#[derive(Debug, Clone)]
pub struct ZipEntry {
    /// Path inside the archive, `/`-separated, relative.
    pub name: String,
    pub source: EntrySource,
    pub executable: bool,
}

impl ZipEntry {
    /// The uncompressed size, as listed.
    pub fn size(&self) -> u64 {
        match &self.source {
            EntrySource::File { len, .. } => *len,
            EntrySource::Bytes(b) => b.len() as u64,
        }
    }
}

/// A compressed entry waiting to be laid out.
pub(crate) struct Compressed {
    crc: u32,
    method: u16,
    raw_len: u64,
    pub(crate) data: Vec<u8>,
}

impl Compressed {
    /// What the entry's headers say about these bytes.
    pub(crate) fn header(&self) -> Result<Header, ZipError> {
        Ok(Header {
            crc: self.crc,
            method: self.method,
            comp_len: u32::try_from(self.data.len()).map_err(|_| ZipError::TooLarge)?,
            raw_len: u32::try_from(self.raw_len).map_err(|_| ZipError::TooLarge)?,
        })
    }
}

/// What an entry's local header and central directory record say about its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    crc: u32,
    method: u16,
    comp_len: u32,
    raw_len: u32,
}

/// Where an entry was laid out, with its header and the archive's hash state just before it:
/// what an incremental build (`crate::repack`) reuses and resumes hashing from.
#[derive(Clone)]
pub(crate) struct Mark {
    /// Offset of the entry's local header.
    pub(crate) start: usize,
    pub(crate) header: Header,
    pub(crate) hasher: Sha256,
}

/// 1980-01-01 00:00:00 in DOS date format: the earliest a zip can say, and always the same.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;
/// Bit 11: names are UTF-8.
const FLAGS: u16 = 0x0800;
const VERSION_NEEDED: u16 = 20;
/// Made by Unix (3), spec 2.0, so the external attributes carry a Unix mode.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
const METHOD_STORE: u16 = 0;
const METHOD_DEFLATE: u16 = 8;
pub(crate) const MAX_ENTRIES: usize = u16::MAX as usize;

#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} files is more than a zip without ZIP64 can hold ({MAX_ENTRIES})")]
    TooManyEntries(usize),
    #[error("the archive would exceed 4 GiB, which Lambda cannot take anyway")]
    TooLarge,
}

/// libdeflate's level 4: on Python source it compresses about 1.6× as fast as zlib's level 6 for
/// about 1% more bytes (bench/README.md). Changing it changes every zip, so every CodeSha256.
const LEVEL: i32 = 4;

/// One compression thread's reusable state: libdeflate's tables, an input and an output buffer.
pub(crate) struct Deflater {
    compressor: Compressor,
    input: Vec<u8>,
    scratch: Vec<u8>,
}

impl Deflater {
    pub(crate) fn new() -> Self {
        let level = CompressionLvl::new(LEVEL).expect("LEVEL is one of libdeflate's levels");
        Self {
            compressor: Compressor::new(level),
            input: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Compresses one entry into a buffer from `spare` (or a new one).
    pub(crate) fn compress(
        &mut self,
        entry: &ZipEntry,
        spare: &Spare,
    ) -> Result<Compressed, ZipError> {
        let raw: &[u8] = match &entry.source {
            EntrySource::Bytes(b) => b,
            EntrySource::File { path, .. } => {
                self.input.clear();
                std::fs::File::open(path)
                    .and_then(|mut f| f.read_to_end(&mut self.input))
                    .map_err(|source| ZipError::Read {
                        path: path.clone(),
                        source,
                    })?;
                &self.input
            }
        };
        // An output buffer one byte short of the input: whatever does not fit is not worth
        // deflating and is stored instead.
        let room = raw.len().saturating_sub(1);
        if self.scratch.len() < room {
            self.scratch.resize(room, 0);
        }
        let (method, bytes) = match self
            .compressor
            .deflate_compress(raw, &mut self.scratch[..room])
        {
            Ok(n) => (METHOD_DEFLATE, &self.scratch[..n]),
            Err(libdeflater::CompressionError::InsufficientSpace) => (METHOD_STORE, raw),
        };
        let mut data = spare
            .lock()
            .expect("no thread panics holding it")
            .pop()
            .unwrap_or_default();
        data.clear();
        data.extend_from_slice(bytes);
        Ok(Compressed {
            crc: libdeflater::crc32(raw),
            method,
            raw_len: raw.len() as u64,
            data,
        })
    }
}

/// A finished archive and the SHA-256 of its bytes (Lambda's `CodeSha256`, before base64).
pub struct Archive {
    pub bytes: Vec<u8>,
    pub sha256: [u8; 32],
    /// Each entry's place, in name order.
    pub(crate) marks: Vec<Mark>,
    /// Where the central directory starts, and the hash state there.
    pub(crate) central_at: (usize, Sha256),
}

/// Buffers the layout thread has copied out, for the workers to fill again: without them each
/// entry would take fresh memory, which costs a page fault per page in a VM.
pub(crate) type Spare = Mutex<Vec<Vec<u8>>>;

/// Entries a worker takes at once, so the layout thread wakes once per batch, not per file.
const BATCH: usize = 8;

type Batch = Vec<(usize, Result<Compressed, ZipError>)>;

/// Compresses every entry on all cores and lays them out in name order.
///
/// Workers take the next batch of entries from a shared counter and hand back their compressed
/// bytes; this thread appends them in name order as they arrive and hashes as it goes. So
/// laying out and hashing overlap compression, and the only large allocation is the archive.
pub fn write_zip(mut entries: Vec<ZipEntry>) -> Result<Archive, ZipError> {
    if entries.len() > MAX_ENTRIES {
        return Err(ZipError::TooManyEntries(entries.len()));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    write_sorted(&entries)
}

/// [`write_zip`] of entries already in name order and unique.
pub(crate) fn write_sorted(entries: &[ZipEntry]) -> Result<Archive, ZipError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(entries.len().div_ceil(BATCH).max(1));
    let next = AtomicUsize::new(0);
    let spare = Spare::default();
    let (tx, rx) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, spare) = (&next, &spare);
            scope.spawn(move || {
                let mut deflater = Deflater::new();
                loop {
                    let first = next.fetch_add(BATCH, Ordering::Relaxed);
                    if first >= entries.len() {
                        break;
                    }
                    let batch: Batch = (first..entries.len().min(first + BATCH))
                        .map(|i| (i, deflater.compress(&entries[i], spare)))
                        .collect();
                    // The layout thread hung up: it met an error and needs nothing more.
                    if tx.send(batch).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        lay_out(entries, rx, &spare)
    })
}

/// Appends entries in index order as they arrive, then the central directory. An error is
/// reported when its entry is due, so it is the first in name order, whatever the timing.
fn lay_out(
    entries: &[ZipEntry],
    arrivals: mpsc::Receiver<Batch>,
    spare: &Spare,
) -> Result<Archive, ZipError> {
    // Stored entries are never larger than their files, so this bounds the archive; pages
    // beyond what is written are never touched.
    let bound: usize = entries
        .iter()
        .map(|e| 30 + e.name.len() + e.size() as usize)
        .sum::<usize>()
        + 22;
    let mut out = Vec::with_capacity(bound);
    let mut central = Vec::with_capacity(entries.len() * (46 + 40));
    let mut hasher = Sha256::new();
    let mut marks = Vec::with_capacity(entries.len());
    let mut waiting: BTreeMap<usize, Result<Compressed, ZipError>> = BTreeMap::new();
    let mut due = 0;
    for batch in arrivals {
        waiting.extend(batch);
        let mut copied = Vec::new();
        while let Some(c) = waiting.remove(&due) {
            let c = c?;
            let mark = Mark {
                start: out.len(),
                header: c.header()?,
                hasher: hasher.clone(),
            };
            local_entry(&mut out, &entries[due].name, &mark.header, &c.data);
            central_record(&mut central, &entries[due], &mark)?;
            hasher.update(&out[mark.start..]);
            marks.push(mark);
            copied.push(c.data);
            due += 1;
        }
        spare
            .lock()
            .expect("no thread panics holding it")
            .append(&mut copied);
    }
    finish(out, &central, hasher, marks)
}

/// Appends the central directory and its end record, hashing them: the archive is done.
pub(crate) fn finish(
    mut out: Vec<u8>,
    central: &[u8],
    mut hasher: Sha256,
    marks: Vec<Mark>,
) -> Result<Archive, ZipError> {
    let central_at = (out.len(), hasher.clone());
    let cd_offset = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
    let cd_len = central.len() as u32;
    let count = marks.len() as u16;
    out.extend_from_slice(central);
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, cd_len);
    put32(&mut out, cd_offset);
    put16(&mut out, 0);
    hasher.update(&out[central_at.0..]);
    Ok(Archive {
        bytes: out,
        sha256: hasher.finalize().into(),
        marks,
        central_at,
    })
}

/// One entry's local header and data.
pub(crate) fn local_entry(out: &mut Vec<u8>, name: &str, h: &Header, data: &[u8]) {
    let name = name.as_bytes();
    put32(out, 0x0403_4b50);
    put16(out, VERSION_NEEDED);
    put16(out, FLAGS);
    put16(out, h.method);
    put16(out, DOS_TIME);
    put16(out, DOS_DATE);
    put32(out, h.crc);
    put32(out, h.comp_len);
    put32(out, h.raw_len);
    put16(out, name.len() as u16);
    put16(out, 0);
    out.extend_from_slice(name);
    out.extend_from_slice(data);
}

/// One entry's central directory record, pointing at its local header at `mark.start`.
pub(crate) fn central_record(
    central: &mut Vec<u8>,
    entry: &ZipEntry,
    mark: &Mark,
) -> Result<(), ZipError> {
    let offset = u32::try_from(mark.start).map_err(|_| ZipError::TooLarge)?;
    let name = entry.name.as_bytes();
    let mode: u32 = if entry.executable { 0o100755 } else { 0o100644 };
    let h = &mark.header;
    put32(central, 0x0201_4b50);
    put16(central, VERSION_MADE_BY);
    put16(central, VERSION_NEEDED);
    put16(central, FLAGS);
    put16(central, h.method);
    put16(central, DOS_TIME);
    put16(central, DOS_DATE);
    put32(central, h.crc);
    put32(central, h.comp_len);
    put32(central, h.raw_len);
    put16(central, name.len() as u16);
    put16(central, 0); // extra
    put16(central, 0); // comment
    put16(central, 0); // disk
    put16(central, 0); // internal attributes
    put32(central, mode << 16);
    put32(central, offset);
    central.extend_from_slice(name);
    Ok(())
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entry(name: &str, data: &[u8]) -> ZipEntry {
        ZipEntry {
            name: name.into(),
            source: EntrySource::Bytes(data.to_vec()),
            executable: false,
        }
    }

    #[test]
    fn readable_by_a_real_zip_reader_and_deterministic() {
        let big = "print('hello')\n".repeat(1000);
        let entries = vec![
            entry("z.py", big.as_bytes()),
            entry("a/b.py", b""),
            entry("a/__init__.py", b"x = 1\n"),
            entry("bin.dat", &[0u8, 255, 7, 3]),
        ];
        let one = write_zip(entries.clone()).unwrap();
        assert_eq!(
            one.sha256,
            <[u8; 32]>::from(Sha256::digest(&one.bytes)),
            "the hash taken while laying out is the archive's"
        );
        let one = one.bytes;
        let mut reversed = entries.clone();
        reversed.reverse();
        assert_eq!(
            one,
            write_zip(reversed).unwrap().bytes,
            "order of input must not matter"
        );

        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(one)).unwrap();
        let names: Vec<_> = archive.file_names().map(str::to_string).collect();
        assert_eq!(names, vec!["a/__init__.py", "a/b.py", "bin.dat", "z.py"]);
        let mut z = archive.by_name("z.py").unwrap();
        assert_eq!(z.compression(), zip::CompressionMethod::Deflated);
        assert_eq!(z.unix_mode(), Some(0o100644));
        let mut text = String::new();
        z.read_to_string(&mut text).unwrap();
        assert_eq!(text, big);
        drop(z);
        let mut b = archive.by_name("bin.dat").unwrap();
        assert_eq!(b.compression(), zip::CompressionMethod::Stored);
        let mut bytes = Vec::new();
        b.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, [0u8, 255, 7, 3]);
    }

    /// Each thread reuses one compressor and one output buffer: a small file compressed after
    /// a big one must come out whole, with nothing of the big one left in it.
    #[test]
    fn reused_buffers_leak_nothing_between_files() {
        let entries: Vec<ZipEntry> = (0..64)
            .map(|i| {
                let body = format!("def f{i}():\n    return {i}\n").repeat(if i % 2 == 0 {
                    400
                } else {
                    2
                });
                entry(&format!("m{i:02}.py"), body.as_bytes())
            })
            .collect();
        let zipped = write_zip(entries.clone()).unwrap().bytes;
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
        for e in &entries {
            let EntrySource::Bytes(want) = &e.source else {
                unreachable!()
            };
            let mut got = Vec::new();
            archive
                .by_name(&e.name)
                .unwrap()
                .read_to_end(&mut got)
                .unwrap();
            assert_eq!(&got, want, "{}", e.name);
        }
    }
}
