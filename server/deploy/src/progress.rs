//! What a deploy is doing now, as both front ends show it, and sizes in words for people.

use std::fmt;

use serde::Serialize;

/// What a deploy is doing now; the CLI draws a bar, the language server sends `$/progress`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Progress {
    Packaging,
    Packaged {
        files: usize,
        bytes: u64,
        code_sha256: String,
    },
    Checking {
        function: String,
    },
    CreatingRole {
        role: String,
    },
    Uploading {
        bytes: u64,
    },
    /// One part of an upload through S3 finished; `sent` counts every part done so far.
    UploadedPart {
        part: u32,
        sent: u64,
        total: u64,
    },
    UpdatingConfiguration,
    /// One line of pip's output while requirements install for Lambda's platform.
    InstallingRequirements {
        line: String,
    },
    PublishingLayer {
        layer: String,
    },
    Waiting {
        state: String,
        attempt: u32,
    },
    Retrying {
        reason: String,
        attempt: u32,
    },
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Packaging => write!(f, "packaging"),
            Progress::Packaged { files, bytes, .. } => {
                write!(f, "packaged {files} files ({})", human_bytes(*bytes))
            }
            Progress::Checking { function } => write!(f, "looking up {function}"),
            Progress::CreatingRole { role } => write!(f, "creating execution role {role}"),
            Progress::Uploading { bytes } => write!(f, "uploading {}", human_bytes(*bytes)),
            Progress::UploadedPart { part, sent, total } => write!(
                f,
                "uploaded part {part} to S3 ({} of {})",
                human_bytes(*sent),
                human_bytes(*total)
            ),
            Progress::UpdatingConfiguration => write!(f, "updating configuration"),
            Progress::InstallingRequirements { line } => {
                write!(f, "installing requirements: {}", line.trim())
            }
            Progress::PublishingLayer { layer } => write!(f, "publishing layer {layer}"),
            Progress::Waiting { state, .. } => write!(f, "waiting for Lambda ({state})"),
            Progress::Retrying { reason, attempt } => {
                write!(f, "retrying ({reason}, attempt {attempt})")
            }
        }
    }
}

/// `12.3 KB` style sizes for people.
pub fn human_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}
