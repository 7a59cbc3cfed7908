//! Generating harness packages and building them with cargo.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use cargo_metadata::Message;
use cargo_metadata::diagnostic::DiagnosticLevel;

use crate::files::write_if_changed;

/// One harness to build: a generated binary around a crate under test.
#[derive(Debug, Clone)]
pub struct Harness {
    /// Unique within one build.
    pub package: String,
    pub entry: Entry,
    /// The crate under test.
    pub subject: CrateRef,
    /// Further crates the entry uses (a playground also draws with earlier scenes' crates).
    pub also: Vec<CrateRef>,
}

/// What the generated `main` runs.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A checks file: `pub fn suite() -> harness::Suite`, run under the grader's protocol.
    Checks(PathBuf),
    /// A playground file: `pub fn main()`, run on the learner's terminal.
    Playground(PathBuf),
}

/// A crate a harness depends on.
#[derive(Debug, Clone)]
pub struct CrateRef {
    /// The name the entry uses for it, e.g. `primitives_crc32`.
    pub name: String,
    pub dir: PathBuf,
    /// The package name in `dir`'s Cargo.toml.
    pub package: String,
}

/// Why one harness did not build: the compiler's errors, as it rendered them.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub errors: Vec<String>,
    /// True when the errors are in the checks, not in the implementation: usually a changed
    /// public signature.
    pub in_checks: bool,
    /// Where the first error points: a file (relative to the workbook when inside it) and line.
    pub location: Option<(String, usize)>,
}

/// One compiler error, rendered, with the target it belongs to and where it points.
#[derive(Debug, Clone)]
struct CompileError {
    target_src: PathBuf,
    rendered: String,
    at: Option<(String, usize)>,
}

/// Writes a workspace of harness packages into `dir` and builds them all in one cargo run.
/// Returns each harness's binary, or why it did not build.
pub fn build(
    root: &Path,
    dir: &Path,
    harnesses: &[Harness],
    colour: bool,
    show_cargo_progress: bool,
) -> Result<HashMap<String, Result<PathBuf, BuildFailure>>> {
    write_workspace(root, dir, harnesses)?;
    let run = cargo(
        root,
        dir,
        &["build", "--keep-going", "--bins"],
        colour,
        show_cargo_progress,
    )?;
    Ok(harnesses
        .iter()
        .map(|harness| {
            let outcome = match run.binaries.get(&harness.package) {
                Some(exe) => Ok(exe.clone()),
                None => Err(failure_of(harness, dir, &run.errors, &run.stderr)),
            };
            (harness.package.clone(), outcome)
        })
        .collect())
}

/// Builds a single harness in the workspace `dir`: its binary, or why it did not build.
pub fn build_one(
    root: &Path,
    dir: &Path,
    harness: &Harness,
    colour: bool,
) -> Result<Result<PathBuf, BuildFailure>> {
    let mut built = build(root, dir, std::slice::from_ref(harness), colour, false)?;
    Ok(built
        .remove(&harness.package)
        .expect("every harness built has an outcome"))
}

/// Runs clippy, warnings denied, over the packages of the workspace in `dir` that `packages`
/// matches (a cargo package pattern) and the crates they use. Returns what it objects to.
pub fn lint(root: &Path, dir: &Path, packages: &str, colour: bool) -> Result<Vec<String>> {
    let args = [
        "clippy",
        "--keep-going",
        "--bins",
        "--package",
        packages,
        "--",
        "-D",
        "warnings",
    ];
    let run = cargo(root, dir, &args, colour, false)?;
    Ok(run.errors.into_iter().map(|error| error.rendered).collect())
}

/// What one cargo run produced.
struct CargoRun {
    /// Binaries by target name.
    binaries: HashMap<String, PathBuf>,
    errors: Vec<CompileError>,
    stderr: String,
}

/// Runs cargo over the harness workspace in `dir`, reading its JSON messages.
fn cargo(
    root: &Path,
    dir: &Path,
    args: &[&str],
    colour: bool,
    show_progress: bool,
) -> Result<CargoRun> {
    let mut child = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args.iter().take_while(|&&a| a != "--"))
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/grade"))
        .arg(if colour {
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
    let stderr = std::thread::spawn(move || {
        let mut kept = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if show_progress {
                eprintln!("{line}");
            }
            kept.push_str(&line);
            kept.push('\n');
        }
        kept
    });

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
                let prefix = format!("{}/", root.display());
                let at = msg.message.spans.iter().find(|s| s.is_primary).map(|span| {
                    let file = span
                        .file_name
                        .strip_prefix(&prefix)
                        .unwrap_or(&span.file_name);
                    (file.to_string(), span.line_start)
                });
                if let Some(rendered) = msg.message.rendered {
                    errors.push(CompileError {
                        target_src: msg.target.src_path.into_std_path_buf(),
                        rendered: rendered.replace(&prefix, ""),
                        at,
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

fn failure_of(
    harness: &Harness,
    dir: &Path,
    errors: &[CompileError],
    cargo_stderr: &str,
) -> BuildFailure {
    let failure = |chosen: Vec<&CompileError>, in_checks| BuildFailure {
        location: chosen.first().and_then(|e| e.at.clone()),
        errors: chosen.iter().map(|e| e.rendered.clone()).collect(),
        in_checks,
    };
    let under = |prefix: &Path| -> Vec<&CompileError> {
        errors
            .iter()
            .filter(|e| e.target_src.starts_with(prefix))
            .collect()
    };
    let in_impl = under(&harness.subject.dir);
    if !in_impl.is_empty() {
        return failure(in_impl, false);
    }
    let in_checks = under(&dir.join(&harness.package));
    if !in_checks.is_empty() {
        return failure(in_checks, true);
    }
    // Not the crate's own code nor the checks: a dependency (an earlier scene) or cargo itself.
    if !errors.is_empty() {
        return failure(errors.iter().collect(), false);
    }
    let tail: Vec<&str> = cargo_stderr
        .lines()
        .filter(|line| !line.trim_start().starts_with("Compiling"))
        .collect();
    BuildFailure {
        errors: vec![tail[tail.len().saturating_sub(20)..].join("\n")],
        in_checks: false,
        location: None,
    }
}

fn write_workspace(root: &Path, dir: &Path, harnesses: &[Harness]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let members: Vec<String> = harnesses
        .iter()
        .map(|h| format!("{:?}", h.package))
        .collect();
    let workspace = format!(
        "# Generated by the grader; rewritten on every run.\n\
         [workspace]\nresolver = \"3\"\nmembers = [{}]\n\n\
         # Quick to build, quick enough to run many property cases; overflow checks stay on.\n\
         [profile.dev]\nopt-level = 1\ndebug = false\n",
        members.join(", ")
    );
    write_if_changed(&dir.join("Cargo.toml"), workspace.as_bytes())?;
    // The main workspace's lock pins every registry crate, so harness builds agree with it.
    if let Ok(lock) = std::fs::read_to_string(root.join("Cargo.lock")) {
        write_if_changed(&dir.join("Cargo.lock"), lock.as_bytes())?;
    }
    for harness in harnesses {
        let package_dir = dir.join(&harness.package);
        let mut manifest = format!(
            "[package]\nname = {:?}\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [[bin]]\nname = {:?}\npath = \"main.rs\"\n\n\
             [dependencies]\nharness = {{ path = {:?} }}\nkit = {{ path = {:?} }}\n",
            harness.package,
            harness.package,
            root.join("grader/harness"),
            root.join("kit"),
        );
        for dependency in std::iter::once(&harness.subject).chain(&harness.also) {
            manifest.push_str(&format!(
                "{} = {{ path = {:?}, package = {:?} }}\n",
                dependency.name, dependency.dir, dependency.package
            ));
        }
        write_if_changed(&package_dir.join("Cargo.toml"), manifest.as_bytes())?;
        let main = match &harness.entry {
            Entry::Checks(file) => format!(
                "#[path = {file:?}]\nmod checks;\n\nfn main() {{\n    harness::run(checks::suite())\n}}\n"
            ),
            Entry::Playground(file) => format!(
                "#[path = {file:?}]\nmod playground;\n\nfn main() {{\n    playground::main()\n}}\n"
            ),
        };
        write_if_changed(&package_dir.join("main.rs"), main.as_bytes())?;
    }
    Ok(())
}
