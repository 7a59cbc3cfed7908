//! `curriculum.toml`: the tracks, their scenes in order, and where each scene's files live.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

pub const MANIFEST_FILE: &str = "curriculum.toml";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Curriculum {
    format_version: u32,
    #[serde(default, rename = "tracks")]
    tracks: Vec<Track>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    pub name: String,
    pub title: String,
    pub summary: String,
    /// The scene whose crate `cargo grade play` drives, with `grader/play/<track>.rs`.
    #[serde(default)]
    pub play: Option<String>,
    /// Each scene's stub holds the reference of the scene before it, so a learner may start it
    /// from their own code of that scene instead (`cargo grade carry`).
    #[serde(default)]
    pub carries_forward: bool,
    /// Features of the kit its checks and playground build with: real systems to talk to or
    /// compare with (`redis-client`, `sqlite`), which no other track's judges pay for.
    #[serde(default)]
    pub kit_features: Vec<String>,
    #[serde(default)]
    pub scenes: Vec<SceneEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneEntry {
    pub name: String,
    pub title: String,
    #[serde(default = "default_points")]
    pub points: u32,
    /// Wall-clock limit for one check, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    pub predict: Predict,
}

/// The question asked once a scene passes: what will the system do next?
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predict {
    pub question: String,
    pub choices: Vec<String>,
    /// The right choice, counted from 1.
    pub answer: usize,
    /// Why that choice is right, shown after answering.
    pub why: String,
}

fn default_points() -> u32 {
    10
}

fn default_timeout() -> u64 {
    10
}

/// The workbook on disk: its root directory and its manifest.
#[derive(Debug)]
pub struct Workbook {
    pub root: PathBuf,
    pub tracks: Vec<Track>,
}

/// One scene, located: which track, where in it, and its files.
#[derive(Debug, Clone, Copy)]
pub struct Scene<'a> {
    pub track: &'a Track,
    pub entry: &'a SceneEntry,
    /// Position in the track, from 1.
    pub number: usize,
    root: &'a Path,
}

impl Workbook {
    /// Finds the workbook containing `start` (the manifest may be in any parent directory).
    pub fn discover(start: &Path) -> Result<Workbook> {
        // Canonical, so that paths compare and shorten the same way cargo and rustc write them.
        let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
        let root = start
            .ancestors()
            .find(|dir| dir.join(MANIFEST_FILE).is_file())
            .with_context(|| {
                format!(
                    "no {MANIFEST_FILE} in {} or any parent: run this inside the workbook",
                    start.display()
                )
            })?;
        Workbook::load(root)
    }

    pub fn load(root: &Path) -> Result<Workbook> {
        let path = root.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {MANIFEST_FILE}"))?;
        let curriculum: Curriculum = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!("{MANIFEST_FILE} is not valid: {}", one_line(&e, &text))
        })?;
        if curriculum.format_version != FORMAT_VERSION {
            bail!(
                "{MANIFEST_FILE} has format_version {}, but this grader reads version {FORMAT_VERSION}",
                curriculum.format_version
            );
        }
        let workbook = Workbook {
            root: root.to_path_buf(),
            tracks: curriculum.tracks,
        };
        workbook.validate()?;
        Ok(workbook)
    }

    fn validate(&self) -> Result<()> {
        let mut track_names = std::collections::HashSet::new();
        for track in &self.tracks {
            if !is_slug(&track.name) || !track_names.insert(&track.name) {
                bail!(
                    "{MANIFEST_FILE}: track name {:?} is empty, repeated, or not lower-case-with-dashes",
                    track.name
                );
            }
            if let Some(play) = &track.play
                && !track.scenes.iter().any(|s| &s.name == play)
            {
                bail!(
                    "{MANIFEST_FILE}: track {}: play names no scene of the track: {play:?}",
                    track.name
                );
            }
            let mut scene_names = std::collections::HashSet::new();
            for scene in &track.scenes {
                let id = format!("{}/{}", track.name, scene.name);
                if !is_slug(&scene.name) || !scene_names.insert(&scene.name) {
                    bail!(
                        "{MANIFEST_FILE}: scene {id:?} is repeated or not lower-case-with-dashes"
                    );
                }
                let predict = &scene.predict;
                if predict.choices.len() < 2
                    || !(1..=predict.choices.len()).contains(&predict.answer)
                {
                    bail!(
                        "{MANIFEST_FILE}: scene {id}: predict needs two or more choices and an answer among them (counted from 1)"
                    );
                }
                if scene.timeout_secs == 0 {
                    bail!("{MANIFEST_FILE}: scene {id}: timeout_secs must be at least 1");
                }
            }
        }
        Ok(())
    }

    /// Every scene, track by track, in order.
    pub fn scenes(&self) -> impl Iterator<Item = Scene<'_>> {
        self.tracks.iter().flat_map(move |track| {
            track
                .scenes
                .iter()
                .enumerate()
                .map(move |(i, entry)| Scene {
                    track,
                    entry,
                    number: i + 1,
                    root: &self.root,
                })
        })
    }

    /// The scene a learner means by `query`: `track/scene`, `track/NN-scene`, or a scene name
    /// that only one track has.
    /// The scene a mistyped name most likely meant: one whose name starts with it or contains
    /// it, or else the nearest in spelling (a few letters off at most).
    fn closest(&self, query: &str) -> Option<String> {
        let scene_part = query.rsplit('/').next().unwrap_or(query).to_lowercase();
        let names: Vec<String> = self.scenes().map(|s| s.id()).collect();
        let short = |id: &String| id.rsplit('/').next().unwrap_or(id).to_string();
        if let Some(id) = names
            .iter()
            .find(|id| !scene_part.is_empty() && short(id).contains(&scene_part))
        {
            return Some(id.clone());
        }
        names
            .iter()
            .map(|id| (strsim::damerau_levenshtein(&scene_part, &short(id)), id))
            .filter(|(distance, id)| *distance <= 2.max(short(id).len() / 4))
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, id)| id.clone())
    }

    /// The scene whose exercise folder holds `dir` (a learner working in it).
    pub fn scene_at(&self, dir: &Path) -> Option<Scene<'_>> {
        let dir = dir.canonicalize().ok()?;
        self.scenes().find(|scene| {
            scene
                .exercise_dir()
                .canonicalize()
                .is_ok_and(|exercise| dir.starts_with(exercise))
        })
    }

    pub fn find(&self, query: &str) -> Result<Scene<'_>> {
        let matches: Vec<Scene> = self.scenes().filter(|s| s.answers_to(query)).collect();
        match matches.as_slice() {
            [scene] => Ok(*scene),
            [] => match self.closest(query) {
                Some(near) => bail!(
                    "no scene is called {query:?}; did you mean {near}? (`cargo grade list` \
                     shows them all)"
                ),
                None => bail!("no scene is called {query:?}; `cargo grade list` shows them all"),
            },
            several => bail!(
                "{query:?} could be any of {}; name the track too",
                several
                    .iter()
                    .map(|s| s.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The playground file of a track.
    pub fn playground_file(&self, track: &Track) -> PathBuf {
        self.root
            .join("grader/play")
            .join(&track.name)
            .with_extension("rs")
    }

    /// The scene before `scene` in its track, if any.
    pub fn previous(&self, scene: &Scene) -> Option<Scene<'_>> {
        self.scenes()
            .find(|s| s.track.name == scene.track.name && s.number + 1 == scene.number)
    }

    /// The scenes a selector names: everything, one track, or one scene.
    pub fn select(&self, selector: Option<&str>) -> Result<Vec<Scene<'_>>> {
        match selector {
            None => Ok(self.scenes().collect()),
            Some(name) if self.tracks.iter().any(|t| t.name == name) => {
                Ok(self.scenes().filter(|s| s.track.name == name).collect())
            }
            Some(query) => Ok(vec![self.find(query)?]),
        }
    }
}

impl<'a> Scene<'a> {
    /// `track/scene`, the name used in progress and in commands.
    pub fn id(&self) -> String {
        format!("{}/{}", self.track.name, self.entry.name)
    }

    /// `NN-scene`, the directory name used under every content folder.
    pub fn dir_name(&self) -> String {
        format!("{:02}-{}", self.number, self.entry.name)
    }

    fn answers_to(&self, query: &str) -> bool {
        let (track, scene) = match query.split_once('/') {
            Some((track, scene)) => (Some(track), scene),
            None => (None, query),
        };
        track.is_none_or(|t| t == self.track.name)
            && (scene == self.entry.name || scene == self.dir_name())
    }

    fn content_path(&self, folder: &str) -> PathBuf {
        self.root
            .join(folder)
            .join(&self.track.name)
            .join(self.dir_name())
    }

    /// The learner's crate.
    pub fn exercise_dir(&self) -> PathBuf {
        self.content_path("exercises")
    }

    /// The reference solution's files, laid out like the exercise's.
    pub fn solution_dir(&self) -> PathBuf {
        self.content_path("solutions")
    }

    /// The reference's sources; an error a learner can act on where this copy of the workbook
    /// has none (a class's copy: the instructor keeps them).
    pub fn reference_src(&self) -> anyhow::Result<PathBuf> {
        let src = self.solution_dir().join("src");
        if !src.is_dir() {
            anyhow::bail!(
                "the reference solutions are not in this copy of the workbook: your instructor \
                 keeps them"
            );
        }
        Ok(src)
    }

    pub fn mutants_dir(&self) -> PathBuf {
        self.solution_dir().join("mutants")
    }

    pub fn hints_file(&self) -> PathBuf {
        self.content_path("hints").with_extension("md")
    }

    /// The hidden checks: the judge's side.
    pub fn checks_file(&self) -> PathBuf {
        self.checks_dir().join(self.dir_name()).with_extension("rs")
    }

    /// The declaration of the scene's API, from which the proxies the checks call and the
    /// dispatcher around the learner's crate are both generated.
    pub fn api_file(&self) -> PathBuf {
        self.checks_dir()
            .join(self.dir_name())
            .with_extension("api.rs")
    }

    /// The helpers every checks file of the track may use (`crate::support`), if it has any.
    pub fn support_file(&self) -> PathBuf {
        self.checks_dir().join("support.rs")
    }

    fn checks_dir(&self) -> PathBuf {
        self.root.join("grader/checks").join(&self.track.name)
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.entry.timeout_secs)
    }

    /// The root-relative form of a path, for messages.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

fn is_slug(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// toml's errors span several lines with a source excerpt; keep the gist on one.
pub fn one_line(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workbook of its own, so these tests hold whatever tracks a copy of this one has (a
    /// class's copy may have none of the primitives).
    fn primitives() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let scene = |name: &str| {
            format!(
                "[[tracks.scenes]]\nname = {name:?}\ntitle = \"{name}\"\n\
                 [tracks.scenes.predict]\nquestion = \"?\"\nchoices = [\"a\", \"b\"]\n\
                 answer = 1\nwhy = \"a\"\n"
            )
        };
        let manifest = format!(
            "format_version = 1\n[[tracks]]\nname = \"primitives\"\ntitle = \"P\"\n\
             summary = \"p\"\n{}{}",
            scene("crc32"),
            scene("varint")
        );
        std::fs::write(root.path().join(MANIFEST_FILE), manifest).unwrap();
        root
    }

    #[test]
    fn a_folder_inside_an_exercise_belongs_to_its_scene() {
        let root = primitives();
        let src = root.path().join("exercises/primitives/02-varint/src");
        std::fs::create_dir_all(&src).unwrap();
        let workbook = Workbook::load(root.path()).unwrap();
        let scene = workbook.scene_at(&src).map(|s| s.id());
        assert_eq!(scene.as_deref(), Some("primitives/varint"));
        assert!(workbook.scene_at(root.path()).is_none());
        assert!(workbook.scene_at(&root.path().join("exercises")).is_none());
    }

    #[test]
    fn a_mistyped_scene_name_gets_a_suggestion() {
        let root = primitives();
        let workbook = Workbook::load(root.path()).unwrap();
        let error = |query: &str| workbook.find(query).err().unwrap().to_string();
        assert!(
            error("crc").contains("did you mean primitives/crc32?"),
            "{}",
            error("crc")
        );
        assert!(error("vartint").contains("did you mean primitives/varint?"));
        assert!(!error("zzzzzz").contains("did you mean"));
    }
}
