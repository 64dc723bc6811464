//! What goes into the function's zip: the target module, the local modules it imports, the
//! paths the user includes, and for callables a generated entry module. Secrets never go in.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analysis::{self, FunctionKind, Import, PyFunction};
use crate::repack::{Kind, Seen, Session, Written};
pub use crate::repack::{PackageCache, Reuse, Scrutiny};
use crate::spec::sanitize_name;
use crate::zipper::{self, EntrySource, ZipEntry};

/// Lambda's limit for a zip uploaded directly; larger zips go through S3 (see `artifacts`).
pub const MAX_ZIP_BYTES: u64 = 50 * 1024 * 1024;
/// Lambda's limit for the unzipped function plus layers.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
/// The module generated for callable mode, at the root of the zip.
pub const ENTRY_MODULE: &str = "_lambda_ls_entry";
/// Files whose presence marks a project root.
const ROOT_MARKERS: &[&str] = &["lambda.toml", "pyproject.toml", "requirements.txt", ".git"];

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("`{0}` is not FILE.py:FUNCTION")]
    TargetSyntax(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a Python file (.py)")]
    NotPython { path: PathBuf },
    #[error("{path} has a syntax error at line {line}, column {column}; fix it before deploying")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("`{function}` is defined inside {container} at {path}:{line}; only top-level functions can be deployed")]
    Nested {
        function: String,
        container: String,
        path: PathBuf,
        line: usize,
    },
    #[error("no top-level function `{function}` in {path}{}", list_available(.available))]
    MissingFunction {
        function: String,
        path: PathBuf,
        available: Vec<String>,
    },
    #[error("include path {path} is outside the package root {root}")]
    IncludeOutsideRoot { path: PathBuf, root: PathBuf },
    #[error("include path {0} does not exist")]
    IncludeMissing(PathBuf),
    #[error("the package is {} unzipped, over Lambda's 250 MB limit for a function and its layers; the largest parts are {}: exclude some of them", crate::progress::human_bytes(*.size), list_largest(.largest))]
    TooLargeUnzipped {
        size: u64,
        /// The biggest top-level folders (or files) and their unzipped sizes, largest first.
        largest: Vec<(String, u64)>,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Zip(#[from] zipper::ZipError),
}

fn list_largest(parts: &[(String, u64)]) -> String {
    let shown: Vec<String> = parts
        .iter()
        .map(|(name, size)| format!("{name} ({})", crate::progress::human_bytes(*size)))
        .collect();
    shown.join(", ")
}

/// The `count` biggest top-level entries (`numpy/`, `app.py`) by unzipped size, largest first.
fn largest_top_level(entries: &[ZipEntry], count: usize) -> Vec<(String, u64)> {
    let mut sizes: BTreeMap<&str, u64> = BTreeMap::new();
    for e in entries {
        let top = match e.name.find('/') {
            Some(slash) => &e.name[..=slash],
            None => &e.name,
        };
        *sizes.entry(top).or_default() += e.size();
    }
    let mut sorted: Vec<(String, u64)> = sizes
        .into_iter()
        .map(|(top, size)| (top.to_owned(), size))
        .collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted.truncate(count);
    sorted
}

fn list_available(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!("; top-level functions: {}", names.join(", "))
    }
}

/// Splits `path/to/file.py:function`.
pub fn parse_target(target: &str) -> Result<(PathBuf, String), PackageError> {
    match target.rsplit_once(':') {
        Some((file, func))
            if !file.is_empty()
                && !func.is_empty()
                && func.chars().all(|c| c.is_alphanumeric() || c == '_') =>
        {
            Ok((PathBuf::from(file), func.to_string()))
        }
        _ => Err(PackageError::TargetSyntax(target.to_string())),
    }
}

/// How the function is exposed to Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployMode {
    Handler,
    Callable,
}

/// A function found in a file, placed in its project.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedTarget {
    pub root: PathBuf,
    pub file: PathBuf,
    /// Dotted module path relative to the root (`pkg.mod`).
    pub module: String,
    pub function: PyFunction,
    pub mode: DeployMode,
}

impl ResolvedTarget {
    /// The Lambda handler string.
    pub fn handler(&self) -> String {
        match self.mode {
            DeployMode::Handler => format!("{}.{}", self.module, self.function.name),
            DeployMode::Callable => format!("{ENTRY_MODULE}.handler"),
        }
    }

    /// `<module>-<function>`, made valid for Lambda.
    pub fn default_name(&self) -> String {
        sanitize_name(&format!("{}-{}", self.module, self.function.name))
    }
}

/// The nearest folder upward holding a project marker, else the file's own folder.
pub fn package_root(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    dir.ancestors()
        .find(|d| ROOT_MARKERS.iter().any(|m| d.join(m).exists()))
        .map(Path::to_path_buf)
        .unwrap_or(dir)
}

fn absolute(path: &Path) -> Result<PathBuf, PackageError> {
    std::fs::canonicalize(path).map_err(|source| PackageError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Finds `function` in `file` and decides handler or callable mode.
pub fn resolve_target(
    file: &Path,
    function: &str,
    force_callable: bool,
) -> Result<ResolvedTarget, PackageError> {
    if file.extension().and_then(|e| e.to_str()) != Some("py") {
        return Err(PackageError::NotPython {
            path: file.to_owned(),
        });
    }
    let file = absolute(file)?;
    let source = std::fs::read_to_string(&file).map_err(|source| PackageError::Read {
        path: file.clone(),
        source,
    })?;
    let analysis = analysis::analyze(&source);
    let found = analysis.functions.iter().find(|f| f.name == function);
    let Some(found) = found else {
        if let Some(n) = analysis.nested.iter().find(|n| n.name == function) {
            return Err(PackageError::Nested {
                function: function.to_string(),
                container: n.container.clone(),
                path: file,
                line: n.line + 1,
            });
        }
        if let Some(pos) = analysis.syntax_error {
            return Err(PackageError::Syntax {
                path: file,
                line: pos.line + 1,
                column: pos.byte_col + 1,
            });
        }
        return Err(PackageError::MissingFunction {
            function: function.to_string(),
            path: file,
            available: analysis.functions.iter().map(|f| f.name.clone()).collect(),
        });
    };
    if let Some(pos) = analysis.syntax_error {
        return Err(PackageError::Syntax {
            path: file,
            line: pos.line + 1,
            column: pos.byte_col + 1,
        });
    }
    let root = package_root(&file);
    let module = module_name(&root, &file);
    let mode = if force_callable || found.kind != FunctionKind::Handler {
        DeployMode::Callable
    } else {
        DeployMode::Handler
    };
    Ok(ResolvedTarget {
        root,
        module,
        function: found.clone(),
        mode,
        file,
    })
}

fn module_name(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file).with_extension("");
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let joined = parts.join(".");
    joined
        .strip_suffix(".__init__")
        .map(str::to_string)
        .unwrap_or(joined)
}

/// Names that never go into a package unless named exactly in an include.
pub fn is_sensitive_or_junk(name: &str) -> bool {
    name == ".git"
        || name.starts_with(".env")
        || name == ".aws"
        || name.ends_with(".pem")
        || name.ends_with(".key")
        || name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
        || name.starts_with("id_ecdsa")
        || name == "__pycache__"
        || name.ends_with(".pyc")
        || name == "node_modules"
        || name == ".venv"
        || name == "venv"
        || name == ".DS_Store"
        || name == ".aws-sam"
}

fn is_virtualenv(dir: &Path) -> bool {
    dir.join("pyvenv.cfg").is_file()
}

/// What the user asked to build.
#[derive(Debug, Clone)]
pub struct PackageRequest {
    pub target: ResolvedTarget,
    /// Extra files or folders, absolute or relative to the current directory.
    pub includes: Vec<PathBuf>,
}

/// The built zip and what it holds.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    /// Shared with the cache of a long-lived process, which writes the next zip without copying.
    #[serde(skip)]
    pub bytes: std::sync::Arc<Vec<u8>>,
    /// Base64 SHA-256 of the zip, the same text as Lambda's `CodeSha256`.
    pub code_sha256: String,
    pub size: u64,
    pub unzipped_size: u64,
    pub files: Vec<String>,
    pub warnings: Vec<String>,
    /// Unzipped size of each top-level folder or file, largest first (for the combined limit).
    #[serde(skip)]
    pub parts: Vec<(String, u64)>,
    /// Entries taken unchanged from the function's last build (see [`PackageCache`]).
    #[serde(skip)]
    pub reused: usize,
    /// Files whose metadata was read; the others' were known unchanged from the kernel's
    /// record of what changed since the last build (`journal.rs`).
    #[serde(skip)]
    pub looked_at: usize,
}

/// Collects the files, writes the deterministic zip and checks Lambda's size limits: from
/// scratch, as a one-shot `lambda-ls package` does.
pub fn build_package(req: &PackageRequest) -> Result<Package, PackageError> {
    build_with(req, None, Reuse::Nothing)
}

/// [`build_package`] plus every file of `vendor` (installed requirements) at the zip's root, as
/// Lambda puts a layer's `python/` on the path. The project's own files win a name clash.
/// Reuses what this process's [`PackageCache`] holds from the function's last build, learning
/// what changed as `scrutiny` says.
pub fn build_bundle(
    req: &PackageRequest,
    vendor: Option<&Path>,
    scrutiny: Scrutiny,
) -> Result<Package, PackageError> {
    let cache = PackageCache::process();
    let reuse = match scrutiny {
        Scrutiny::Journal => Reuse::Journal(cache),
        Scrutiny::EveryFile => Reuse::Stamps(cache),
    };
    build_with(req, vendor, reuse)
}

/// Builds the package, reusing from `cache` what the function's last build compressed, hashed
/// and parsed for files that have not changed since; the zip is byte-identical either way.
pub fn build_with(
    req: &PackageRequest,
    vendor: Option<&Path>,
    reuse: Reuse,
) -> Result<Package, PackageError> {
    let key = (req.target.file.clone(), req.target.function.name.clone());
    let mut session = Session::start(reuse, key);
    let mut warnings = Vec::new();
    let files = collect_files(req, vendor, &mut session, &mut warnings)?;
    let (entries, stamps) = stamped_entries(files, &req.target, &mut session);
    let unzipped_size: u64 = entries.iter().map(ZipEntry::size).sum();
    let parts = largest_top_level(&entries, usize::MAX);
    if unzipped_size > MAX_UNZIPPED_BYTES {
        return Err(PackageError::TooLargeUnzipped {
            size: unzipped_size,
            largest: parts.into_iter().take(3).collect(),
        });
    }
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    let Written {
        bytes,
        sha256,
        reused,
        looked_at,
    } = session.write(entries, stamps)?;
    let size = bytes.len() as u64;
    if size > MAX_ZIP_BYTES {
        warnings.push(format!(
            "the zip is {}, over Lambda's 50 MB limit for direct upload; deploys upload it through S3",
            crate::progress::human_bytes(size)
        ));
    }
    Ok(Package {
        code_sha256: encode_sha256(&sha256),
        size,
        unzipped_size,
        files: names,
        warnings,
        bytes,
        parts,
        reused,
        looked_at,
    })
}

/// Archive name → file: the modules the target imports, the includes, then the vendored files.
fn collect_files(
    req: &PackageRequest,
    vendor: Option<&Path>,
    session: &mut Session,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, PathBuf>, PackageError> {
    let root = &req.target.root;
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for module_file in follow_imports_with(root, &req.target.file, &mut |p| session.imports_of(p))?
    {
        add_file(root, &module_file, &mut files, warnings);
    }
    for include in &req.includes {
        add_include(
            root,
            include,
            &mut files,
            &mut Walk {
                root,
                session,
                warnings,
            },
        )?;
    }
    if let Some(vendor) = vendor {
        let mut vendored = BTreeMap::new();
        Walk {
            root: vendor,
            session,
            warnings,
        }
        .dir(vendor, &mut vendored)?;
        for (name, path) in vendored {
            files.entry(name).or_insert(path);
        }
    }
    Ok(files)
}

/// A file or folder the user included, absolute or relative to the current directory.
fn add_include(
    root: &Path,
    include: &Path,
    files: &mut BTreeMap<String, PathBuf>,
    walk: &mut Walk,
) -> Result<(), PackageError> {
    let path = if include.is_absolute() {
        include.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|source| PackageError::Read {
                path: include.to_owned(),
                source,
            })?
            .join(include)
    };
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(PackageError::IncludeMissing(include.to_owned()));
    }
    let canonical = absolute(&path)?;
    if !canonical.starts_with(root) {
        return Err(PackageError::IncludeOutsideRoot {
            path: include.to_owned(),
            root: root.to_owned(),
        });
    }
    if canonical.is_dir() {
        walk.dir(&canonical, files)
    } else {
        // Named exactly: the user chose it, even a file we would otherwise skip.
        add_file(root, &canonical, files, walk.warnings);
        Ok(())
    }
}

/// The zip's entries in name order, each with how its file looked, and the generated entry
/// module in callable mode.
fn stamped_entries(
    files: BTreeMap<String, PathBuf>,
    target: &ResolvedTarget,
    session: &mut Session,
) -> (Vec<ZipEntry>, Vec<Seen>) {
    let named: Vec<(&str, &PathBuf)> = files.iter().map(|(n, p)| (n.as_str(), p)).collect();
    let seen = session.stamps(&named);
    drop(named);
    let mut stamped: Vec<(ZipEntry, Seen)> = files
        .into_iter()
        .zip(seen)
        .map(|((name, path), seen)| {
            let entry = ZipEntry {
                name,
                executable: seen.stamp.is_some_and(|s| s.executable()),
                source: EntrySource::File {
                    path,
                    len: seen.stamp.map_or(0, |s| s.size()),
                },
            };
            (entry, seen)
        })
        .collect();
    if target.mode == DeployMode::Callable {
        let entry = ZipEntry {
            name: format!("{ENTRY_MODULE}.py"),
            source: EntrySource::Bytes(
                callable_entry(&target.module, &target.function.name).into_bytes(),
            ),
            executable: false,
        };
        stamped.push((entry, Seen::default()));
        // Stable: a project file of the same name stays first and wins, as in `write_zip`.
        stamped.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        stamped.dedup_by(|a, b| a.0.name == b.0.name);
    }
    stamped.into_iter().unzip()
}

/// Lambda's 250 MB applies to a function and its layers together: checks `pkg` with the layer
/// zips it will run with, naming the largest parts of all of them (a layer's by its package
/// under `python/`).
pub fn check_with_layers(pkg: &Package, layer_zips: &[PathBuf]) -> Result<(), PackageError> {
    let mut parts = pkg.parts.clone();
    for zip_path in layer_zips {
        parts.extend(layer_parts(zip_path)?);
    }
    let size: u64 = parts.iter().map(|(_, s)| s).sum();
    if size <= MAX_UNZIPPED_BYTES {
        return Ok(());
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    parts.truncate(3);
    Err(PackageError::TooLargeUnzipped {
        size,
        largest: parts,
    })
}

/// A layer zip's unzipped sizes by top-level package, read from its central directory.
fn layer_parts(zip_path: &Path) -> Result<Vec<(String, u64)>, PackageError> {
    let read_error = |e: std::io::Error| PackageError::Read {
        path: zip_path.to_owned(),
        source: e,
    };
    let file = std::fs::File::open(zip_path).map_err(read_error)?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        let name = entry.name();
        let inner = name.strip_prefix("python/").unwrap_or(name);
        let top = match inner.split_once('/') {
            Some((dir, _)) => format!("{dir}/ (layer)"),
            None => format!("{inner} (layer)"),
        };
        *sizes.entry(top).or_default() += entry.size();
    }
    Ok(sizes.into_iter().collect())
}

impl Package {
    /// Over Lambda's direct-upload limit: the zip must reach Lambda through S3.
    pub fn needs_s3(&self) -> bool {
        self.size > MAX_ZIP_BYTES
    }
}

/// Base64 of the SHA-256 of the bytes: Lambda's `CodeSha256`.
pub fn code_sha256(bytes: &[u8]) -> String {
    encode_sha256(&Sha256::digest(bytes))
}

fn encode_sha256(digest: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn archive_name(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn add_file(
    root: &Path,
    path: &Path,
    files: &mut BTreeMap<String, PathBuf>,
    warnings: &mut Vec<String>,
) {
    match archive_name(root, path) {
        Some(name) => {
            files.insert(name, path.to_owned());
        }
        None => warnings.push(format!(
            "skipped {}: it is outside the package root {}",
            path.display(),
            root.display()
        )),
    }
}

/// One walk of included folders: files are named relative to `root`.
struct Walk<'w, 's> {
    root: &'w Path,
    session: &'w mut Session<'s>,
    warnings: &'w mut Vec<String>,
}

impl Walk<'_, '_> {
    /// Adds a folder's files, skipping secrets, caches, virtualenvs and links that leave the
    /// root.
    fn dir(
        &mut self,
        dir: &Path,
        files: &mut BTreeMap<String, PathBuf>,
    ) -> Result<(), PackageError> {
        let listing = self
            .session
            .list(dir)
            .map_err(|source| PackageError::Read {
                path: dir.to_owned(),
                source,
            })?;
        let prefix = if dir == self.root {
            String::new()
        } else {
            match archive_name(self.root, dir) {
                Some(prefix) => prefix + "/",
                // Nothing here could be named in the zip.
                None => return Ok(()),
            }
        };
        for child in listing.iter() {
            let name = child.name.to_string_lossy();
            if is_sensitive_or_junk(&name) {
                continue;
            }
            let path = dir.join(&child.name);
            let (real, kind) = match child.kind {
                Kind::Link => match self.link_target(&path) {
                    Some(real) => {
                        let kind = if real.is_dir() { Kind::Dir } else { Kind::File };
                        (real, kind)
                    }
                    None => continue,
                },
                kind => (path.clone(), kind),
            };
            match kind {
                Kind::Dir if is_virtualenv(&real) => {}
                // A link to a folder inside the root is packaged where the link is, once.
                Kind::Dir if child.kind != Kind::Link || !real.starts_with(&path) => {
                    self.dir_at(&real, &path, files)?;
                }
                Kind::File if child.kind != Kind::Link || real.is_file() => {
                    files.insert(format!("{prefix}{name}"), real);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Where a link inside the root leads, if inside the root too (otherwise a warning).
    fn link_target(&mut self, path: &Path) -> Option<PathBuf> {
        match std::fs::canonicalize(path) {
            Ok(target) if target.starts_with(self.root) => Some(target),
            Ok(target) => {
                self.warnings.push(format!(
                    "skipped {}: it links to {} outside the package root",
                    path.display(),
                    target.display()
                ));
                None
            }
            Err(_) => {
                self.warnings
                    .push(format!("skipped {}: broken link", path.display()));
                None
            }
        }
    }

    /// Walks `real` but names its files as if they lived under `shown` (for linked folders).
    fn dir_at(
        &mut self,
        real: &Path,
        shown: &Path,
        files: &mut BTreeMap<String, PathBuf>,
    ) -> Result<(), PackageError> {
        if real == shown {
            return self.dir(real, files);
        }
        let mut inner = BTreeMap::new();
        self.dir(real, &mut inner)?;
        let real_prefix = archive_name(self.root, real).unwrap_or_default();
        let shown_prefix = archive_name(self.root, shown).unwrap_or_default();
        for (name, path) in inner {
            let renamed = format!("{shown_prefix}{}", &name[real_prefix.len()..]);
            files.insert(renamed, path);
        }
        Ok(())
    }
}

/// Every local module the entry file imports, transitively, plus the `__init__.py` of each
/// package on the way: what Python executes when Lambda imports the handler.
pub fn follow_imports(root: &Path, entry: &Path) -> Result<Vec<PathBuf>, PackageError> {
    follow_imports_with(root, entry, &mut |p| {
        let source = std::fs::read_to_string(p).ok()?;
        Some(analysis::analyze(&source).imports)
    })
}

/// [`follow_imports`], where `imports_of` reads and parses a module (or answers from a cache).
fn follow_imports_with(
    root: &Path,
    entry: &Path,
    imports_of: &mut dyn FnMut(&Path) -> Option<Vec<Import>>,
) -> Result<Vec<PathBuf>, PackageError> {
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut queue: VecDeque<PathBuf> = VecDeque::new();
    let enqueue = |p: PathBuf, seen: &mut BTreeSet<PathBuf>, queue: &mut VecDeque<PathBuf>| {
        if p.starts_with(root) && seen.insert(p.clone()) {
            queue.push_back(p);
        }
    };
    enqueue(entry.to_owned(), &mut seen, &mut queue);
    for init in parent_inits(root, entry) {
        enqueue(init, &mut seen, &mut queue);
    }
    while let Some(file) = queue.pop_front() {
        let Some(imports) = imports_of(&file) else {
            continue;
        };
        for import in imports {
            let base = if import.level == 0 {
                root.to_path_buf()
            } else {
                let mut b = file.parent().unwrap_or(root).to_path_buf();
                for _ in 1..import.level {
                    b = b.parent().unwrap_or(root).to_path_buf();
                }
                b
            };
            let module_dir = import
                .module
                .split('.')
                .filter(|s| !s.is_empty())
                .fold(base.clone(), |acc, part| acc.join(part));
            let mut candidates = vec![
                module_dir.with_extension("py"),
                module_dir.join("__init__.py"),
            ];
            // `from pkg import name` may name a submodule.
            for name in &import.names {
                candidates.push(module_dir.join(format!("{name}.py")));
                candidates.push(module_dir.join(name).join("__init__.py"));
            }
            for c in candidates {
                if c.is_file() && !is_in_excluded_dir(root, &c) {
                    for init in parent_inits(root, &c) {
                        enqueue(init, &mut seen, &mut queue);
                    }
                    enqueue(c, &mut seen, &mut queue);
                }
            }
        }
    }
    Ok(seen.into_iter().collect())
}

fn is_in_excluded_dir(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return true;
    };
    let mut dir = root.to_path_buf();
    for c in rel.components() {
        let name = c.as_os_str().to_string_lossy();
        if is_sensitive_or_junk(&name) || is_virtualenv(&dir) {
            return true;
        }
        dir.push(c);
    }
    false
}

/// `pkg/__init__.py`, `pkg/sub/__init__.py` for `pkg/sub/mod.py`, when they exist.
fn parent_inits(root: &Path, file: &Path) -> Vec<PathBuf> {
    file.ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(root) && *d != root)
        .map(|d| d.join("__init__.py"))
        .filter(|p| p.is_file() && p != file)
        .collect()
}

/// The generated handler that maps an event onto a plain function's arguments.
///
/// `{"args": [...], "kwargs": {...}}` is explicit; any other object maps keys to parameter
/// names; arguments that do not fit the signature raise a TypeError naming the parameters.
pub fn callable_entry(module: &str, function: &str) -> String {
    format!(
        r#""""Entry point generated by lambda-ls: calls {module}.{function} with the event's arguments."""
import asyncio
import inspect

from {module} import {function} as _target

_SIGNATURE = inspect.signature(_target)


def _arguments(event):
    if isinstance(event, dict) and event and set(event) <= {{"args", "kwargs"}}:
        args = event.get("args") or []
        kwargs = event.get("kwargs") or {{}}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise TypeError('"args" must be a JSON array and "kwargs" a JSON object')
        return args, kwargs
    if isinstance(event, dict):
        return [], event
    if isinstance(event, list):
        return event, {{}}
    if event is None:
        return [], {{}}
    return [event], {{}}


def handler(event, context):
    args, kwargs = _arguments(event)
    try:
        _SIGNATURE.bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(
            "arguments do not fit {function}%s: %s" % (_SIGNATURE, error)
        ) from None
    result = _target(*args, **kwargs)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return result
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "requirements.txt", "");
        write(r, "app/__init__.py", "");
        write(r, "app/main.py", "import os\nfrom app.util import helper\nfrom . import sibling\nfrom .models import User\n\ndef handler(event, context):\n    return helper()\n\ndef add(a, b=2):\n    return a + b\n");
        write(
            r,
            "app/util.py",
            "from lib.deep import x\n\ndef helper():\n    return 1\n",
        );
        write(r, "app/sibling.py", "");
        write(r, "app/models/__init__.py", "from .user import User\n");
        write(r, "app/models/user.py", "class User: pass\n");
        write(r, "lib/deep.py", "x = 1\n");
        write(r, "unused.py", "");
        write(r, "data/config.json", "{}");
        write(r, "data/.env", "SECRET=1");
        write(r, "data/.env.local", "SECRET=1");
        write(r, "data/server.pem", "KEY");
        write(r, "data/id_rsa", "KEY");
        write(r, "data/.aws/credentials", "KEY");
        write(r, "data/.git/config", "x");
        write(r, "data/__pycache__/x.pyc", "x");
        write(r, "data/node_modules/m/index.js", "x");
        write(r, "data/env1/pyvenv.cfg", "home = /usr");
        write(r, "data/env1/lib/site.py", "");
        dir
    }

    fn zip_names(bytes: &[u8]) -> Vec<String> {
        let a = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        a.file_names().map(str::to_string).collect()
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            parse_target("a/b.py:handler").unwrap(),
            (PathBuf::from("a/b.py"), "handler".to_string())
        );
        for bad in ["a.py", "a.py:", ":f", "a.py:f-g"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_handler_and_callable_modes() {
        let dir = project();
        let file = dir.path().join("app/main.py");
        let t = resolve_target(&file, "handler", false).unwrap();
        assert_eq!(t.root, std::fs::canonicalize(dir.path()).unwrap());
        assert_eq!(t.module, "app.main");
        assert_eq!(t.mode, DeployMode::Handler);
        assert_eq!(t.handler(), "app.main.handler");
        assert_eq!(t.default_name(), "app-main-handler");
        let c = resolve_target(&file, "add", false).unwrap();
        assert_eq!(c.mode, DeployMode::Callable);
        assert_eq!(c.handler(), "_lambda_ls_entry.handler");
        let err = resolve_target(&file, "nope", false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no top-level function `nope`")
                && err.ends_with("top-level functions: handler, add"),
            "{err}"
        );
    }

    #[test]
    fn follows_imports_and_never_packages_secrets() {
        let dir = project();
        let t = resolve_target(&dir.path().join("app/main.py"), "handler", false).unwrap();
        let req = PackageRequest {
            target: t,
            includes: vec![dir.path().join("data")],
        };
        let p = build_package(&req).unwrap();
        assert_eq!(
            p.files,
            vec![
                "app/__init__.py",
                "app/main.py",
                "app/models/__init__.py",
                "app/models/user.py",
                "app/sibling.py",
                "app/util.py",
                "data/config.json",
                "lib/deep.py",
            ]
        );
        assert_eq!(zip_names(&p.bytes), p.files);
        assert_eq!(p.code_sha256, code_sha256(&p.bytes));
        let again = build_package(&req).unwrap();
        assert_eq!(p.bytes, again.bytes, "byte-identical twice");

        // An exact include is honoured even for a name we would skip.
        let explicit = PackageRequest {
            includes: vec![dir.path().join("data/.env")],
            ..req.clone()
        };
        assert!(build_package(&explicit)
            .unwrap()
            .files
            .contains(&"data/.env".to_string()));
    }

    #[test]
    fn symlinks_out_of_the_root_are_skipped_with_a_warning() {
        let dir = project();
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret.txt", "s");
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("data/leak.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("data/leakdir")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("lib/deep.py"),
            dir.path().join("data/inside.py"),
        )
        .unwrap();
        let t = resolve_target(&dir.path().join("app/main.py"), "handler", false).unwrap();
        let p = build_package(&PackageRequest {
            target: t,
            includes: vec![dir.path().join("data")],
        })
        .unwrap();
        assert!(p.files.contains(&"data/inside.py".to_string()));
        assert!(
            !p.files
                .iter()
                .any(|f| f.contains("leak") || f.contains("secret")),
            "{:?}",
            p.files
        );
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    }

    #[test]
    fn callable_mode_adds_the_entry_module() {
        let dir = project();
        let t = resolve_target(&dir.path().join("app/main.py"), "add", false).unwrap();
        let p = build_package(&PackageRequest {
            target: t,
            includes: vec![],
        })
        .unwrap();
        let mut a = zip::ZipArchive::new(std::io::Cursor::new(p.bytes.as_slice())).unwrap();
        let mut text = String::new();
        a.by_name("_lambda_ls_entry.py")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("from app.main import add as _target"));
    }

    #[test]
    fn bad_targets_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.py", "class C:\n    def handler(self, event, context):\n        pass\n\ndef outer():\n    def inner(event, context):\n        pass\n");
        write(
            dir.path(),
            "broken.py",
            "def handler(event, context:\n    pass\n",
        );
        let m = dir.path().join("m.py");
        let err = resolve_target(&m, "handler", false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`handler` is defined inside class C at")
                && err.ends_with("only top-level functions can be deployed"),
            "{err}"
        );
        let err = resolve_target(&m, "inner", false).unwrap_err().to_string();
        assert!(err.contains("inside def outer"), "{err}");
        let err = resolve_target(&dir.path().join("broken.py"), "handler", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has a syntax error at line"), "{err}");
        let err = resolve_target(&dir.path().join("missing.py"), "f", false)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read"), "{err}");
    }

    #[test]
    fn big_zips_are_written_and_oversized_unzipped_packages_name_their_largest_parts() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "requirements.txt", "");
        write(
            dir.path(),
            "h.py",
            "def handler(event, context):\n    return 1\n",
        );
        // Incompressible data: a simple xorshift stream.
        let mut x: u64 = 88172645463325252;
        let big: Vec<u8> = (0..51 * 1024 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(dir.path().join("blob.bin"), &big).unwrap();
        let t = resolve_target(&dir.path().join("h.py"), "handler", false).unwrap();
        let pkg = build_package(&PackageRequest {
            target: t.clone(),
            includes: vec![dir.path().join("blob.bin")],
        })
        .unwrap();
        assert!(pkg.needs_s3(), "{} bytes", pkg.size);
        assert!(pkg.warnings.iter().any(|w| w.contains("through S3")));
        // Past 250 MB unzipped: the same (cheap, sparse) bytes under two folders.
        for (folder, copies) in [("numpy", 3), ("pandas", 2)] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            for i in 0..copies {
                let f = std::fs::File::create(dir.path().join(format!("{folder}/{i}.so"))).unwrap();
                f.set_len(51 * 1024 * 1024).unwrap();
            }
        }
        let err = build_package(&PackageRequest {
            target: t,
            includes: vec![dir.path().join("numpy"), dir.path().join("pandas")],
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("the largest parts are numpy/ (153.0 MB), pandas/ (102.0 MB)"),
            "{err}"
        );
    }

    /// A project whose files are old enough for their stamps to be trusted (see `repack`).
    fn settled_project(files: usize) -> tempfile::TempDir {
        let dir = project();
        let r = dir.path();
        write(r, "tool.sh", "#!/bin/sh\n");
        for i in 0..files {
            let body = format!("def f{i}():\n    return {i}\n").repeat(1 + i % 7);
            write(r, &format!("data/d{}/m{i:04}.py", i % 13), &body);
        }
        std::thread::sleep(std::time::Duration::from_millis(2100));
        dir
    }

    fn request(dir: &Path, function: &str) -> PackageRequest {
        PackageRequest {
            target: resolve_target(&dir.join("app/main.py"), function, false).unwrap(),
            includes: vec![dir.join("data"), dir.join("tool.sh")],
        }
    }

    /// A cache, and how rebuilds through it learn what changed.
    struct Cached {
        cache: PackageCache,
        scrutiny: Scrutiny,
    }

    impl Cached {
        fn new(scrutiny: Scrutiny) -> Self {
            Self {
                cache: PackageCache::new(),
                scrutiny,
            }
        }

        fn reuse(&self) -> Reuse<'_> {
            match self.scrutiny {
                Scrutiny::Journal => Reuse::Journal(&self.cache),
                Scrutiny::EveryFile => Reuse::Stamps(&self.cache),
            }
        }
    }

    /// Builds through `cache` and from scratch: the same bytes, hash and file list.
    fn assert_identical(req: &PackageRequest, cache: &Cached, step: &str) -> Package {
        let cached = build_with(req, None, cache.reuse()).unwrap();
        let scratch = build_package(req).unwrap();
        assert!(cached.bytes == scratch.bytes, "{step}: the zips differ");
        assert_eq!(cached.code_sha256, scratch.code_sha256, "{step}");
        assert_eq!(cached.code_sha256, code_sha256(&cached.bytes), "{step}");
        assert_eq!(cached.files, scratch.files, "{step}");
        cached
    }

    #[test]
    fn repackaging_through_the_cache_is_byte_identical_to_a_build_from_scratch() {
        repackaging_is_byte_identical(Scrutiny::Journal);
        repackaging_is_byte_identical(Scrutiny::EveryFile);
    }

    fn repackaging_is_byte_identical(scrutiny: Scrutiny) {
        let dir = settled_project(1100);
        let r = dir.path();
        let req = request(r, "handler");
        let cache = Cached::new(scrutiny);
        let first = assert_identical(&req, &cache, "cold");
        let n = first.files.len();
        assert_eq!(first.reused, 0);
        assert_eq!(assert_identical(&req, &cache, "unchanged").reused, n);

        let edit = |rel: &str, text: &str| write(r, rel, text);
        edit("data/d6/m0500.py", "def f500():\n    return 'edited'\n");
        let p = assert_identical(&req, &cache, "edit in the middle");
        assert_eq!(p.reused, n - 1, "only the edited file is compressed again");
        edit("app/__init__.py", "# first entry\n");
        edit("tool.sh", "#!/bin/sh\necho last\n");
        assert_identical(&req, &cache, "edit the first and the last entries");
        edit("data/d0/new.py", "x = 1\n");
        assert_eq!(assert_identical(&req, &cache, "add").files.len(), n + 1);
        std::fs::remove_file(r.join("data/d1/m0001.py")).unwrap();
        assert_identical(&req, &cache, "delete");
        std::fs::rename(r.join("data/d2/m0002.py"), r.join("data/d2/z_renamed.py")).unwrap();
        std::fs::rename(r.join("data/d3"), r.join("data/d3_moved")).unwrap();
        assert_identical(&req, &cache, "rename a file and a folder");
        let touched = std::fs::File::options()
            .write(true)
            .open(r.join("data/d4/m0004.py"))
            .unwrap();
        touched
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(99))
            .unwrap();
        assert_identical(&req, &cache, "mtime-only touch");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            r.join("data/d6/m0006.py"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_identical(&req, &cache, "chmod +x");
        // The handler imports one more module: the import analysis follows the edit.
        write(r, "lib/extra.py", "y = 2\n");
        let main = std::fs::read_to_string(r.join("app/main.py")).unwrap();
        edit("app/main.py", &format!("import lib.extra\n{main}"));
        let p = assert_identical(&req, &cache, "a new import");
        assert!(p.files.contains(&"lib/extra.py".to_string()));
        // Callable mode adds a generated entry; the same file, another function, another key.
        assert_identical(&request(r, "add"), &cache, "callable, cold");
        assert_identical(&request(r, "add"), &cache, "callable, warm");
        // A zip still held by its caller is not written over.
        let held = assert_identical(&req, &cache, "held");
        edit("data/d7/m0007.py", "z = 3\n");
        assert_identical(&req, &cache, "while the last zip is held");
        assert_eq!(held.code_sha256, code_sha256(&held.bytes));
    }

    #[test]
    fn a_stale_cache_cannot_produce_wrong_bytes() {
        no_wrong_bytes_from_a_stale_cache(Scrutiny::Journal);
        no_wrong_bytes_from_a_stale_cache(Scrutiny::EveryFile);
    }

    fn no_wrong_bytes_from_a_stale_cache(scrutiny: Scrutiny) {
        let dir = settled_project(40);
        let r = dir.path();
        let req = request(r, "handler");
        let cache = Cached::new(scrutiny);
        assert_identical(&req, &cache, "cold");
        // Same size, same modification time, new content: the change time still tells.
        let path = r.join("data/d3/m0003.py");
        let before = std::fs::metadata(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("return", "yield ")).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(before.modified().unwrap()).unwrap();
        assert_identical(&req, &cache, "same size and mtime");
        // Rewritten again at once, within a timestamp tick of being read: its stamp may not
        // change, so a file that new is never taken from the cache.
        for round in 0..20 {
            std::fs::write(&path, format!("v = {:04}\n", round)).unwrap();
            let p = assert_identical(&req, &cache, "rewritten at once");
            assert!(p.reused < p.files.len());
        }
        // The whole tree replaced by another of the same names and sizes (a checkout).
        let files = build_package(&req).unwrap().files;
        for name in files.iter().filter(|n| n.starts_with("data/")) {
            let p = r.join(name);
            let text = std::fs::read_to_string(&p).unwrap().replace('f', "g");
            std::fs::remove_file(&p).unwrap();
            std::fs::write(&p, text).unwrap();
        }
        assert_identical(&req, &cache, "replaced tree");
        // A cache emptied (a restart) starts cold and is still right.
        cache.cache.clear();
        assert_eq!(assert_identical(&req, &cache, "cleared").reused, 0);
    }

    /// With the kernel's record of changes (`journal.rs`), a rebuild looks only at files the
    /// record names and at files outside the walked folders; where the record cannot tell, it
    /// looks at every file. The zip is the one built from scratch either way.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_rebuild_looks_only_at_what_changed_and_everything_when_unsure() {
        let dir = settled_project(300);
        let r = dir.path();
        let req = request(r, "handler");
        let cache = Cached::new(Scrutiny::Journal);
        let all = assert_identical(&req, &cache, "cold").files.len();
        // The handler's seven modules and tool.sh lie outside the walked folder `data`.
        let outside = assert_identical(&req, &cache, "unchanged").looked_at;
        assert_eq!(outside, 8, "files looked at of {all}");
        let looked = |step: &str| assert_identical(&req, &cache, step).looked_at - outside;

        write(r, "data/d5/m0005.py", "edited = True\n");
        assert_eq!(looked("an edit, read at once"), 1);
        write(r, "data/d5/m0005.py", "edited = 2\n");
        assert_eq!(looked("the same file again within its timestamp tick"), 1);
        write(r, "data/new/deep/n.py", "n = 1\n");
        assert_eq!(looked("a new folder"), 1);
        std::fs::rename(r.join("data/d6/m0006.py"), r.join("data/d6/renamed.py")).unwrap();
        assert_eq!(looked("a rename"), 1);

        // Written through another name in a folder not watched, a file raises no event here:
        // one that had other links when it was looked at is always looked at again.
        let linked = r.join("data/d7/m0007.py");
        std::fs::create_dir_all(r.join("elsewhere")).unwrap();
        std::fs::hard_link(&linked, r.join("elsewhere/alias.py")).unwrap();
        assert_eq!(stamps_only(&req, &cache.cache).looked_at, all + 1);
        std::fs::write(r.join("elsewhere/alias.py"), "through = 'the other name'\n").unwrap();
        assert_eq!(looked("written through the other link"), 1);
        assert_eq!(looked("and again"), 1);

        // A watched folder removed: its events could carry stale paths, so everything is
        // looked at once, and the record starts again.
        std::fs::remove_dir_all(r.join("data/new")).unwrap();
        assert_eq!(looked("a watched folder removed"), all - outside);
        // Only the file with two links.
        assert_eq!(looked("after the new record began"), 1);

        // More events than the kernel queues: the record overflowed and tells nothing.
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .map_or(16_384, |s| s.trim().parse().unwrap_or(16_384));
        for i in 0..limit.min(1 << 20) / 2 + 100 {
            let p = r.join(format!("data/d8/tmp{i}.txt"));
            std::fs::write(&p, "").unwrap();
            std::fs::remove_file(&p).unwrap();
        }
        assert_eq!(looked("after the queue overflowed"), all - outside);
    }

    /// A rebuild that looks at every file (for deploys to AWS) and reuses what is unchanged.
    fn stamps_only(req: &PackageRequest, cache: &PackageCache) -> Package {
        let cached = build_with(req, None, Reuse::Stamps(cache)).unwrap();
        assert!(cached.bytes == build_package(req).unwrap().bytes);
        cached
    }

    /// A layer zip whose `python/NAME/x.so` entries declare `sizes` (stored, so the file is as
    /// big as they are: sparse bytes of zeros compress, but stored entries keep the test honest).
    fn layer_zip(dir: &Path, sizes: &[(&str, u64)]) -> PathBuf {
        let path = dir.join("layer.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        for (name, size) in sizes {
            w.start_file(format!("python/{name}/x.so"), opts).unwrap();
            let chunk = vec![0u8; 1024 * 1024];
            for _ in 0..(size / (1024 * 1024)) {
                std::io::Write::write_all(&mut w, &chunk).unwrap();
            }
        }
        w.finish().unwrap();
        path
    }

    #[test]
    fn the_unzipped_limit_counts_the_function_and_its_layers_together() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "h.py",
            "def handler(event, context):\n    return 1\n",
        );
        std::fs::create_dir_all(dir.path().join("models")).unwrap();
        let f = std::fs::File::create(dir.path().join("models/m.bin")).unwrap();
        f.set_len(100 * 1024 * 1024).unwrap();
        let t = resolve_target(&dir.path().join("h.py"), "handler", false).unwrap();
        let pkg = build_package(&PackageRequest {
            target: t,
            includes: vec![dir.path().join("models")],
        })
        .unwrap();
        // Each within 250 MB alone: the function 100 MB, the layer 140 MB, then 160 MB.
        let fits = layer_zip(dir.path(), &[("numpy", 80 << 20), ("scipy", 60 << 20)]);
        check_with_layers(&pkg, &[fits]).unwrap();
        let over = layer_zip(dir.path(), &[("numpy", 80 << 20), ("scipy", 80 << 20)]);
        let err = check_with_layers(&pkg, &[over]).unwrap_err().to_string();
        assert!(
            err.contains("260.0 MB unzipped, over Lambda's 250 MB limit for a function and its layers; the largest parts are models/ (100.0 MB), numpy/ (layer) (80.0 MB), scipy/ (layer) (80.0 MB)"),
            "{err}"
        );
    }
}
