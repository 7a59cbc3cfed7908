//! The gradebook: every student's results, as a CSV (one row per student, one column per scene,
//! as spreadsheets and LMS gradebooks import) and as a class page (how each scene went, which
//! checks fail most, with their messages).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::Graded;

/// What `cargo grade ci` wrote in one student's results.json (Gradescope's format, with the
/// grader's own `extra_data`).
#[derive(Debug, Clone, Deserialize)]
pub struct Results {
    pub score: f64,
    pub tests: Vec<Test>,
    pub extra_data: Extra,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Test {
    pub score: f64,
    pub max_score: f64,
    pub output: String,
    pub extra_data: TestExtra,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TestExtra {
    pub scene: String,
    pub failing: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Extra {
    pub submission: String,
    pub days_late: u64,
    pub penalty_percent: u32,
}

impl Results {
    pub fn read(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("no results in {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not readable", path.display()))
    }

    pub fn max_score(&self) -> f64 {
        self.tests.iter().map(|t| t.max_score).sum()
    }
}

/// Writes `grades.csv` and `class.html` into `dir` and, when the roster gives logins, the
/// imports of LMS gradebooks, with the total as `column`; returns their names.
pub fn write(
    dir: &Path,
    assignment: Option<&str>,
    column: &str,
    graded: &[Graded],
) -> Result<Vec<&'static str>> {
    // Every scene any student was graded on, in the order grading listed them.
    let mut scenes: Vec<String> = Vec::new();
    for (results, _) in graded.iter().filter_map(|g| g.result.as_ref().ok()) {
        for test in &results.tests {
            if !scenes.contains(&test.extra_data.scene) {
                scenes.push(test.extra_data.scene.clone());
            }
        }
    }
    std::fs::write(dir.join("grades.csv"), csv(assignment, &scenes, graded)?)?;
    std::fs::write(dir.join("class.html"), page(assignment, &scenes, graded))?;
    let mut written = vec!["grades.csv", "class.html"];
    if graded.iter().any(|g| !g.login.is_empty()) {
        std::fs::write(dir.join("canvas.csv"), canvas(column, graded)?)?;
        std::fs::write(dir.join("moodle.csv"), moodle(column, graded)?)?;
        written.extend(["canvas.csv", "moodle.csv"]);
    }
    Ok(written)
}

/// Canvas's gradebook import: a student is matched by SIS Login ID, and a column Canvas does
/// not know becomes a new assignment, out of the points in the "Points Possible" row. A student
/// not graded has an empty cell, which Canvas leaves alone.
fn canvas(column: &str, graded: &[Graded]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        column,
    ])?;
    let possible = graded
        .iter()
        .filter_map(|g| g.result.as_ref().ok())
        .map(|(results, _)| results.max_score())
        .fold(0.0, f64::max);
    let possible = possible.to_string();
    writer.write_record(["    Points Possible", "", "", "", "", &possible])?;
    for student in graded.iter().filter(|g| !g.login.is_empty()) {
        let total = total(student);
        writer.write_record([&student.student, "", "", &student.login, "", &total])?;
    }
    Ok(writer.into_inner()?)
}

/// Moodle's grade import (CSV): map `username` to the user's username, and the total's column
/// to a grade item (or a new one). An empty cell is skipped.
fn moodle(column: &str, graded: &[Graded]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["username", "student", column])?;
    for student in graded.iter().filter(|g| !g.login.is_empty()) {
        writer.write_record([&student.login, &student.student, &total(student)])?;
    }
    Ok(writer.into_inner()?)
}

/// A student's points after any late penalty; empty when they could not be graded.
fn total(student: &Graded) -> String {
    match &student.result {
        Ok((results, _)) => results.score.to_string(),
        Err(_) => String::new(),
    }
}

fn csv(assignment: Option<&str>, scenes: &[String], graded: &[Graded]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["student".to_string(), "assignment".to_string()];
    header.extend(scenes.iter().cloned());
    header.extend(
        [
            "total",
            "max",
            "days late",
            "penalty %",
            "commit graded",
            "not graded because",
        ]
        .map(String::from),
    );
    writer.write_record(&header)?;
    for student in graded {
        let mut row = vec![
            student.student.clone(),
            assignment.unwrap_or_default().to_string(),
        ];
        match &student.result {
            Ok((results, _)) => {
                for scene in scenes {
                    let test = results.tests.iter().find(|t| &t.extra_data.scene == scene);
                    row.push(test.map(|t| t.score.to_string()).unwrap_or_default());
                }
                row.extend([
                    results.score.to_string(),
                    results.max_score().to_string(),
                    results.extra_data.days_late.to_string(),
                    results.extra_data.penalty_percent.to_string(),
                    results.extra_data.submission.clone(),
                    String::new(),
                ]);
            }
            Err(why) => {
                row.extend(scenes.iter().map(|_| String::new()));
                row.extend(["", "", "", "", ""].map(String::from));
                row.push(why.clone());
            }
        }
        writer.write_record(&row)?;
    }
    Ok(writer.into_inner()?)
}

fn page(assignment: Option<&str>, scenes: &[String], graded: &[Graded]) -> String {
    let results: Vec<(&str, &Results)> = graded
        .iter()
        .filter_map(|g| g.result.as_ref().ok().map(|(r, _)| (g.student.as_str(), r)))
        .collect();
    let title = match assignment {
        Some(name) => format!("Class results: {name}"),
        None => "Class results".to_string(),
    };
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:60em}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}\
         .bar{{background:#4a7;height:1em;display:inline-block}}pre{{white-space:pre-wrap;margin:0}}</style>\n\
         </head><body>\n<h1>{}</h1>\n<p id=\"counts\">{} students graded, {} not graded.</p>\n",
        escape(&title),
        escape(&title),
        results.len(),
        graded.len() - results.len()
    );
    html.push_str(
        "<h2>Scenes</h2>\n<table id=\"scenes\"><tr><th>scene</th><th>passed</th><th></th></tr>\n",
    );
    for scene in scenes {
        let taken: Vec<&Test> = results
            .iter()
            .filter_map(|(_, r)| r.tests.iter().find(|t| &t.extra_data.scene == scene))
            .collect();
        let passed = taken
            .iter()
            .filter(|t| t.extra_data.failing.is_empty() && t.score >= t.max_score)
            .count();
        let width = if taken.is_empty() {
            0
        } else {
            passed * 200 / taken.len()
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{passed} of {}</td><td><span class=\"bar\" style=\"width:{width}px\"></span></td></tr>",
            escape(scene),
            taken.len()
        );
    }
    html.push_str("</table>\n<h2>Totals</h2>\n<table id=\"totals\"><tr><th>points</th><th>students</th></tr>\n");
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in &results {
        *totals.entry(format!("{:>8.2}", r.score)).or_default() += 1;
    }
    for (points, count) in totals.iter().rev() {
        let _ = writeln!(html, "<tr><td>{}</td><td>{count}</td></tr>", points.trim());
    }
    html.push_str("</table>\n<h2>Checks that fail most</h2>\n<table id=\"failing\"><tr><th>scene</th><th>check</th><th>students</th><th>a message</th></tr>\n");
    let mut failing: BTreeMap<(&str, &str), (usize, &str)> = BTreeMap::new();
    for (_, r) in &results {
        for test in &r.tests {
            for check in &test.extra_data.failing {
                let entry = failing
                    .entry((&test.extra_data.scene, check))
                    .or_insert((0, &test.output));
                entry.0 += 1;
            }
        }
    }
    let mut failing: Vec<_> = failing.into_iter().collect();
    failing.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    for ((scene, check), (count, message)) in failing.iter().take(20) {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{count}</td><td><pre>{}</pre></td></tr>",
            escape(scene),
            escape(check),
            escape(&message.lines().take(8).collect::<Vec<_>>().join("\n"))
        );
    }
    html.push_str("</table>\n");
    let missing: Vec<&Graded> = graded.iter().filter(|g| g.result.is_err()).collect();
    if !missing.is_empty() {
        html.push_str("<h2>Not graded</h2>\n<ul id=\"not-graded\">\n");
        for g in missing {
            let why = g
                .result
                .as_ref()
                .err()
                .map(String::as_str)
                .unwrap_or_default();
            let _ = writeln!(html, "<li>{}: {}</li>", escape(&g.student), escape(why));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
