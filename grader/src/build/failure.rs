//! Why a judge or a subject did not build, told to whoever can fix it.

use std::path::Path;

use super::cargo::{CargoRun, CompileError};
use super::workspace::Layout;
use super::{JudgeSpec, SubjectSpec};

/// Whose code does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The implementation's own code (the learner's crate, or an earlier scene's).
    Implementation,
    /// The implementation compiles, but a public item no longer matches the one the stub
    /// declares (and the checks call).
    Mismatch,
    /// The checks or a playground: a bug for the scene's author.
    Checks,
    /// Neither: cargo itself, or the grader's own crates.
    Other,
}

#[derive(Debug, Clone)]
pub struct BuildFailure {
    pub blame: Blame,
    /// What to show, first things first.
    pub errors: Vec<String>,
    /// Where the first error points, relative to the workbook when inside it.
    pub location: Option<(String, usize)>,
}

pub fn of_judge(judge: &JudgeSpec, layout: &Layout, run: &CargoRun) -> BuildFailure {
    let _ = layout;
    let errors: Vec<&CompileError> = run.errors.iter().collect();
    if errors.is_empty() {
        return cargo_failure(run);
    }
    BuildFailure {
        blame: Blame::Checks,
        location: errors.first().and_then(|e| e.places.first().cloned()),
        errors: errors
            .iter()
            .map(|e| format!("{} ({})", e.rendered.trim_end(), judge.package))
            .collect(),
    }
}

pub fn of_subject(subject: &SubjectSpec, layout: &Layout, run: &CargoRun) -> BuildFailure {
    let crate_dirs: Vec<&Path> = subject
        .variants
        .iter()
        .flatten()
        .map(|c| c.dir.as_path())
        .collect();
    let own = layout.package_dir(&subject.package);
    let in_dispatcher: Vec<&CompileError> = run
        .errors
        .iter()
        .filter(|e| e.target_src.starts_with(&own))
        .collect();
    let in_implementation: Vec<&CompileError> = run
        .errors
        .iter()
        .filter(|e| {
            !e.target_src.starts_with(&layout.dir)
                && (crate_dirs.iter().any(|dir| e.target_src.starts_with(dir))
                    || !is_platform(&e.target_src))
        })
        .collect();
    if !in_implementation.is_empty() {
        return BuildFailure {
            blame: Blame::Implementation,
            location: in_implementation
                .first()
                .and_then(|e| e.places.first().cloned()),
            errors: in_implementation
                .iter()
                .map(|e| e.rendered.clone())
                .collect(),
        };
    }
    if !in_dispatcher.is_empty() {
        let learner_place = |error: &CompileError| {
            error
                .places
                .iter()
                .find(|(file, _)| !file.starts_with('/') && !file.starts_with("grader/"))
                .cloned()
        };
        return BuildFailure {
            blame: Blame::Mismatch,
            location: in_dispatcher.iter().find_map(|e| learner_place(e)),
            errors: in_dispatcher
                .iter()
                .map(|e| mismatch(e, subject, learner_place(e)))
                .collect(),
        };
    }
    cargo_failure(run)
}

/// The grader's own crates (which a learner's build error is never in).
fn is_platform(src: &Path) -> bool {
    let text = src.to_string_lossy();
    text.contains("/grader/") || text.contains("/kit/src/")
}

/// An error in the dispatcher: some item of the learner's crate is not what the API says.
fn mismatch(error: &CompileError, subject: &SubjectSpec, at: Option<(String, usize)>) -> String {
    let declared = error.primary.as_ref().and_then(|(file, line)| {
        let api = subject
            .apis
            .iter()
            .find(|api| Path::new(file) == api.declaration)?;
        let text = std::fs::read_to_string(&api.declaration).ok()?;
        declared_item(&text, *line)
    });
    let mut told = match declared {
        Some((name, signature)) => format!(
            "`{name}` in your crate no longer matches the stub, which declares it as:\n\n    {}\n",
            signature.replace('\n', "\n    ")
        ),
        None => "a public item of your crate no longer matches the stub's (a name, a \
                 signature or a field changed)\n"
            .to_string(),
    };
    told.push_str(&format!("\nrustc says: {}", error.message));
    if let Some((file, line)) = at {
        told.push_str(&format!(" (see {file}:{line})"));
    }
    told.push_str("\nPut the item back as the stub has it; `cargo grade reset` shows the stub.\n");
    told
}

/// The item declared at `line` (counted from 1) of a declaration: its name, with its type for
/// a method, and its text.
fn declared_item(text: &str, line: usize) -> Option<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let index = line.checked_sub(1)?;
    let first = lines.get(index)?.trim();
    let mut signature = first.to_string();
    let mut next = index + 1;
    while !signature.ends_with(';')
        && !signature.ends_with('{')
        && next < lines.len().min(index + 6)
    {
        signature.push('\n');
        signature.push_str(lines[next].trim());
        next += 1;
    }
    let signature = signature.trim_end_matches(['{', ' ']).to_string();
    let word_after = |keyword: &str| {
        signature
            .split_once(keyword)
            .map(|(_, rest)| {
                rest.trim_start()
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .filter(|name| !name.is_empty())
    };
    let name = word_after("fn ")
        .or_else(|| word_after("struct "))
        .or_else(|| word_after("enum "))
        .or_else(|| word_after("const "))
        .unwrap_or_else(|| first.to_string());
    // A method: name it with the type of the impl it is in.
    let owner = lines[..index]
        .iter()
        .rev()
        .find(|l| l.trim_start().starts_with("impl ") || l.trim() == "}")
        .filter(|l| l.trim_start().starts_with("impl "))
        .map(|l| {
            let header = l
                .trim()
                .trim_start_matches("impl ")
                .trim_end_matches(['{', ' ']);
            header.rsplit(" for ").next().unwrap_or(header).to_string()
        });
    let name = match owner {
        Some(owner) if signature.contains("fn ") => format!("{owner}::{name}"),
        _ => name,
    };
    Some((name, signature))
}

fn cargo_failure(run: &CargoRun) -> BuildFailure {
    let tail: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| !line.trim_start().starts_with("Compiling"))
        .collect();
    BuildFailure {
        blame: Blame::Other,
        errors: vec![tail[tail.len().saturating_sub(20)..].join("\n")],
        location: None,
    }
}

#[cfg(test)]
mod tests {
    use super::declared_item;

    #[test]
    fn a_method_is_named_with_its_type() {
        let text = "scene_api! {\n    crate c;\n    impl LruCache<char, u32> {\n        pub fn new(capacity: usize) -> Self;\n        pub fn put(&mut self, key: char,\n            value: u32) -> Option<u32>;\n    }\n    pub fn crc32(bytes: &[u8]) -> u32;\n}\n";
        assert_eq!(
            declared_item(text, 5),
            Some((
                "LruCache<char, u32>::put".into(),
                "pub fn put(&mut self, key: char,\nvalue: u32) -> Option<u32>;".into()
            ))
        );
        assert_eq!(
            declared_item(text, 8),
            Some(("crc32".into(), "pub fn crc32(bytes: &[u8]) -> u32;".into()))
        );
    }
}
