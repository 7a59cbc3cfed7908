//! Terminal manners: colour only where it belongs, questions only where someone can answer.

use std::io::{BufRead, IsTerminal, Write};

use owo_colors::{OwoColorize, Stream};

/// Whether stdout takes colour (a terminal, NO_COLOR unset), as owo-colors decides it.
pub fn colour() -> bool {
    pass("x") != "x"
}

pub fn pass(text: &str) -> String {
    text.if_supports_color(Stream::Stdout, |t| t.green())
        .to_string()
}

pub fn fail(text: &str) -> String {
    text.if_supports_color(Stream::Stdout, |t| t.red())
        .to_string()
}

pub fn dim(text: &str) -> String {
    text.if_supports_color(Stream::Stdout, |t| t.dimmed())
        .to_string()
}

pub fn bold(text: &str) -> String {
    text.if_supports_color(Stream::Stdout, |t| t.bold())
        .to_string()
}

pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Whether to show a build's progress: someone is watching a terminal.
pub fn shows_progress() -> bool {
    interactive() && std::io::stderr().is_terminal()
}

/// Asks on the terminal; None when nobody is there to answer or the answer is empty.
pub fn ask(prompt: &str) -> Option<String> {
    if !interactive() {
        return None;
    }
    print!("{prompt}");
    std::io::stdout().flush().ok()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok()?;
    let answer = answer.trim();
    (!answer.is_empty()).then(|| answer.to_string())
}

/// Indents every line of `text` by `by` spaces.
/// `n` and its noun, the noun in the plural unless `n` is one (`1 hint`, `2 hints`).
pub fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

pub fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(super::count(0, "hint"), "0 hints");
        assert_eq!(super::count(1, "hint"), "1 hint");
        assert_eq!(super::count(2, "scene"), "2 scenes");
    }
}
