//! `cargo grade watch`: grade the current scene again on every save.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use notify::{PollWatcher, RecursiveMode};
use notify_debouncer_mini::{Config, DebounceEventResult, new_debouncer, new_debouncer_opt};

use super::grade::Options;
use crate::manifest::Workbook;
use crate::progress::Store;
use crate::ui;

/// Editors write a file in bursts (temp file, rename, metadata); one grade per burst.
const DEBOUNCE: Duration = Duration::from_millis(200);
const POLL_EVERY: Duration = Duration::from_secs(1);

pub fn run(workbook: &Workbook, force_poll: bool) -> Result<ExitCode> {
    let store = Store::new(&workbook.root);
    let poll = force_poll || events_unreliable(&workbook.root);
    if poll && !force_poll {
        println!(
            "{}",
            ui::dim(
                "File events may not arrive on this file system; checking for changes every second."
            )
        );
    }
    let options = Options {
        watching: true,
        ..Options::default()
    };
    // After a pass, what was said (the prediction's explanation above all) stays on screen
    // until the learner's next save.
    let mut keep_screen = false;
    loop {
        let Some(scene) = super::grade::current_scene(workbook, &store.load()?) else {
            println!("{} Every scene passes.", ui::pass("✓"));
            return Ok(ExitCode::SUCCESS);
        };
        let graded = contents(&scene.exercise_dir());
        if keep_screen {
            println!("\n{}", ui::dim("────────"));
        } else {
            clear_screen();
        }
        println!("{} {}", ui::bold(&scene.id()), scene.entry.title);
        let passed = super::grade::grade_and_report(workbook, &scene, &options)?;
        keep_screen = passed;
        if passed {
            // The next scene is current now; grade it straight away.
            continue;
        }
        println!("\n{}", ui::dim("watching for changes (ctrl-c to stop)"));
        wait_for_change(&scene.exercise_dir(), poll, &graded)?;
    }
}

/// The crate's files (outside `target/`) and what they hold: small, so read whole.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    crate::files::list_files(dir, &["target"])
        .unwrap_or_default()
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(dir.join(&file)).unwrap_or_default();
            (file, bytes)
        })
        .collect()
}

/// Blocks until the crate's files differ from `graded`. Comparing contents, not trusting
/// events alone, ignores reads (the build's own) and saves that change nothing, and catches a
/// save made while the last grading ran.
fn wait_for_change(dir: &Path, poll: bool, graded: &BTreeMap<PathBuf, Vec<u8>>) -> Result<()> {
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    // The watcher lives until this function returns.
    let _watcher: Box<dyn std::any::Any> = if poll {
        let config = Config::default()
            .with_timeout(DEBOUNCE)
            .with_notify_config(notify::Config::default().with_poll_interval(POLL_EVERY));
        let mut debouncer = new_debouncer_opt::<_, PollWatcher>(config, tx)?;
        debouncer.watcher().watch(dir, RecursiveMode::Recursive)?;
        Box::new(debouncer)
    } else {
        let mut debouncer = new_debouncer(DEBOUNCE, tx)?;
        debouncer.watcher().watch(dir, RecursiveMode::Recursive)?;
        Box::new(debouncer)
    };
    while contents(dir) == *graded {
        // Any event, or a watcher error (events dropped), is a reason to look again.
        let _ = rx.recv().context("the file watcher stopped")?;
    }
    Ok(())
}

fn clear_screen() {
    if ui::interactive() {
        print!("\x1b[2J\x1b[H");
    }
}

/// Network and virtual-machine file systems (NFS, SMB, WSL's 9p) often deliver no events.
#[cfg(target_os = "linux")]
fn events_unreliable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const REMOTE: [i64; 6] = [
        0x6969,      // NFS
        0x517B,      // SMB
        0xFF53_4D42, // CIFS
        0xFE53_4D42, // SMB2
        0x0102_1997, // 9p (WSL 2's Windows drives)
        0x6573_5546, // FUSE (sshfs and friends)
    ];
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a statfs buffer of the right type.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut stat) } != 0 {
        return false;
    }
    REMOTE.contains(&(stat.f_type as i64))
}

#[cfg(not(target_os = "linux"))]
fn events_unreliable(_: &Path) -> bool {
    false
}
