//! Generating harness packages and building them with cargo.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use cargo_metadata::Message;
use cargo_metadata::diagnostic::DiagnosticLevel;

use crate::files::write_if_changed;

/// One harness to build: a checks file against an implementation crate.
#[derive(Debug, Clone)]
pub struct Harness {
    /// Unique within one build.
    pub package: String,
    pub checks_file: PathBuf,
    /// The name the checks file uses for the crate under test, e.g. `primitives_crc32`.
    pub crate_name: String,
    pub impl_dir: PathBuf,
    /// The package name in `impl_dir`'s Cargo.toml.
    pub impl_package: String,
}

/// Why one harness did not build: the compiler's errors, as it rendered them.
#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub errors: Vec<String>,
    /// True when the errors are in the checks, not in the implementation: usually a changed
    /// public signature.
    pub in_checks: bool,
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
    Ok(run.errors.into_iter().map(|(_, text)| text).collect())
}

/// What one cargo run produced.
struct CargoRun {
    /// Binaries by target name.
    binaries: HashMap<String, PathBuf>,
    /// Rendered compiler errors, with the source file of the target they belong to.
    errors: Vec<(PathBuf, String)>,
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
                if let Some(rendered) = msg.message.rendered {
                    let rendered = rendered.replace(&format!("{}/", root.display()), "");
                    errors.push((msg.target.src_path.into_std_path_buf(), rendered));
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
    errors: &[(PathBuf, String)],
    cargo_stderr: &str,
) -> BuildFailure {
    let harness_dir = dir.join(&harness.package);
    let own = |prefix: &Path| -> Vec<String> {
        errors
            .iter()
            .filter(|(src, _)| src.starts_with(prefix))
            .map(|(_, text)| text.clone())
            .collect()
    };
    let in_impl = own(&harness.impl_dir);
    if !in_impl.is_empty() {
        return BuildFailure {
            errors: in_impl,
            in_checks: false,
        };
    }
    let in_checks = own(&harness_dir);
    if !in_checks.is_empty() {
        return BuildFailure {
            errors: in_checks,
            in_checks: true,
        };
    }
    // Not the crate's own code nor the checks: a dependency (an earlier scene) or cargo itself.
    let mut all: Vec<String> = errors.iter().map(|(_, text)| text.clone()).collect();
    if all.is_empty() {
        let tail: Vec<&str> = cargo_stderr
            .lines()
            .filter(|line| !line.trim_start().starts_with("Compiling"))
            .collect();
        all.push(tail[tail.len().saturating_sub(20)..].join("\n"));
    }
    BuildFailure {
        errors: all,
        in_checks: false,
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
        let manifest = format!(
            "[package]\nname = {:?}\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [[bin]]\nname = {:?}\npath = \"main.rs\"\n\n\
             [dependencies]\n{} = {{ path = {:?}, package = {:?} }}\nharness = {{ path = {:?} }}\n",
            harness.package,
            harness.package,
            harness.crate_name,
            harness.impl_dir,
            harness.impl_package,
            root.join("grader/harness"),
        );
        write_if_changed(&package_dir.join("Cargo.toml"), manifest.as_bytes())?;
        let main = format!(
            "#[path = {:?}]\nmod checks;\n\nfn main() {{\n    harness::run(checks::suite())\n}}\n",
            harness.checks_file
        );
        write_if_changed(&package_dir.join("main.rs"), main.as_bytes())?;
    }
    Ok(())
}
