//! Space-time diagrams of simulated runs: a vertical line per node, time flowing down (scaled to
//! what happened: quiet stretches drawn short, busy moments a line apart), an arrow
//! per message (grey and dashed when it never arrived), crashes in red, partitions as bands,
//! each node's state (its term and role) where it changes, and the end of the run, where the
//! check stopped, in red. Written as SVG, which any browser opens, and beside it as an HTML page
//! that replays the run event by event (`replay.js` is its player).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::net::{Trace, TraceEvent};

const COLUMN: f64 = 180.0;
const TOP: f64 = 50.0;
/// Long runs are drawn from the end: the failure is there.
const MOST_MESSAGES: usize = 1500;

/// Writes the diagram of `trace` to `path` (an `.svg`), and its replay beside it (the same
/// name, `.html`).
pub fn write(trace: &Trace, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, svg(trace))?;
    std::fs::write(path.with_extension("html"), html(trace))
}

/// The replay of `trace`: the diagram, and a player that steps through the run event by event
/// (play, pause, step with the buttons or the arrow keys; hover an arrow for the message),
/// showing every node's state as of the current event.
pub fn html(trace: &Trace) -> String {
    let events = drawn(trace);
    let mut list = String::from("[");
    for (i, event) in events.iter().enumerate() {
        let (node, label) = match event {
            TraceEvent::State { node, label, .. } => (*node as i64, label.as_str()),
            TraceEvent::Crashed { node, .. } => (*node as i64, "down"),
            _ => (-1, ""),
        };
        let _ = write!(
            list,
            "{}{{\"ms\":{:.3},\"text\":{},\"node\":{node},\"label\":{}}}",
            if i == 0 { "" } else { "," },
            at(event).as_secs_f64() * 1000.0,
            json_string(&describe(trace, event)),
            json_string(label)
        );
    }
    list.push(']');
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>a simulated run, event by event</title>\n\
         <style>{STYLE}</style></head><body>\n\
         <div id=\"controls\"><button id=\"back\">&#9664; step</button> <button id=\"play\">play</button> \
         <button id=\"next\">step &#9654;</button> <span id=\"position\"></span></div>\n\
         <div id=\"event\"></div>\n<div id=\"lanes\"></div>\n<div id=\"diagram\">{}</div>\n\
         <pre id=\"selftest\"></pre>\n<script>const NODES = {}; const EVENTS = {list};\n{PLAYER}</script>\n</body></html>\n",
        svg(trace),
        trace.nodes
    )
}

const STYLE: &str = "body{font-family:monospace;margin:12px} #controls{position:sticky;top:0;\
background:#fff;padding:6px 0} #event{min-height:2.6em;white-space:pre-wrap} #lanes span{display:\
inline-block;min-width:170px;padding-right:10px} .future{opacity:0.08} .current{stroke:#c00;fill:#c00;stroke-width:3}";

const PLAYER: &str = include_str!("replay.js");

/// The events drawn: all of a short run; of a long one, the end, where the failure is.
fn drawn(trace: &Trace) -> &[TraceEvent] {
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
    &trace.events[first..]
}

/// One event, in words.
fn describe(trace: &Trace, event: &TraceEvent) -> String {
    let message = |id: &u64| {
        trace.events.iter().find_map(|e| match e {
            TraceEvent::Sent {
                id: sent,
                from,
                to,
                what,
                ..
            } if sent == id => Some((*from, *to, what.clone())),
            _ => None,
        })
    };
    match event {
        TraceEvent::Sent { from, to, what, .. } => format!("node {from} sent node {to}: {what}"),
        TraceEvent::Delivered { id, .. } => match message(id) {
            Some((from, to, what)) => format!("node {to} got from node {from}: {what}"),
            None => "a message arrived".into(),
        },
        TraceEvent::Dropped { id, why, .. } => match message(id) {
            Some((from, to, what)) => format!("lost ({why}): node {from} to node {to}: {what}"),
            None => format!("a message was lost ({why})"),
        },
        TraceEvent::Crashed { node, .. } => format!("node {node} crashed"),
        TraceEvent::Restarted { node, .. } => format!("node {node} restarted"),
        TraceEvent::Partitioned { blocked, .. } => {
            let links: Vec<String> = blocked.iter().map(|(a, b)| format!("{a}→{b}")).collect();
            format!("the network split: {}", links.join(" "))
        }
        TraceEvent::Healed { .. } => "the network healed".into(),
        TraceEvent::Note { node, text, .. } => format!("at node {node}: {text}"),
        TraceEvent::State { node, label, .. } => format!("node {node} is now {label}"),
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The diagram of `trace`, as an SVG document.
pub fn svg(trace: &Trace) -> String {
    let events = drawn(trace);
    let start = events.first().map_or(Duration::ZERO, at);
    let end = events.last().map_or(Duration::ZERO, at);
    let axis = TimeAxis::new(events);
    let y = |t: Duration| axis.y(t);
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
    for (i, event) in events.iter().enumerate() {
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
                        "<line data-event=\"{i}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\" marker-end=\"url(#arrow)\"><title>{}</title></line>",
                        x(from),
                        y(sent),
                        x(to),
                        y(*at),
                        escape(&what)
                    );
                    let _ = writeln!(
                        out,
                        "<text data-event=\"{i}\" x=\"{}\" y=\"{}\" fill=\"#444\">{}</text>",
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
                        "<g data-event=\"{i}\"><line x1=\"{}\" y1=\"{}\" x2=\"{mx}\" y2=\"{my}\" stroke=\"#999\" stroke-dasharray=\"3,3\"><title>{}: {}</title></line>\n<text x=\"{mx}\" y=\"{my}\" fill=\"#c00\">×</text></g>",
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
                    "<text data-event=\"{i}\" x=\"{}\" y=\"{}\" fill=\"#c00\" font-size=\"14\">✗ crash</text>",
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
                    "<text data-event=\"{i}\" x=\"{}\" y=\"{}\" fill=\"#070\">↻ restart</text>",
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
            TraceEvent::State { node, at, label } => {
                let _ = writeln!(
                    out,
                    "<text data-event=\"{i}\" x=\"{}\" y=\"{}\" fill=\"#777\" font-size=\"9\">{}</text>",
                    x(*node) - COLUMN / 2.0 + 4.0,
                    y(*at) + 10.0,
                    escape(&short(label))
                );
            }
            TraceEvent::Note { node, at, text } => {
                let _ = writeln!(
                    out,
                    "<g data-event=\"{i}\"><circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"#06c\"/><text x=\"{}\" y=\"{}\" fill=\"#06c\">{}</text></g>",
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
    for (from, to, skipped) in axis.quiet_gaps() {
        let _ = writeln!(
            out,
            "<text x=\"4\" y=\"{}\" fill=\"#999\" font-size=\"9\">⋮ {:.0} ms</text>",
            (from + to) / 2.0 + 3.0,
            skipped.as_secs_f64() * 1000.0
        );
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
        "<line x1=\"0\" y1=\"{0}\" x2=\"{width}\" y2=\"{0}\" stroke=\"#c00\" stroke-dasharray=\"6,3\"/>\n\
         <text x=\"4\" y=\"{1}\" fill=\"#c00\">the run ends here: where the check stopped it</text>",
        y(end) + 6.0,
        y(end) + 18.0
    );
    let _ = writeln!(
        out,
        "<text x=\"4\" y=\"36\" fill=\"#666\">time flows down, drawn to what happened: {:.0} ms to {:.0} ms</text>\n</svg>",
        start.as_secs_f64() * 1000.0,
        end.as_secs_f64() * 1000.0
    );
    out
}

/// Where a moment of the run is drawn. Time flows down, scaled to what happened rather than
/// to the clock: a millisecond is a few pixels, but two moments with events are at least a line
/// of text apart (so labels do not overlap), and a quiet stretch is drawn no taller than a few
/// lines (and labelled with its length), so a run of seconds with a burst in it stays readable.
struct TimeAxis {
    /// Every moment with an event, in order, and where it is drawn.
    marks: Vec<(Duration, f64)>,
}

impl TimeAxis {
    const PIXELS_PER_MS: f64 = 3.0;
    const LINE: f64 = 12.0;
    const QUIET: f64 = 5.0 * Self::LINE;

    fn new(events: &[TraceEvent]) -> TimeAxis {
        let mut times: Vec<Duration> = events.iter().map(at).collect();
        times.sort();
        times.dedup();
        let mut marks: Vec<(Duration, f64)> = Vec::with_capacity(times.len());
        for time in times {
            let y = match marks.last() {
                None => TOP,
                Some(&(before, y)) => {
                    let ms = (time - before).as_secs_f64() * 1000.0;
                    y + (ms * Self::PIXELS_PER_MS).clamp(Self::LINE, Self::QUIET)
                }
            };
            marks.push((time, y));
        }
        TimeAxis { marks }
    }

    /// Where `time` is drawn: at its mark, or between the marks around it.
    fn y(&self, time: Duration) -> f64 {
        let after = self.marks.partition_point(|(t, _)| *t < time);
        match (
            after.checked_sub(1).map(|i| self.marks[i]),
            self.marks.get(after),
        ) {
            (_, Some(&(t, y))) if t == time => y,
            (Some((t0, y0)), Some(&(t1, y1))) => {
                let part = (time - t0).as_secs_f64() / (t1 - t0).as_secs_f64();
                y0 + part * (y1 - y0)
            }
            (Some((_, y)), None) => y,
            (None, _) => TOP,
        }
    }

    /// The stretches drawn shorter than the clock says: where each is drawn, and how long it was.
    fn quiet_gaps(&self) -> impl Iterator<Item = (f64, f64, Duration)> + '_ {
        self.marks.windows(2).filter_map(|pair| {
            let ((t0, y0), (t1, y1)) = (pair[0], pair[1]);
            let full = (t1 - t0).as_secs_f64() * 1000.0 * Self::PIXELS_PER_MS;
            (full > Self::QUIET).then_some((y0, y1, t1 - t0))
        })
    }
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
        | TraceEvent::Note { at, .. }
        | TraceEvent::State { at, .. } => *at,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn note(ms: u64) -> TraceEvent {
        TraceEvent::Note {
            node: 0,
            at: Duration::from_millis(ms),
            text: String::new(),
        }
    }

    #[test]
    fn moments_are_a_line_apart_and_quiet_stretches_are_short() {
        let events = [note(0), note(0), note(1), note(2), note(2_000), note(2_010)];
        let axis = TimeAxis::new(&events);
        let ys: Vec<f64> = [0, 1, 2, 2_000, 2_010]
            .map(|ms| axis.y(Duration::from_millis(ms)))
            .to_vec();
        for pair in ys.windows(2) {
            assert!(pair[1] - pair[0] >= TimeAxis::LINE, "{ys:?}");
        }
        // Two seconds of nothing are drawn a few lines tall, and labelled.
        assert_eq!(ys[3] - ys[2], TimeAxis::QUIET, "{ys:?}");
        let gaps: Vec<_> = axis.quiet_gaps().collect();
        assert_eq!(gaps, [(ys[2], ys[3], Duration::from_millis(1_998))]);
        // Ten milliseconds keep their clock scale, and a moment between marks falls between.
        assert_eq!(ys[4] - ys[3], 30.0, "{ys:?}");
        let between = axis.y(Duration::from_millis(2_005));
        assert!(ys[3] < between && between < ys[4]);
    }
}
