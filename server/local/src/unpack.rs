//! Unpacking new code next to the tree of the code it replaces: files the zip holds unchanged
//! (same name, CRC-32, size and mode) are hard links into the earlier tree, so a live save that
//! changed one file of a thousand writes one file. Unpacked trees are never written after they
//! are made, so sharing their files is safe.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};

/// Zips up to this size are read into memory whole: finding each entry is then no system call.
const IN_MEMORY: u64 = 64 * 1024 * 1024;

/// A zip in memory, or read through a buffer when it is big.
enum Source {
    Memory(zip::ZipArchive<Cursor<Vec<u8>>>),
    File(zip::ZipArchive<std::io::BufReader<File>>),
}

fn open(zip_path: &Path) -> Result<Source, String> {
    let read_error = |e: std::io::Error| format!("cannot read {}: {e}", zip_path.display());
    let unzip_error = |e: zip::result::ZipError| format!("Could not unzip uploaded file: {e}");
    let file = File::open(zip_path).map_err(read_error)?;
    let len = file.metadata().map_err(read_error)?.len();
    if len <= IN_MEMORY {
        let mut bytes = Vec::with_capacity(len as usize);
        (&file).read_to_end(&mut bytes).map_err(read_error)?;
        return zip::ZipArchive::new(Cursor::new(bytes))
            .map(Source::Memory)
            .map_err(unzip_error);
    }
    zip::ZipArchive::new(std::io::BufReader::new(file))
        .map(Source::File)
        .map_err(unzip_error)
}

/// What identifies an entry's content without reading it.
type Fingerprint = (u32, u64, Option<u32>);

/// The regular files of an archive by name, from its central directory.
fn fingerprints<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
) -> Result<HashMap<String, Fingerprint>, String> {
    let mut out = HashMap::new();
    for i in 0..archive.len() {
        let e = archive.by_index_raw(i).map_err(|e| e.to_string())?;
        if e.is_file() {
            out.insert(e.name().to_string(), (e.crc32(), e.size(), e.unix_mode()));
        }
    }
    Ok(out)
}

/// Unpacks `zip_path` into the new directory `into`, linking what `earlier` (the zip and its
/// unpacked tree) already holds. `Ok(false)` (with `into` removed) when this zip needs the
/// general extraction instead: links, or a name that would leave the folder.
pub(crate) fn unpack_reusing(
    zip_path: &Path,
    earlier_zip: &Path,
    earlier_tree: &Path,
    into: &Path,
) -> Result<bool, String> {
    let known = match open(earlier_zip)? {
        Source::Memory(mut a) => fingerprints(&mut a)?,
        Source::File(mut a) => fingerprints(&mut a)?,
    };
    let done = match open(zip_path)? {
        Source::Memory(mut a) => extract(&mut a, &known, earlier_tree, into),
        Source::File(mut a) => extract(&mut a, &known, earlier_tree, into),
    };
    if !matches!(done, Ok(true)) {
        let _ = fs::remove_dir_all(into);
    }
    done
}

/// One entry as the central directory describes it.
struct Described {
    rel: PathBuf,
    dir: bool,
    print: Fingerprint,
    name: String,
}

fn describe<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    i: usize,
) -> Result<Option<Described>, String> {
    let e = archive.by_index_raw(i).map_err(|e| e.to_string())?;
    let Some(rel) = e.enclosed_name().filter(|_| !e.is_symlink()) else {
        return Ok(None);
    };
    Ok(Some(Described {
        rel,
        dir: e.is_dir(),
        print: (e.crc32(), e.size(), e.unix_mode()),
        name: e.name().to_string(),
    }))
}

fn extract<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    known: &HashMap<String, Fingerprint>,
    earlier_tree: &Path,
    into: &Path,
) -> Result<bool, String> {
    let fail = |e: std::io::Error| format!("Could not unzip uploaded file: {e}");
    fs::create_dir_all(into).map_err(fail)?;
    // Each folder is made once, not once per file in it.
    let mut made: HashSet<PathBuf> = HashSet::new();
    for i in 0..archive.len() {
        let Some(d) = describe(archive, i)? else {
            return Ok(false);
        };
        let out = into.join(&d.rel);
        if d.dir {
            fs::create_dir_all(&out).map_err(fail)?;
            made.insert(out);
            continue;
        }
        if let Some(parent) = out.parent().filter(|p| !made.contains(*p)) {
            fs::create_dir_all(parent).map_err(fail)?;
            made.insert(parent.to_owned());
        }
        if known.get(&d.name) == Some(&d.print)
            && fs::hard_link(earlier_tree.join(&d.rel), &out).is_ok()
        {
            continue;
        }
        let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
        let mut file = File::create(&out).map_err(fail)?;
        std::io::copy(&mut entry, &mut file).map_err(fail)?;
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out, fs::Permissions::from_mode(mode)).map_err(fail)?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    fn zip(path: &Path, files: &[(&str, &str)]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        for (name, text) in files {
            w.start_file(*name, opts).unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap();
    }

    fn extract_all(zip_path: &Path, into: &Path) {
        let file = File::open(zip_path).unwrap();
        zip::ZipArchive::new(file).unwrap().extract(into).unwrap();
    }

    #[test]
    fn unchanged_files_are_linked_and_changed_ones_written() {
        let dir = tempfile::tempdir().unwrap();
        let (old_zip, new_zip) = (dir.path().join("old.zip"), dir.path().join("new.zip"));
        zip(
            &old_zip,
            &[("app.py", "v1"), ("pkg/same.py", "same"), ("gone.py", "x")],
        );
        zip(
            &new_zip,
            &[
                ("app.py", "v2"),
                ("pkg/same.py", "same"),
                ("pkg/new.py", "n"),
            ],
        );
        let old_tree = dir.path().join("old");
        extract_all(&old_zip, &old_tree);
        let new_tree = dir.path().join("new");
        assert!(unpack_reusing(&new_zip, &old_zip, &old_tree, &new_tree).unwrap());
        let read = |p: &str| fs::read_to_string(new_tree.join(p)).unwrap();
        assert_eq!(
            (read("app.py"), read("pkg/same.py"), read("pkg/new.py")),
            ("v2".into(), "same".into(), "n".into())
        );
        assert!(!new_tree.join("gone.py").exists());
        let ino = |t: &Path, p: &str| fs::metadata(t.join(p)).unwrap().ino();
        assert_eq!(ino(&old_tree, "pkg/same.py"), ino(&new_tree, "pkg/same.py"));
        assert_ne!(ino(&old_tree, "app.py"), ino(&new_tree, "app.py"));
        assert_eq!(fs::read_to_string(old_tree.join("app.py")).unwrap(), "v1");
    }

    #[test]
    fn names_outside_the_folder_fall_back_to_the_general_extraction() {
        let dir = tempfile::tempdir().unwrap();
        let (old_zip, new_zip) = (dir.path().join("old.zip"), dir.path().join("new.zip"));
        zip(&old_zip, &[("app.py", "v1")]);
        zip(&new_zip, &[("../evil.py", "x")]);
        let old_tree = dir.path().join("old");
        extract_all(&old_zip, &old_tree);
        let new_tree = dir.path().join("new");
        assert!(!unpack_reusing(&new_zip, &old_zip, &old_tree, &new_tree).unwrap());
        assert!(!new_tree.exists() && !dir.path().join("evil.py").exists());
    }
}
