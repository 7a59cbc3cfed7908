//! The implementations `verify` grades each scene against: the stub, the reference solution and
//! its mutants, each written out as a crate of its own under `target/grade/verify`.
//!
//! Every copy gets a package name of its own, so all of them (and their harnesses) build in one
//! cargo run. A scene that depends on an earlier scene's crate gets that scene's reference, so a
//! stub or a mutant fails for its own faults only.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, Item, value};

use crate::files::{list_files, write_if_changed};
use crate::manifest::{Scene, Workbook};
use crate::mutate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Stub,
    Solution,
    /// A plausible wrong implementation; `about` says what is wrong with it.
    Mutant {
        name: String,
        about: String,
    },
    /// A mutant made by machine (`verify --mutate`): one edit of the solution.
    Generated {
        number: usize,
        /// The edit, as [`crate::mutate::Mutation::id`] names it (with its file, if not lib.rs).
        id: String,
        /// Where, for reports: `src/lib.rs:52`.
        place: String,
    },
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub kind: Kind,
    pub dir: PathBuf,
    pub package: String,
}

impl Kind {
    fn slug(&self) -> String {
        match self {
            Kind::Stub => "stub".into(),
            Kind::Solution => "solution".into(),
            Kind::Mutant { name, .. } => format!("mutant-{name}"),
            Kind::Generated { number, .. } => format!("generated-{number}"),
        }
    }
}

/// Where the variants of every scene are written.
pub fn base_dir(workbook: &Workbook) -> PathBuf {
    crate::build::work_dir(&workbook.root, "verify")
}

/// Writes the stub, solution and mutants of `scene` and returns them in that order. The
/// solutions of every scene are written too, for scenes that depend on them.
pub fn write(workbook: &Workbook, scene: &Scene) -> Result<Vec<Variant>> {
    write_earlier_solutions(workbook, scene)?;
    let mut variants = Vec::new();
    let stub_files = stub(workbook, scene)?.committed;
    variants.push(write_variant(workbook, scene, Kind::Stub, &stub_files)?);
    let solution_files = read_tree(&scene.solution_dir().join("src"))?;
    variants.push(write_variant(
        workbook,
        scene,
        Kind::Solution,
        &solution_files,
    )?);
    for mutant in mutants(scene)? {
        let mutated = apply(&solution_files, &mutant.diff)
            .with_context(|| format!("{}: mutant {} does not apply", scene.id(), mutant.name))?;
        let kind = Kind::Mutant {
            name: mutant.name,
            about: mutant.about,
        };
        variants.push(write_variant(workbook, scene, kind, &mutated)?);
    }
    Ok(variants)
}

/// The mutants made by machine from `scene`'s solution, except those `equivalent.toml`
/// records as changing nothing observable. Each is written out as a crate; many will not
/// compile, which the caller finds out.
pub fn write_generated(workbook: &Workbook, scene: &Scene) -> Result<Vec<Variant>> {
    let equivalent = mutate::Equivalent::load(&scene.mutants_dir().join("equivalent.toml"))?;
    let files = read_tree(&scene.solution_dir().join("src"))?;
    let stub = stub(workbook, scene)?.committed;
    let mut variants = Vec::new();
    let mut recorded_seen = Vec::new();
    for (i, (path, text)) in files.iter().enumerate() {
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let mutations = mutate::mutations(text)
            .with_context(|| format!("{}: src/{}", scene.id(), path.display()))?;
        // What the stub gives whole is the stub's, not the learner's: an earlier scene grades
        // it, where the learner writes it.
        let given = match stub.iter().find(|(stub_path, _)| stub_path == path) {
            Some((_, stub_text)) => mutate::given_items(stub_text)
                .with_context(|| format!("{}'s stub: src/{}", scene.id(), path.display()))?,
            None => Default::default(),
        };
        for mutation in mutations
            .into_iter()
            .filter(|m| !given.contains(&m.function))
        {
            let id = match path == Path::new("lib.rs") {
                true => mutation.id.clone(),
                false => format!("{}: {}", path.display(), mutation.id),
            };
            if let Some(record) = equivalent.explaining(&id) {
                recorded_seen.push(record.mutant.clone());
                continue;
            }
            let mut mutated = files.clone();
            mutated[i].1 = mutation.apply(text);
            let kind = Kind::Generated {
                number: variants.len() + 1,
                id,
                place: format!("src/{}:{}", path.display(), mutation.line),
            };
            variants.push(write_variant(workbook, scene, kind, &mutated)?);
        }
    }
    for recorded in &equivalent.equivalent {
        if recorded.reason.trim().is_empty() {
            bail!(
                "mutants/equivalent.toml records {:?} without a reason",
                recorded.mutant
            );
        }
        if !recorded_seen.contains(&recorded.mutant) {
            bail!(
                "mutants/equivalent.toml records {:?}, which is no mutant of the solution now: \
                 remove it",
                recorded.mutant
            );
        }
    }
    Ok(variants)
}

/// A scene's stub: as the last commit has it (the files in `exercises/` may hold the learner's
/// work), or as the working files have it where the commit has none (a scene being written, a
/// workbook outside git).
pub struct Stub {
    pub committed: Tree,
    /// The working files differ from the committed stub.
    pub worked_on: bool,
}

pub fn stub(workbook: &Workbook, scene: &Scene) -> Result<Stub> {
    let src = scene.exercise_dir().join("src");
    let working = read_tree(&src)?;
    let relative = PathBuf::from(scene.relative(&src));
    let committed = match crate::committed::files(&workbook.root, &relative) {
        Ok(Some(files)) => files
            .into_iter()
            .map(|(path, bytes)| {
                String::from_utf8(bytes)
                    .map(|text| (path.clone(), text))
                    .with_context(|| format!("{}: {} is not UTF-8", scene.id(), path.display()))
            })
            .collect::<Result<Tree>>()?,
        Ok(None) | Err(_) => working.clone(),
    };
    let sorted = |tree: &Tree| {
        let mut tree = tree.clone();
        tree.sort();
        tree
    };
    Ok(Stub {
        worked_on: sorted(&working) != sorted(&committed),
        committed,
    })
}

pub struct Mutant {
    pub name: String,
    pub about: String,
    diff: String,
}

/// Writes the reference solutions of `scene` and of every earlier scene of its track (the
/// crates it may depend on); returns them in scene order.
pub fn write_solutions_through(workbook: &Workbook, scene: &Scene) -> Result<Vec<Variant>> {
    let mut solutions = write_earlier_solutions(workbook, scene)?;
    let files = read_tree(&scene.reference_src()?)?;
    solutions.push(write_variant(workbook, scene, Kind::Solution, &files)?);
    Ok(solutions)
}

/// An earlier scene's crate may be a dependency; it resolves to that scene's solution, which
/// must exist even when only this scene is being verified.
fn write_earlier_solutions(workbook: &Workbook, scene: &Scene) -> Result<Vec<Variant>> {
    let mut solutions = Vec::new();
    for earlier in workbook.scenes() {
        if earlier.track.name == scene.track.name && earlier.number < scene.number {
            let files = read_tree(&earlier.reference_src()?)?;
            solutions.push(write_variant(workbook, &earlier, Kind::Solution, &files)?);
        }
    }
    Ok(solutions)
}

/// The mutants of a scene, from `mutants/NAME.patch`: a unified diff of one file of the
/// solution, after a few lines that say what is wrong with the result.
pub fn mutants(scene: &Scene) -> Result<Vec<Mutant>> {
    let dir = scene.mutants_dir();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(found);
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "patch") {
            continue;
        }
        let name = path
            .file_stem()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path)?;
        let start = text
            .find("\n--- ")
            .map(|i| i + 1)
            .with_context(|| format!("{}: no unified diff in it", scene.relative(&path)))?;
        found.push(Mutant {
            name,
            about: text[..start].trim().to_string(),
            diff: text[start..].to_string(),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

pub type Tree = Vec<(PathBuf, String)>;

fn read_tree(dir: &Path) -> Result<Tree> {
    list_files(dir, &[])?
        .into_iter()
        .map(|relative| {
            let text = std::fs::read_to_string(dir.join(&relative))
                .with_context(|| format!("cannot read {}", dir.join(&relative).display()))?;
            Ok((relative, text))
        })
        .collect()
}

fn apply(files: &Tree, diff: &str) -> Result<Tree> {
    let patch = diffy::Patch::from_str(diff).map_err(|e| anyhow::anyhow!("{e}"))?;
    let target = patch
        .modified()
        .or(patch.original())
        .context("the patch names no file")?;
    let target = target.trim_start_matches("b/").trim_start_matches("src/");
    let mut applied = false;
    let mut out = files.clone();
    for (path, text) in &mut out {
        if path == Path::new(target) {
            *text = diffy::apply(text, &patch).map_err(|e| anyhow::anyhow!("{e}"))?;
            applied = true;
        }
    }
    if !applied {
        bail!("the solution has no src/{target}");
    }
    Ok(out)
}

fn write_variant(workbook: &Workbook, scene: &Scene, kind: Kind, src: &Tree) -> Result<Variant> {
    let dir = variant_dir(workbook, scene, &kind);
    let package = format!(
        "{}-{}",
        crate::grading::package_name(&scene.exercise_dir())?,
        kind.slug()
    );
    let manifest = rewrite_manifest(workbook, scene, &package)?;
    write_if_changed(&dir.join("Cargo.toml"), manifest.as_bytes())?;
    for (relative, text) in src {
        write_if_changed(&dir.join("src").join(relative), text.as_bytes())?;
    }
    Ok(Variant { kind, dir, package })
}

fn variant_dir(workbook: &Workbook, scene: &Scene, kind: &Kind) -> PathBuf {
    base_dir(workbook)
        .join("variants")
        .join(&scene.track.name)
        .join(scene.dir_name())
        .join(kind.slug())
}

/// The exercise's Cargo.toml with a new package name, and its path dependencies made absolute
/// (or, for earlier scenes' crates, pointed at their solutions).
fn rewrite_manifest(workbook: &Workbook, scene: &Scene, package: &str) -> Result<String> {
    let exercise = scene.exercise_dir();
    let path = exercise.join("Cargo.toml");
    let mut doc: DocumentMut = std::fs::read_to_string(&path)?
        .parse()
        .with_context(|| format!("{} is not valid TOML", scene.relative(&path)))?;
    doc["package"]["name"] = value(package);
    for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = doc.get_mut(table).and_then(Item::as_table_like_mut) else {
            continue;
        };
        for (_, dep) in deps.iter_mut() {
            let Some(dep) = dep.as_table_like_mut() else {
                continue;
            };
            let Some(relative) = dep.get("path").and_then(Item::as_str) else {
                continue;
            };
            let target = exercise
                .join(relative)
                .canonicalize()
                .with_context(|| format!("{}: no crate at {relative}", scene.relative(&path)))?;
            let earlier = workbook.scenes().find(|s| {
                s.exercise_dir()
                    .canonicalize()
                    .is_ok_and(|dir| dir == target)
            });
            match earlier {
                Some(earlier) => {
                    let solution = variant_dir(workbook, &earlier, &Kind::Solution);
                    let name = crate::grading::package_name(&target)?;
                    dep.insert("path", value(solution.display().to_string()));
                    dep.insert("package", value(format!("{name}-solution")));
                }
                None => {
                    dep.insert("path", value(target.display().to_string()));
                }
            }
        }
    }
    Ok(doc.to_string())
}
