//! One cargo run over a generated workspace, read through its JSON messages.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use cargo_metadata::Message;
use cargo_metadata::diagnostic::DiagnosticLevel;

use super::Display;

/// One compiler error.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// The root source file of the crate being compiled.
    pub target_src: PathBuf,
    /// As rustc rendered it, paths relative to the workbook.
    pub rendered: String,
    /// The headline, e.g. "mismatched types".
    pub message: String,
    /// Where it points: the primary span's file (as rustc names it) and line.
    pub primary: Option<(String, usize)>,
    /// Every place any of its spans or notes point at.
    pub places: Vec<(String, usize)>,
}

/// What one cargo run produced.
pub struct CargoRun {
    /// Binaries by target name.
    pub binaries: HashMap<String, PathBuf>,
    pub errors: Vec<CompileError>,
    pub stderr: String,
}

pub fn run(root: &Path, dir: &Path, args: &[&str], display: Display) -> Result<CargoRun> {
    let mut child = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args.iter().take_while(|&&a| a != "--"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/grade"))
        .arg(if display.colour {
            "--message-format=json-diagnostic-rendered-ansi"
        } else {
            "--message-format=json"
        })
        .args(args.iter().skip_while(|&&a| a != "--"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start cargo")?;
    let stderr = child.stderr.take().expect("piped");
    let show = display.progress;
    let stderr = std::thread::spawn(move || {
        let mut kept = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if show {
                eprintln!("{line}");
            }
            kept.push_str(&line);
            kept.push('\n');
        }
        kept
    });

    let prefix = format!("{}/", root.display());
    let mut binaries = HashMap::new();
    let mut errors = Vec::new();
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    for message in Message::parse_stream(stdout) {
        match message.context("cannot read cargo's output")? {
            Message::CompilerArtifact(artifact) => {
                if let Some(exe) = artifact.executable {
                    binaries.insert(artifact.target.name.clone(), exe.into_std_path_buf());
                }
            }
            Message::CompilerMessage(msg) if msg.message.level == DiagnosticLevel::Error => {
                let relative = |file: &str| file.strip_prefix(&prefix).unwrap_or(file).to_string();
                let primary = msg
                    .message
                    .spans
                    .iter()
                    .find(|s| s.is_primary)
                    .map(|span| (span.file_name.clone(), span.line_start));
                let mut places: Vec<(String, usize)> = msg
                    .message
                    .spans
                    .iter()
                    .chain(msg.message.children.iter().flat_map(|c| c.spans.iter()))
                    .map(|span| (relative(&span.file_name), span.line_start))
                    .collect();
                places.dedup();
                let label = msg
                    .message
                    .spans
                    .iter()
                    .find(|s| s.is_primary)
                    .and_then(|span| span.label.clone());
                let message = match label {
                    Some(label) => format!("{}: {label}", msg.message.message),
                    None => msg.message.message.clone(),
                };
                if let Some(rendered) = msg.message.rendered {
                    errors.push(CompileError {
                        target_src: msg.target.src_path.into_std_path_buf(),
                        rendered: rendered.replace(&prefix, ""),
                        message,
                        primary,
                        places,
                    });
                }
            }
            _ => {}
        }
    }
    child.wait().context("cargo did not finish")?;
    Ok(CargoRun {
        binaries,
        errors,
        stderr: stderr.join().unwrap_or_default(),
    })
}
