//! Space-time diagrams of simulated runs: a vertical line per node, time flowing down, an arrow
//! per message (grey and dashed when it never arrived), crashes in red, partitions as bands.
//! Written as SVG, which any browser opens.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::net::{Trace, TraceEvent};

const COLUMN: f64 = 180.0;
const TOP: f64 = 50.0;
/// Long runs are drawn from the end: the failure is there.
const MOST_MESSAGES: usize = 1500;

/// Writes the diagram of `trace` to `path`.
pub fn write(trace: &Trace, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, svg(trace))
}

/// The diagram of `trace`, as an SVG document.
pub fn svg(trace: &Trace) -> String {
    let sends: Vec<usize> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, TraceEvent::Sent { .. }))
        .map(|(i, _)| i)
        .collect();
    let first = sends
        .len()
        .checked_sub(MOST_MESSAGES)
        .map_or(0, |skip| sends[skip]);
    let events = &trace.events[first..];
    let start = events.first().map_or(Duration::ZERO, at);
    let end = events.last().map_or(Duration::ZERO, at);
    let span_ms = (end - start).as_secs_f64() * 1000.0;
    let scale = (3.0f64).min(6000.0 / span_ms.max(1.0));
    let y = |t: Duration| TOP + (t.saturating_sub(start)).as_secs_f64() * 1000.0 * scale;
    let x = |node: usize| COLUMN / 2.0 + node as f64 * COLUMN;
    let width = COLUMN * trace.nodes as f64;
    let height = y(end) + 40.0;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"monospace\" font-size=\"10\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    );
    let mut partition_start: Option<(Duration, String)> = None;
    let mut down_since: HashMap<usize, Duration> = HashMap::new();
    let mut in_flight: HashMap<u64, (usize, usize, Duration, String)> = HashMap::new();
    for event in events {
        match event {
            TraceEvent::Sent {
                id,
                from,
                to,
                at,
                what,
            } => {
                in_flight.insert(*id, (*from, *to, *at, what.clone()));
            }
            TraceEvent::Delivered { id, at } => {
                if let Some((from, to, sent, what)) = in_flight.get(id).cloned() {
                    let _ = writeln!(
                        out,
                        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\" marker-end=\"url(#arrow)\"><title>{}</title></line>",
                        x(from),
                        y(sent),
                        x(to),
                        y(*at),
                        escape(&what)
                    );
                    let _ = writeln!(
                        out,
                        "<text x=\"{}\" y=\"{}\" fill=\"#444\">{}</text>",
                        (x(from) + x(to)) / 2.0,
                        (y(sent) + y(*at)) / 2.0 - 2.0,
                        escape(&short(&what))
                    );
                }
            }
            TraceEvent::Dropped { id, at, why } => {
                if let Some((from, to, sent, what)) = in_flight.remove(id) {
                    let (mx, my) = ((x(from) + x(to)) / 2.0, (y(sent) + y(*at)) / 2.0);
                    let _ = writeln!(
                        out,
                        "<line x1=\"{}\" y1=\"{}\" x2=\"{mx}\" y2=\"{my}\" stroke=\"#999\" stroke-dasharray=\"3,3\"><title>{}: {}</title></line>\n<text x=\"{mx}\" y=\"{my}\" fill=\"#c00\">×</text>",
                        x(from),
                        y(sent),
                        escape(why),
                        escape(&what)
                    );
                }
            }
            TraceEvent::Crashed { node, at } => {
                down_since.insert(*node, *at);
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" fill=\"#c00\" font-size=\"14\">✗ crash</text>",
                    x(*node) - 4.0,
                    y(*at)
                );
            }
            TraceEvent::Restarted { node, at } => {
                if let Some(since) = down_since.remove(node) {
                    down_line(&mut out, x(*node), y(since), y(*at));
                }
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" fill=\"#070\">↻ restart</text>",
                    x(*node) + 4.0,
                    y(*at)
                );
            }
            TraceEvent::Partitioned { at, blocked } => {
                let links: Vec<String> = blocked.iter().map(|(a, b)| format!("{a}→{b}")).collect();
                partition_start = Some((*at, links.join(" ")));
            }
            TraceEvent::Healed { at } => {
                if let Some((since, links)) = partition_start.take() {
                    band(&mut out, width, y(since), y(*at), &links);
                }
            }
            TraceEvent::Note { node, at, text } => {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"#06c\"/><text x=\"{}\" y=\"{}\" fill=\"#06c\">{}</text>",
                    x(*node),
                    y(*at),
                    x(*node) + 6.0,
                    y(*at) + 3.0,
                    escape(text)
                );
            }
        }
    }
    if let Some((since, links)) = partition_start {
        band(&mut out, width, y(since), y(end), &links);
    }
    for (node, since) in down_since {
        down_line(&mut out, x(node), y(since), y(end));
    }
    for node in 0..trace.nodes {
        let _ = writeln!(
            out,
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#bbb\"/>\n<text x=\"{0}\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">node {node}</text>",
            x(node),
            TOP - 10.0,
            height - 20.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"4\" y=\"36\" fill=\"#666\">time flows down: {:.0} ms to {:.0} ms</text>\n</svg>",
        start.as_secs_f64() * 1000.0,
        end.as_secs_f64() * 1000.0
    );
    out
}

fn at(event: &TraceEvent) -> Duration {
    match event {
        TraceEvent::Sent { at, .. }
        | TraceEvent::Delivered { at, .. }
        | TraceEvent::Dropped { at, .. }
        | TraceEvent::Crashed { at, .. }
        | TraceEvent::Restarted { at, .. }
        | TraceEvent::Partitioned { at, .. }
        | TraceEvent::Healed { at }
        | TraceEvent::Note { at, .. } => *at,
    }
}

fn down_line(out: &mut String, x: f64, from: f64, to: f64) {
    let _ = writeln!(
        out,
        "<line x1=\"{x}\" y1=\"{from}\" x2=\"{x}\" y2=\"{to}\" stroke=\"#c00\" stroke-width=\"3\" stroke-opacity=\"0.3\"/>"
    );
}

fn band(out: &mut String, width: f64, from: f64, to: f64, links: &str) {
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"{from}\" width=\"{width}\" height=\"{}\" fill=\"#f90\" fill-opacity=\"0.08\"><title>partition: {}</title></rect>\n<text x=\"4\" y=\"{}\" fill=\"#b60\">partition: {}</text>",
        (to - from).max(1.0),
        escape(links),
        from + 10.0,
        escape(&short(links))
    );
}

/// The first word or so of a message, to label its arrow.
fn short(text: &str) -> String {
    let cut: String = text.chars().take(28).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
