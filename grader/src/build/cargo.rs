//! One cargo run over a generated workspace, read through its JSON messages.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
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

/// Cargo's progress on a terminal, in one line that updates: what is being built and how many
/// crates so far, and a plain sentence when another build holds the build directory.
struct Status {
    compiled: usize,
    shown: bool,
    /// The build directory, as the learner would name it.
    target: String,
}

impl Status {
    fn show(&mut self, line: &str) {
        use std::io::Write;
        let trimmed = line.trim_start();
        let mut stderr = std::io::stderr().lock();
        if let Some(rest) = trimmed.strip_prefix("Compiling ") {
            self.compiled += 1;
            let name = rest.split_whitespace().next().unwrap_or_default();
            let _ = write!(
                stderr,
                "\r\x1b[2K  building: {} compiled, now {name}",
                match self.compiled {
                    1 => "1 crate".to_string(),
                    n => format!("{n} crates"),
                }
            );
            self.shown = true;
        } else if [
            "Locking",
            "Adding",
            "Updating",
            "Downloading",
            "Downloaded",
            "Removing",
        ]
        .iter()
        .any(|word| trimmed.starts_with(word))
        {
            let _ = write!(stderr, "\r\x1b[2K  building: {trimmed}");
            self.shown = true;
        } else if trimmed.starts_with("Blocking waiting for file lock") {
            self.clear_with(&mut stderr);
            let _ = writeln!(
                stderr,
                "  waiting: another `cargo grade` is building in {}; this one starts when it ends",
                self.target
            );
        } else if !trimmed.starts_with("Finished") && !trimmed.starts_with("Checking ") {
            self.clear_with(&mut stderr);
            let _ = writeln!(stderr, "{line}");
        }
        let _ = stderr.flush();
    }

    fn clear(&mut self) {
        self.clear_with(&mut std::io::stderr().lock());
    }

    fn clear_with(&mut self, stderr: &mut impl std::io::Write) {
        if std::mem::take(&mut self.shown) {
            let _ = write!(stderr, "\r\x1b[2K");
        }
    }
}

/// Runs this process (and the compilers it starts) only when nothing else wants the processor.
/// A grading crosses between its judge and its subject thousands of times, and each crossing
/// waits for the scheduler: beside a build of normal priority each waits out the compiler's time
/// slice, and a check of half a second took a minute (two builds and one grading on two cores).
/// A build loses little by yielding, since it only waits while a grading runs; where the system
/// refuses, the build runs as before.
fn yield_to_gradings() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sets this process's own scheduling policy; no memory is shared.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    }
}

/// What one cargo run produced.
pub struct CargoRun {
    /// Binaries by target name.
    pub binaries: HashMap<String, PathBuf>,
    pub errors: Vec<CompileError>,
    pub stderr: String,
}

/// Runs cargo on the workspace in `dir`, building into `target`; compile errors name their files
/// relative to `root`.
pub fn run(
    root: &Path,
    target: &Path,
    dir: &Path,
    args: &[&str],
    display: Display,
) -> Result<CargoRun> {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // SAFETY: between fork and exec, one system call on the child itself.
    unsafe {
        command.pre_exec(|| {
            yield_to_gradings();
            Ok(())
        });
    }
    let mut child = command
        .args(args.iter().take_while(|&&a| a != "--"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
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
    let target = target
        .strip_prefix(root)
        .unwrap_or(target)
        .display()
        .to_string();
    let stderr = std::thread::spawn(move || {
        let mut kept = String::new();
        let mut status = Status {
            compiled: 0,
            shown: false,
            target,
        };
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if show {
                status.show(&line);
            }
            kept.push_str(&line);
            kept.push('\n');
        }
        status.clear();
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
