//! Assignments: named sets of scenes, their points, a due date and a late policy, from the
//! trusted commit's `classroom.toml`, and which commit of a submission each one grades.
//!
//! ```toml
//! [[assignment]]
//! name = "week-1"
//! scenes = ["primitives/crc32", "primitives/varint"]  # scenes or whole tracks
//! points = { "primitives/crc32" = 20 }                # where not the manifest's
//! due = "2026-12-10T23:59:00Z"
//! late = { grace = "15m", penalty_per_day = 10, cutoff = "2026-12-17T23:59:00Z" }
//! ```
//!
//! Without `late`, nothing after the due date is graded. With it, the last commit before the
//! cutoff is, less `penalty_per_day` percent for each day or part of one past the due date and
//! the grace. A commit's time is when it was pushed if the platform says so (`--pushed-at`,
//! for the tip), else its committer time, which the student's machine sets: the report says
//! which it used.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use git2::{Commit, Repository};
use serde::Deserialize;

/// The file, at the root of the trusted commit.
pub const FILE: &str = "classroom.toml";

const DAY: u64 = 24 * 60 * 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Classroom {
    #[serde(default)]
    assignment: Vec<Assignment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub name: String,
    /// Tracks or scenes, as `cargo grade` names them.
    pub scenes: Vec<String>,
    /// Points per scene, where not the manifest's.
    #[serde(default)]
    pub points: BTreeMap<String, u32>,
    #[serde(default, deserialize_with = "instant")]
    pub due: Option<SystemTime>,
    #[serde(default)]
    pub late: Option<Late>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Late {
    /// Time past the due date that is not yet late ("15m", "2h").
    #[serde(default, deserialize_with = "span")]
    pub grace: Duration,
    /// Percent of the points taken for each day, or part of a day, past the due date and grace.
    pub penalty_per_day: u32,
    /// Nothing after it is graded; without one, every commit is.
    #[serde(default, deserialize_with = "instant")]
    pub cutoff: Option<SystemTime>,
}

fn instant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_rfc3339_weak(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "{text:?} is not a time such as \"2026-12-10T23:59:00Z\" ({e})"
        ))
    })
}

fn span<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!("{text:?} is not a duration such as \"15m\" ({e})"))
    })
}

/// The assignment `name` of the classroom file `text` (the trusted commit's).
pub fn find(text: Option<&str>, name: &str) -> Result<Assignment> {
    let text =
        text.with_context(|| format!("--assignment {name}: the trusted commit has no {FILE}"))?;
    let classroom: Classroom = toml::from_str(text).with_context(|| format!("{FILE} is broken"))?;
    let names: Vec<&str> = classroom
        .assignment
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    match classroom.assignment.iter().find(|a| a.name == name) {
        Some(assignment) => Ok(assignment.clone()),
        None => bail!("{FILE} has no assignment {name:?} (it has {names:?})"),
    }
}

/// The assignment `name` of the classroom file in commit `rev`.
pub fn at(repo: &Repository, rev: &str, name: &str) -> Result<Assignment> {
    let tree = repo.revparse_single(rev)?.peel_to_commit()?.tree()?;
    let text = match tree.get_path(std::path::Path::new(FILE)) {
        Ok(entry) => {
            let blob = entry.to_object(repo)?.peel_to_blob()?;
            Some(
                String::from_utf8(blob.content().to_vec())
                    .with_context(|| format!("{FILE} is not UTF-8"))?,
            )
        }
        Err(_) => None,
    };
    find(text.as_deref(), name)
}

/// Where a commit's time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Pushed,
    Committed,
}

/// The commit an assignment grades, and how late it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graded {
    /// None: nothing was submitted before the deadline.
    pub commit: Option<git2::Oid>,
    pub time: Option<SystemTime>,
    pub clock: Clock,
    /// Whole days (or parts of one) past the due date and grace.
    pub days_late: u64,
    /// Percent of the points taken.
    pub penalty: u32,
}

impl Assignment {
    /// The last moment a commit may carry to be graded at all.
    fn deadline(&self) -> Option<SystemTime> {
        match (&self.late, self.due) {
            (Some(late), _) => late.cutoff,
            (None, due) => due,
        }
    }

    fn lateness(&self, time: SystemTime) -> (u64, u32) {
        let (Some(due), Some(late)) = (self.due, &self.late) else {
            return (0, 0);
        };
        match time.duration_since(due + late.grace) {
            Ok(past) if !past.is_zero() => {
                let days = past.as_secs().div_ceil(DAY).max(1);
                let penalty = days
                    .saturating_mul(u64::from(late.penalty_per_day))
                    .min(100);
                (days, penalty as u32)
            }
            _ => (0, 0),
        }
    }

    /// The commit to grade: the tip, if it came in time, else the newest commit before the
    /// deadline along the tip's first parents.
    pub fn pick(&self, tip: &Commit, pushed_at: Option<SystemTime>) -> Graded {
        let deadline = self.deadline();
        let in_time = |t: SystemTime| deadline.is_none_or(|d| t <= d);
        if let Some(pushed) = pushed_at.filter(|&t| in_time(t)) {
            return self.graded(Some(tip.id()), Some(pushed), Clock::Pushed);
        }
        let mut next = Some(tip.clone());
        while let Some(commit) = next {
            let time = committed_at(&commit);
            // Pushed late: the tip itself is out, whatever its commit time says.
            let tip_pushed_late = commit.id() == tip.id() && pushed_at.is_some();
            if in_time(time) && !tip_pushed_late {
                return self.graded(Some(commit.id()), Some(time), Clock::Committed);
            }
            next = commit.parents().next();
        }
        self.graded(None, None, Clock::Committed)
    }

    fn graded(&self, commit: Option<git2::Oid>, time: Option<SystemTime>, clock: Clock) -> Graded {
        let (days_late, penalty) = time.map_or((0, 0), |t| self.lateness(t));
        Graded {
            commit,
            time,
            clock,
            days_late,
            penalty,
        }
    }
}

fn committed_at(commit: &Commit) -> SystemTime {
    let seconds = commit.committer().when().seconds();
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

/// A time as the report shows it.
pub fn show(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// An assignment, and what grading it picked.
pub struct AssignmentGrade {
    pub assignment: Assignment,
    pub graded: Graded,
}

impl AssignmentGrade {
    /// One line for the log and the reports: which commit, by which clock, how late.
    pub fn describe(&self) -> String {
        let a = &self.assignment;
        let due = a
            .due
            .map(|d| format!(", due {}", show(d)))
            .unwrap_or_default();
        let what = match (self.graded.commit, self.graded.time) {
            (Some(commit), Some(time)) => format!(
                "graded commit {} ({} {})",
                &commit.to_string()[..12],
                match self.graded.clock {
                    Clock::Pushed => "pushed",
                    Clock::Committed => "committed, by its committer time,",
                },
                show(time)
            ),
            _ => "no commit came before the deadline: graded the exercises as given".to_string(),
        };
        let late = match self.graded.days_late {
            0 => String::new(),
            days => format!("; {days} day(s) late: {} % off", self.graded.penalty),
        };
        format!("assignment {}{due}: {what}{late}", a.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339_weak(text).unwrap()
    }

    const CLASSROOM: &str = r#"
        [[assignment]]
        name = "week-1"
        scenes = ["primitives/crc32"]
        due = "2026-12-10T12:00:00Z"

        [[assignment]]
        name = "week-2"
        scenes = ["primitives"]
        points = { "primitives/crc32" = 20 }
        due = "2026-12-10T12:00:00Z"
        late = { grace = "1h", penalty_per_day = 30, cutoff = "2026-12-20T12:00:00Z" }
    "#;

    #[test]
    fn a_broken_or_missing_assignment_is_a_clear_error() {
        let error = |text: Option<&str>, name| format!("{:#}", find(text, name).unwrap_err());
        assert!(error(None, "week-1").contains("has no classroom.toml"));
        assert!(error(Some(CLASSROOM), "week-3").contains(r#"no assignment "week-3""#));
        let bad_time = CLASSROOM.replace("2026-12-10T12:00:00Z", "next friday");
        assert!(error(Some(&bad_time), "week-1").contains(r#""next friday" is not a time"#));
        let unknown = CLASSROOM.replace("due =", "deu =");
        assert!(error(Some(&unknown), "week-1").contains("deu"));
    }

    #[test]
    fn each_day_or_part_of_one_past_due_and_grace_costs_the_penalty() {
        let week2 = find(Some(CLASSROOM), "week-2").unwrap();
        assert_eq!(week2.points["primitives/crc32"], 20);
        assert_eq!(week2.lateness(at("2026-12-10T11:00:00Z")), (0, 0));
        assert_eq!(
            week2.lateness(at("2026-12-10T13:00:00Z")),
            (0, 0),
            "in the grace"
        );
        assert_eq!(week2.lateness(at("2026-12-10T13:00:01Z")), (1, 30));
        assert_eq!(week2.lateness(at("2026-12-11T13:00:00Z")), (1, 30));
        assert_eq!(week2.lateness(at("2026-12-11T13:00:01Z")), (2, 60));
        assert_eq!(
            week2.lateness(at("2026-12-19T00:00:00Z")),
            (9, 100),
            "never past all"
        );
        let week1 = find(Some(CLASSROOM), "week-1").unwrap();
        assert_eq!(
            week1.lateness(at("2026-12-19T00:00:00Z")),
            (0, 0),
            "no late policy"
        );
    }

    /// A repository whose first-parent history has a commit at each of `times`, oldest first.
    fn history(times: &[&str]) -> (tempfile::TempDir, Repository, Vec<git2::Oid>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let tree = {
            let id = repo.treebuilder(None).unwrap().write().unwrap();
            repo.find_tree(id).unwrap()
        };
        let mut ids: Vec<git2::Oid> = Vec::new();
        for time in times {
            let seconds = at(time)
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let who =
                git2::Signature::new("s", "s@s", &git2::Time::new(seconds as i64, 0)).unwrap();
            let parents: Vec<Commit> = ids
                .last()
                .map(|id| repo.find_commit(*id).unwrap())
                .into_iter()
                .collect();
            let parents: Vec<&Commit> = parents.iter().collect();
            ids.push(
                repo.commit(None, &who, &who, time, &tree, &parents)
                    .unwrap(),
            );
        }
        drop(tree);
        (dir, repo, ids)
    }

    #[test]
    fn the_last_commit_before_the_deadline_is_graded() {
        let (_dir, repo, ids) = history(&[
            "2026-12-09T00:00:00Z",
            "2026-12-12T00:00:00Z",
            "2026-12-25T00:00:00Z",
        ]);
        let tip = repo.find_commit(ids[2]).unwrap();
        let week1 = find(Some(CLASSROOM), "week-1").unwrap();
        let graded = week1.pick(&tip, None);
        assert_eq!((graded.commit, graded.days_late), (Some(ids[0]), 0));

        let week2 = find(Some(CLASSROOM), "week-2").unwrap();
        let graded = week2.pick(&tip, None);
        assert_eq!(
            (graded.commit, graded.days_late, graded.penalty),
            (Some(ids[1]), 2, 60)
        );
        assert_eq!(graded.clock, Clock::Committed);

        // A push the platform dates in time counts, whatever the commit says; one dated late
        // rules the tip out even if its commit claims otherwise.
        let graded = week2.pick(&tip, Some(at("2026-12-10T11:00:00Z")));
        assert_eq!(
            (graded.commit, graded.penalty, graded.clock),
            (Some(ids[2]), 0, Clock::Pushed)
        );
        let (_dir, repo, ids) = history(&["2026-12-09T00:00:00Z", "2026-12-10T00:00:00Z"]);
        let tip = repo.find_commit(ids[1]).unwrap();
        let graded = week1.pick(&tip, Some(at("2026-12-11T00:00:00Z")));
        assert_eq!(graded.commit, Some(ids[0]));

        let (_dir, repo, ids) = history(&["2026-12-30T00:00:00Z"]);
        let graded = week1.pick(&repo.find_commit(ids[0]).unwrap(), None);
        assert_eq!(graded.commit, None, "nothing came in time");
    }
}
