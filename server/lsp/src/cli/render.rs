//! How the command line shows results: human text, or stable JSON with `--json`. The CLI's only
//! way to stdout is [`emit`]; the language server never calls it.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use lambda_deploy::aws::Connection;
use lambda_deploy::deploy::human_bytes;
use lambda_deploy::events;
use lambda_deploy::functions::FunctionSummary;
use lambda_deploy::invoke::InvokeOutcome;
use lambda_deploy::maintain::Removed;
use lambda_deploy::package::Package;
use lambda_deploy::profiles::{ProfileListing, Selection};
use lambda_deploy::pull::Pulled;
use lambda_ops::deploy::Deployed;
use serde_json::json;

/// Writes one result line (or block) to stdout.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

pub fn emit_json(value: &serde_json::Value) {
    emit(&serde_json::to_string_pretty(value).expect("JSON values serialize"));
}

/// A result that reads the same as text (`Display`) and as JSON (`Serialize`).
pub fn value<T: serde::Serialize + std::fmt::Display>(v: &T, json: bool) {
    if json {
        emit_json(&serde_json::to_value(v).expect("results serialize"));
    } else {
        emit(&v.to_string());
    }
}

pub fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// A spinner with the current step, hidden under `--json`.
pub fn progress_bar(json: bool) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A bar counting finished invokes.
pub fn count_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} invokes ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn profiles(listing: &ProfileListing, selection: &Selection, json: bool) {
    let all = lambda_ops::profiles::with_local(listing);
    if json {
        emit_json(&json!({
            "selected": selection.profile_name(),
            "config_file": listing.config_file,
            "credentials_file": listing.credentials_file,
            "profiles": all,
        }));
        return;
    }
    for p in &all {
        let mark = if p.name == selection.profile_name() {
            "*"
        } else {
            " "
        };
        emit(&format!(
            "{mark} {:<24} {:<12} {:<18} {}",
            p.name,
            p.region.as_deref().unwrap_or("-"),
            p.kind.to_string(),
            p.role_arn.as_deref().unwrap_or(""),
        ));
    }
}

pub fn packaged(out: &Path, pkg: &Package, json: bool) {
    if json {
        emit_json(&json!({"out": out, "package": pkg}));
    } else {
        emit(&format!(
            "wrote {} ({} files, {}), CodeSha256 {}",
            out.display(),
            pkg.files.len(),
            human_bytes(pkg.size),
            pkg.code_sha256
        ));
    }
}

pub fn deployed(deployed: &Deployed, invoked: Option<&InvokeOutcome>, json: bool) {
    if json {
        emit_json(&json!({
            "deploy": deployed.outcome,
            "invoke": invoked,
            "local_run": deployed.local_run,
        }));
        return;
    }
    eprintln!("{}", deployed.outcome);
    if let Some(run) = &deployed.local_run {
        eprintln!("{run}");
    }
    if let Some(i) = invoked {
        self::invoked(i);
    }
}

/// The log tail and timing to stderr; the result to stdout, or to stderr when the function failed.
pub fn invoked(outcome: &InvokeOutcome) {
    if let Some(tail) = &outcome.log_tail {
        eprintln!("--- log tail ---\n{}", tail.trim_end());
        eprintln!("---");
    }
    if outcome.failed() {
        eprint!("{outcome}");
    } else {
        emit(&outcome.to_string());
    }
    if let Some(v) = &outcome.executed_version {
        eprintln!("({} ms, version {v})", outcome.duration_ms.round());
    }
}

pub fn list(conn: &Connection, all: &[FunctionSummary], json: bool) {
    if json {
        emit_json(&serde_json::to_value(all).expect("summaries serialize"));
    } else if all.is_empty() {
        eprintln!("no functions on {}", conn.info);
    } else {
        for f in all {
            emit(&f.to_string());
        }
    }
}

pub fn deleted(conn: &Connection, name: &str, removed: Option<&Removed>, json: bool) {
    if json {
        match removed {
            Some(removed) => emit_json(&json!({"deleted": removed, "target": conn.info})),
            None => emit_json(&json!({"deleted": name, "target": conn.info})),
        }
        return;
    }
    emit(&format!("deleted {name} from {}", conn.info));
    let Some(removed) = removed else { return };
    for l in &removed.layer_versions {
        emit(&format!("deleted layer version {l}"));
    }
    if let Some(r) = &removed.role {
        emit(&format!("deleted role {r}"));
    }
    for a in &removed.artifacts {
        emit(&format!("deleted artifact {a}"));
    }
}

pub fn unshared(name: &str, removed: &[String], json: bool) {
    if json {
        emit_json(&json!({"function": name, "removed": removed}));
    } else if removed.is_empty() {
        emit(&format!("{name} was not shared by lambda-ls"));
    } else {
        emit(&format!("removed from {name}: {}", removed.join(", ")));
    }
}

pub fn catalog(json: bool) {
    if json {
        emit_json(&serde_json::to_value(events::CATALOG).expect("the catalog serializes"));
    } else {
        for t in events::CATALOG {
            emit(&format!("{:<22} {}", t.name, t.title));
        }
    }
}

pub fn pulled(conn: &Connection, pulled: &Pulled, json: bool) {
    if json {
        emit_json(&serde_json::to_value(pulled).expect("serializes"));
        return;
    }
    emit(&format!(
        "pulled {} from {} into {} ({} files, {}); deploy it back with `lambda-ls deploy {}` there",
        pulled.function,
        conn.info,
        pulled.dir.display(),
        pulled.files,
        human_bytes(pulled.bytes),
        pulled.target
    ));
    if !pulled.env_left_out.is_empty() {
        eprintln!(
            "warning: environment values left out of lambda.toml ({}); deploying without them removes them, `--with-env` writes them",
            pulled.env_left_out.join(", ")
        );
    }
}
