//! The results of a classroom grading, in the formats classrooms and CI systems read.
//!
//! Every format is written by the grader's own process after all learner code has finished and
//! every process it left behind is gone, each file replaced whole.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use serde_json::json;

use crate::run::Verdict;

/// One scene's result.
pub struct SceneResult {
    pub id: String,
    pub track: String,
    pub title: String,
    pub points: u32,
    pub passed: bool,
    /// Check names and verdicts (empty when the crate did not build).
    pub checks: Vec<(String, Verdict)>,
    /// Why the scene failed, in a few lines.
    pub summary: String,
    /// Where to point an annotation: a file in the workbook and a line.
    pub location: (String, usize),
    pub seconds: f64,
}

impl SceneResult {
    pub fn score(&self) -> u32 {
        if self.passed { self.points } else { 0 }
    }
}

pub struct Report {
    pub trusted: String,
    pub submission: String,
    pub ignored: Vec<String>,
    pub scenes: Vec<SceneResult>,
    /// The assignment graded, if one was: which commit, how late.
    pub assignment: Option<super::AssignmentGrade>,
}

impl Report {
    /// The points earned, less the late penalty.
    pub fn score(&self) -> f64 {
        let earned: u32 = self.scenes.iter().map(SceneResult::score).sum();
        let penalty = self.assignment.as_ref().map_or(0, |a| a.graded.penalty);
        f64::from(earned) * f64::from(100 - penalty.min(100)) / 100.0
    }

    pub fn max_score(&self) -> u32 {
        self.scenes.iter().map(|s| s.points).sum()
    }

    pub fn passed(&self) -> bool {
        self.scenes.iter().all(|s| s.passed)
    }
}

/// Writes every format into `dir`; returns the file names written.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<&'static str>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = [
        ("summary.md", summary_markdown(report)),
        ("junit.xml", junit(report)),
        ("results.json", gradescope(report)),
        ("autograding.json", classroom(report).to_string()),
    ];
    for (name, contents) in &files {
        replace(&dir.join(name), contents)?;
    }
    Ok(files.iter().map(|(name, _)| *name).collect())
}

/// Written beside, then renamed over: a reader never sees half a file, and whatever was there
/// before (put there by anyone) is gone.
fn replace(path: &Path, contents: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut temp, contents.as_bytes())?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The GitHub job summary: a table per track, with points.
/// Said above the list of a submission's changes that grading left out.
const NOT_COUNTED: &str = "These changes are outside exercises/*/*/src/ and did not count:";

pub fn summary_markdown(report: &Report) -> String {
    let mut md = format!(
        "## Grade: {} of {} points\n\nGraded with the checks of `{}`; submission `{}`.\n",
        report.score(),
        report.max_score(),
        report.trusted,
        report.submission
    );
    if let Some(assignment) = &report.assignment {
        let _ = writeln!(md, "\n{}.", markdown_escape(&assignment.describe()));
    }
    if !report.ignored.is_empty() {
        let _ = write!(
            md,
            "\n{}\n\n",
            NOT_COUNTED.replace("exercises/*/*/src/", "`exercises/*/*/src/`")
        );
        for path in &report.ignored {
            let _ = writeln!(md, "- `{}`", markdown_escape(path));
        }
    }
    let mut tracks: Vec<&str> = report.scenes.iter().map(|s| s.track.as_str()).collect();
    tracks.dedup();
    for track in tracks {
        let _ = write!(
            md,
            "\n### {track}\n\n| scene | result | points |\n|---|---|---|\n"
        );
        for scene in report.scenes.iter().filter(|s| s.track == track) {
            let result = if scene.passed {
                "✅ passes".to_string()
            } else {
                format!(
                    "❌ {}",
                    markdown_escape(scene.summary.lines().next().unwrap_or("fails"))
                )
            };
            let _ = writeln!(
                md,
                "| {} | {result} | {}/{} |",
                markdown_escape(&scene.title),
                scene.score(),
                scene.points
            );
        }
    }
    md
}

fn markdown_escape(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most this many failures are annotated in the job log.
const ANNOTATIONS: usize = 5;

/// The job log's annotations: the first few failing scenes, each pointing at the code; a
/// class-sized run of them would bury the log (and the platform drops those past its limit),
/// so a notice sends the reader to the summary for the rest.
pub fn annotations(report: &Report) -> Vec<String> {
    let failing: Vec<&SceneResult> = report.scenes.iter().filter(|s| !s.passed).collect();
    let mut lines: Vec<String> = failing
        .iter()
        .take(ANNOTATIONS)
        .map(|s| annotation(s))
        .collect();
    if failing.len() > ANNOTATIONS {
        lines.push(format!(
            "::notice title=More scenes fail::{} more failing scenes are in the job summary",
            failing.len() - ANNOTATIONS
        ));
    }
    lines
}

/// A workflow command, its message escaped so that learner text cannot end it early or start
/// another.
fn annotation(scene: &SceneResult) -> String {
    let (file, line) = &scene.location;
    format!(
        "::error file={},line={line},title={}::{}",
        escape_property(file),
        escape_property(&format!("{} fails", scene.id)),
        escape_data(&scene.summary)
    )
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// JUnit XML: a suite per track, a test case per check (or per scene that did not build).
pub fn junit(report: &Report) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures: usize = report.scenes.iter().map(failing_cases).sum();
    let tests: usize = report.scenes.iter().map(case_count).sum();
    let _ = writeln!(
        xml,
        "<testsuites name=\"workbook\" tests=\"{tests}\" failures=\"{failures}\">"
    );
    let mut tracks: Vec<&str> = report.scenes.iter().map(|s| s.track.as_str()).collect();
    tracks.dedup();
    for track in tracks {
        let scenes: Vec<&SceneResult> = report.scenes.iter().filter(|s| s.track == track).collect();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            xml_escape(track),
            scenes.iter().map(|s| case_count(s)).sum::<usize>(),
            scenes.iter().map(|s| failing_cases(s)).sum::<usize>(),
            scenes.iter().map(|s| s.seconds).sum::<f64>()
        );
        if !report.ignored.is_empty() {
            xml.push_str("    <properties>\n");
            for path in &report.ignored {
                let _ = writeln!(
                    xml,
                    "      <property name=\"not counted\" value=\"{}\"/>",
                    xml_escape(path)
                );
            }
            xml.push_str("    </properties>\n");
        }
        for scene in scenes {
            if scene.checks.is_empty() {
                let _ = writeln!(
                    xml,
                    "    <testcase classname=\"{}\" name=\"builds\">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml_escape(&scene.id),
                    xml_escape(scene.summary.lines().next().unwrap_or_default()),
                    xml_escape(&scene.summary)
                );
                continue;
            }
            for (name, verdict) in &scene.checks {
                let _ = write!(
                    xml,
                    "    <testcase classname=\"{}\" name=\"{}\"",
                    xml_escape(&scene.id),
                    xml_escape(name)
                );
                match verdict {
                    Verdict::Passed => xml.push_str("/>\n"),
                    Verdict::Failed(message) | Verdict::Died(message) => {
                        let _ = writeln!(
                            xml,
                            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                            xml_escape(message.lines().next().unwrap_or_default()),
                            xml_escape(message)
                        );
                    }
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn case_count(scene: &SceneResult) -> usize {
    scene.checks.len().max(1)
}

fn failing_cases(scene: &SceneResult) -> usize {
    if scene.checks.is_empty() {
        return usize::from(!scene.passed);
    }
    scene
        .checks
        .iter()
        .filter(|(_, v)| *v != Verdict::Passed)
        .count()
}

/// Text as XML 1.0 allows it: markup escaped, control characters it forbids dropped.
fn xml_escape(text: &str) -> String {
    text.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r') || c >= ' ')
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Gradescope's results.json: one test per scene, scored from the manifest.
pub fn gradescope(report: &Report) -> String {
    let tests: Vec<_> = report
        .scenes
        .iter()
        .map(|scene| {
            json!({
                "name": format!("{}: {}", scene.id, scene.title),
                "score": scene.score(),
                "max_score": scene.points,
                "status": if scene.passed { "passed" } else { "failed" },
                "output": if scene.passed { "All checks pass.".to_string() } else { scene.summary.clone() },
                "visibility": "visible",
                // For the gradebook: the scene's id and the checks that failed, by name.
                "extra_data": {
                    "scene": scene.id,
                    "failing": scene.checks.iter()
                        .filter(|(_, verdict)| *verdict != Verdict::Passed)
                        .map(|(name, _)| name)
                        .collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    let mut output = format!("Graded with the checks of {}.", report.trusted);
    if let Some(assignment) = &report.assignment {
        let _ = write!(output, "\n\n{}.", assignment.describe());
    }
    if !report.ignored.is_empty() {
        let _ = write!(output, "\n\n{NOT_COUNTED}\n");
        for path in &report.ignored {
            let _ = write!(output, "\n- {path}");
        }
    }
    let graded = report.assignment.as_ref().map(|a| &a.graded);
    let results = json!({
        "score": report.score(),
        "execution_time": report.scenes.iter().map(|s| s.seconds).sum::<f64>().round() as u64,
        "output": output,
        "tests": tests,
        // For the gradebook: what was graded, and how late.
        "extra_data": {
            "trusted": report.trusted,
            "submission": report.submission,
            "days_late": graded.map_or(0, |g| g.days_late),
            "penalty_percent": graded.map_or(0, |g| g.penalty),
        },
    });
    serde_json::to_string_pretty(&results).expect("plain JSON")
}

/// The GitHub Classroom autograding result, version 1.
pub fn classroom(report: &Report) -> serde_json::Value {
    let tests: Vec<_> = report
        .scenes
        .iter()
        .map(|scene| {
            json!({
                "name": scene.id,
                "status": if scene.passed { "pass" } else { "fail" },
                "message": if scene.passed { serde_json::Value::Null } else { scene.summary.clone().into() },
                // A number always, as GitHub's own graders write it: 0 where no line is to blame.
                "line_no": if scene.passed { 0 } else { scene.location.1 },
                "execution_time": format!("{}ms", (scene.seconds * 1000.0).round() as u64),
                "score": scene.score(),
            })
        })
        .collect();
    json!({
        "version": 1,
        "status": if report.passed() { "pass" } else { "fail" },
        "max_score": report.max_score(),
        "tests": tests,
    })
}

/// The classroom result as a step output line: `result=<base64 of the JSON>`.
pub fn classroom_output(report: &Report) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(classroom(report).to_string());
    format!("result={encoded}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(failing: usize) -> Report {
        let scene = |i: usize| SceneResult {
            id: format!("track/scene-{i}"),
            track: "track".into(),
            title: format!("Scene {i}"),
            points: 10,
            passed: i >= failing,
            checks: Vec::new(),
            summary: "does not build".into(),
            location: (format!("exercises/track/{i:02}-scene/src/lib.rs"), 1),
            seconds: 0.0,
        };
        Report {
            trusted: "trusted".into(),
            submission: "submission".into(),
            ignored: Vec::new(),
            scenes: (0..failing + 2).map(scene).collect(),
            assignment: None,
        }
    }

    #[test]
    fn a_few_failures_are_annotated_and_the_rest_counted() {
        let lines = annotations(&report(3));
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.starts_with("::error file=")));

        let lines = annotations(&report(12));
        assert_eq!(lines.len(), ANNOTATIONS + 1);
        assert!(
            lines[..ANNOTATIONS]
                .iter()
                .all(|l| l.starts_with("::error"))
        );
        assert!(
            lines[ANNOTATIONS].contains("7 more failing scenes are in the job summary"),
            "{}",
            lines[ANNOTATIONS]
        );
    }
}
