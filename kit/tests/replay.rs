//! A run's replay, opened in a real browser: headless Chromium loads the page, its player steps
//! through every event forward and back, and says what it saw.

#[path = "support/gossip.rs"]
mod gossip;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use gossip::Gossip;
use kit::net::{Faults, Sim, TraceEvent};

/// A short run with every kind of event: messages, losses, crashes, partitions, states, notes.
fn run() -> Sim<Gossip> {
    let mut sim = Sim::<Gossip>::new(3, Faults::everything(), 3);
    sim.label_nodes(|node| format!("count {}", node.count / 10 * 10));
    sim.note(1, "client: get x");
    sim.run_until(Duration::from_millis(600), |_| Ok::<(), ()>(()))
        .unwrap();
    sim
}

/// Chromium, if this machine has it; CI installs it (`.ci/run`) and says so, so that there the
/// test cannot pass without a browser.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(|name| {
            let status = Command::new(name).arg("--version").output().ok()?;
            status.status.success().then(|| PathBuf::from(name))
        });
    if found.is_none() && std::env::var_os("KIT_BROWSER_REQUIRED").is_some() {
        panic!("KIT_BROWSER_REQUIRED is set, and no chromium was found");
    }
    found
}

#[test]
fn states_are_traced_when_they_change() {
    let sim = run();
    let states: Vec<(usize, &str)> = sim
        .trace()
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::State { node, label, .. } => Some((*node, label.as_str())),
            _ => None,
        })
        .collect();
    for node in 0..3 {
        let labels: Vec<&str> = states
            .iter()
            .filter(|(n, _)| *n == node)
            .map(|(_, l)| *l)
            .collect();
        assert_eq!(labels.first(), Some(&"count 0"), "{labels:?}");
        assert!(labels.len() > 2, "node {node}: {labels:?}");
    }
}

#[test]
fn the_replay_steps_through_every_event_in_a_browser() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium here (CI runs this test with one)");
        return;
    };
    let sim = run();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("run.svg");
    kit::diagram::write(sim.trace(), &svg).unwrap();
    let page = svg.with_extension("html");
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("file://{}#selftest", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let said = dom
        .split("<pre id=\"selftest\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_default();
    let drawn = sim.trace().events.len();
    assert_eq!(
        said,
        format!("selftest ok: {drawn} events"),
        "the browser said: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
