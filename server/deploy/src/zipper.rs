//! A deterministic zip writer: same files in, same bytes out, compressed on all cores.
//!
//! Entries are sorted by archive name, carry the DOS epoch as their time, fixed Unix
//! permissions and no extra fields, so the SHA-256 of the archive is a stable code identity
//! that matches Lambda's `CodeSha256`.

use std::io::Write;
use std::path::PathBuf;

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
pub enum EntrySource {
    File(PathBuf),
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

/// A compressed entry waiting to be laid out.
struct Compressed {
    crc: u32,
    method: u16,
    raw_len: u64,
    data: Vec<u8>,
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
const MAX_ENTRIES: usize = u16::MAX as usize;

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

fn compress(entry: &ZipEntry) -> Result<Compressed, ZipError> {
    let owned;
    let raw: &[u8] = match &entry.source {
        EntrySource::Bytes(b) => b,
        EntrySource::File(path) => {
            owned = std::fs::read(path).map_err(|source| ZipError::Read {
                path: path.clone(),
                source,
            })?;
            &owned
        }
    };
    let mut crc = Crc::new();
    crc.update(raw);
    let mut enc = DeflateEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::new(6));
    enc.write_all(raw).expect("writing to a Vec cannot fail");
    let deflated = enc.finish().expect("writing to a Vec cannot fail");
    let (method, data) = if deflated.len() < raw.len() {
        (METHOD_DEFLATE, deflated)
    } else {
        (METHOD_STORE, raw.to_vec())
    };
    Ok(Compressed {
        crc: crc.sum(),
        method,
        raw_len: raw.len() as u64,
        data,
    })
}

/// Compresses every entry (in parallel) and lays them out in name order.
pub fn write_zip(mut entries: Vec<ZipEntry>) -> Result<Vec<u8>, ZipError> {
    if entries.len() > MAX_ENTRIES {
        return Err(ZipError::TooManyEntries(entries.len()));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);

    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(entries.len().max(1));
    // Interleaved assignment spreads big and small files evenly without measuring them first.
    let compressed: Vec<Result<Compressed, ZipError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let entries = &entries;
                scope.spawn(move || {
                    entries
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, e)| (i, compress(e)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<Compressed, ZipError>)> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("compression threads do not panic"))
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, c)| c).collect()
    });

    let total: usize = compressed
        .iter()
        .map(|c| c.as_ref().map_or(0, |c| c.data.len()))
        .sum();
    let mut out = Vec::with_capacity(total + entries.len() * 100);
    let mut central = Vec::with_capacity(entries.len() * 80);
    for (entry, c) in entries.iter().zip(compressed) {
        let c = c?;
        let offset = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
        let comp_len = u32::try_from(c.data.len()).map_err(|_| ZipError::TooLarge)?;
        let raw_len = u32::try_from(c.raw_len).map_err(|_| ZipError::TooLarge)?;
        let name = entry.name.as_bytes();
        let mode: u32 = if entry.executable { 0o100755 } else { 0o100644 };

        put32(&mut out, 0x0403_4b50);
        put16(&mut out, VERSION_NEEDED);
        put16(&mut out, FLAGS);
        put16(&mut out, c.method);
        put16(&mut out, DOS_TIME);
        put16(&mut out, DOS_DATE);
        put32(&mut out, c.crc);
        put32(&mut out, comp_len);
        put32(&mut out, raw_len);
        put16(&mut out, name.len() as u16);
        put16(&mut out, 0);
        out.extend_from_slice(name);
        out.extend_from_slice(&c.data);

        put32(&mut central, 0x0201_4b50);
        put16(&mut central, VERSION_MADE_BY);
        put16(&mut central, VERSION_NEEDED);
        put16(&mut central, FLAGS);
        put16(&mut central, c.method);
        put16(&mut central, DOS_TIME);
        put16(&mut central, DOS_DATE);
        put32(&mut central, c.crc);
        put32(&mut central, comp_len);
        put32(&mut central, raw_len);
        put16(&mut central, name.len() as u16);
        put16(&mut central, 0); // extra
        put16(&mut central, 0); // comment
        put16(&mut central, 0); // disk
        put16(&mut central, 0); // internal attributes
        put32(&mut central, mode << 16);
        put32(&mut central, offset);
        central.extend_from_slice(name);
    }
    let cd_offset = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
    let cd_len = central.len() as u32;
    out.extend_from_slice(&central);
    put32(&mut out, 0x0605_4b50);
    put16(&mut out, 0);
    put16(&mut out, 0);
    put16(&mut out, entries.len() as u16);
    put16(&mut out, entries.len() as u16);
    put32(&mut out, cd_len);
    put32(&mut out, cd_offset);
    put16(&mut out, 0);
    Ok(out)
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
        let mut reversed = entries.clone();
        reversed.reverse();
        assert_eq!(
            one,
            write_zip(reversed).unwrap(),
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
}
