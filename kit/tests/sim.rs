//! The simulated disk keeps exactly the promises real disks keep, and no more.

use std::io::ErrorKind;

use kit::sim::{Aftermath, Fault, OpKind, Profile, SimDisk};

/// Finds a seed whose first restart does what `wanted` says, so the tests below read as
/// stories about one kind of crash.
fn disk_whose_crash(wanted: fn(&Aftermath) -> bool, prepare: impl Fn(&SimDisk)) -> SimDisk {
    for seed in 0..1000 {
        let probe = SimDisk::new(seed);
        prepare(&probe);
        if wanted(&probe.fork().restart()) {
            let disk = SimDisk::new(seed);
            prepare(&disk);
            return disk;
        }
    }
    panic!("no seed below 1000 gives that crash");
}

#[test]
fn synced_data_survives_every_crash() {
    for seed in 0..200 {
        let disk = SimDisk::new(seed);
        let dir = disk.dir();
        let file = dir.create("log").unwrap();
        file.append(b"durable").unwrap();
        file.sync().unwrap();
        dir.sync().unwrap();
        file.append(b" maybe").unwrap();
        disk.crash();
        disk.restart();
        let contents = disk.contents("log").unwrap();
        assert!(
            contents.starts_with(b"durable"),
            "seed {seed}: {contents:?}"
        );
    }
}

#[test]
fn unsynced_data_can_vanish() {
    let disk = disk_whose_crash(
        |a| *a == Aftermath::LostEverything,
        |disk| {
            let dir = disk.dir();
            let file = dir.create("log").unwrap();
            dir.sync().unwrap();
            file.append(b"never synced").unwrap();
        },
    );
    disk.restart();
    assert_eq!(disk.contents("log").unwrap(), b"");
}

#[test]
fn a_torn_write_keeps_whole_sectors_only() {
    let data = vec![7u8; 2048];
    let disk = disk_whose_crash(
        |a| matches!(a, Aftermath::KeptSome { torn: 1, .. }),
        |disk| {
            let dir = disk.dir();
            dir.create("log").unwrap().append(&vec![7u8; 2048]).unwrap();
            dir.sync().unwrap();
        },
    );
    disk.restart();
    let contents = disk.contents("log").unwrap();
    assert_eq!(contents.len(), data.len());
    for sector in contents.chunks(512) {
        let intact = sector.iter().all(|&b| b == 7);
        let zeroed = sector.iter().all(|&b| b == 0);
        let mixed = !intact && !zeroed && sector.contains(&7);
        assert!(
            !mixed || sector.iter().filter(|&&b| b == 7).count() < 16,
            "a sector was split"
        );
    }
}

#[test]
fn a_new_name_needs_a_directory_sync() {
    let survives = |seed, sync_dir: bool| {
        let disk = SimDisk::new(seed);
        let dir = disk.dir();
        dir.create("log").unwrap().sync().unwrap();
        if sync_dir {
            dir.sync().unwrap();
        }
        disk.crash();
        disk.restart();
        disk.dir().exists("log").unwrap()
    };
    assert!(
        (0..200).any(|seed| !survives(seed, false)),
        "an unsynced name always survived"
    );
    assert!(
        (0..200).all(|seed| survives(seed, true)),
        "a synced name was lost"
    );
}

#[test]
fn the_worst_crash_keeps_only_what_was_synced() {
    let disk = SimDisk::new(7);
    let dir = disk.dir();
    let kept = dir.create("kept").unwrap();
    kept.append(b"synced").unwrap();
    kept.sync().unwrap();
    dir.sync().unwrap();
    kept.append(b" and not").unwrap();
    dir.create("unnamed").unwrap().sync().unwrap();
    dir.rename("kept", "renamed").unwrap();
    disk.crash();
    disk.restart_losing_unsynced();
    let dir = disk.dir();
    assert_eq!(dir.list().unwrap(), vec!["kept".to_string()]);
    assert_eq!(disk.contents("kept").unwrap(), b"synced");
}

#[test]
fn some_crash_forgets_an_unsynced_rename() {
    let lost = (0..200).any(|seed| {
        let disk = SimDisk::new(seed);
        let dir = disk.dir();
        dir.create("tmp").unwrap().sync().unwrap();
        dir.sync().unwrap();
        dir.rename("tmp", "data").unwrap();
        disk.restart();
        disk.dir().list().unwrap() == ["tmp"]
    });
    assert!(lost, "an unsynced rename always survived");
}

#[test]
fn handles_from_before_a_crash_are_dead() {
    let disk = SimDisk::new(1);
    let dir = disk.dir();
    let file = dir.create("log").unwrap();
    disk.crash();
    assert!(file.append(b"from the grave").is_err());
    disk.restart();
    assert!(file.append(b"from the grave").is_err());
    assert!(dir.list().is_err());
    assert!(disk.dir().list().is_ok());
}

#[test]
fn the_crash_step_fails_that_operation_and_all_after() {
    let disk = SimDisk::new(1);
    let dir = disk.dir();
    let file = dir.create("log").unwrap();
    disk.crash_at_step(disk.steps() + 2);
    assert!(file.append(b"one").is_ok());
    assert!(file.append(b"two").is_err());
    assert!(file.len().is_err());
    assert!(disk.is_crashed());
}

#[test]
fn a_failed_sync_drops_the_unsynced_data() {
    let disk = SimDisk::new(1);
    let dir = disk.dir();
    let file = dir.create("log").unwrap();
    file.append(b"kept").unwrap();
    file.sync().unwrap();
    file.append(b" dropped").unwrap();
    disk.fail_next(OpKind::Sync, Fault::SyncLosesData);
    assert!(file.sync().is_err());
    assert_eq!(file.len().unwrap(), 4);
    file.sync().unwrap();
    assert_eq!(disk.contents("log").unwrap(), b"kept");
}

#[test]
fn a_full_disk_refuses_writes() {
    let disk = SimDisk::new(1);
    let file = disk.dir().create("log").unwrap();
    disk.fail_next(OpKind::Write, Fault::DiskFull);
    assert_eq!(
        file.append(b"x").unwrap_err().kind(),
        ErrorKind::StorageFull
    );
    assert_eq!(file.len().unwrap(), 0);
    assert!(file.append(b"x").is_ok());
}

#[test]
fn work_is_counted() {
    let disk = SimDisk::new(1);
    let dir = disk.dir();
    let file = dir.create("log").unwrap();
    file.append(b"hello").unwrap();
    file.sync().unwrap();
    dir.sync().unwrap();
    let mut buf = [0u8; 5];
    file.read_exact_at(0, &mut buf).unwrap();
    let stats = disk.stats();
    assert_eq!((stats.writes, stats.bytes_written), (1, 5));
    assert_eq!((stats.reads, stats.bytes_read), (1, 5));
    assert_eq!((stats.syncs, stats.dir_syncs), (1, 1));
}

#[test]
fn the_same_seed_crashes_the_same_way() {
    let run = |seed| {
        let disk = SimDisk::new(seed);
        let dir = disk.dir();
        let file = dir.create("log").unwrap();
        for i in 0..20u8 {
            file.append(&[i; 300]).unwrap();
        }
        disk.restart();
        disk.contents("log")
    };
    assert_eq!(run(42), run(42));
}

#[test]
fn a_reseeded_fork_crashes_its_own_way() {
    let disk = SimDisk::new(1);
    let dir = disk.dir();
    let file = dir.create("log").unwrap();
    dir.sync().unwrap();
    for i in 0..20u8 {
        file.append(&[i; 300]).unwrap();
    }
    let outcomes: std::collections::BTreeSet<Vec<u8>> = (0..16)
        .map(|seed| {
            let fork = disk.fork_reseeded(seed);
            fork.restart();
            fork.contents("log").unwrap()
        })
        .collect();
    assert!(outcomes.len() > 1, "every fork crashed the same way");
}

#[test]
fn under_the_harsh_profile_a_failed_append_can_leave_a_prefix() {
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let disk = SimDisk::with_profile(seed, Profile::HARSH);
        let file = disk.dir().create("log").unwrap();
        file.append(b"kept").unwrap();
        disk.fail_next(OpKind::Write, Fault::DiskFull);
        let error = file.append(b"0123456789").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::StorageFull);
        let contents = disk.contents("log").unwrap();
        assert!(contents.starts_with(b"kept"), "seed {seed}: {contents:?}");
        assert!(
            b"0123456789".starts_with(&contents[4..]),
            "seed {seed}: {contents:?}"
        );
        lengths.insert(contents.len());
    }
    assert!(
        lengths.contains(&4),
        "some failed append left nothing: {lengths:?}"
    );
    assert!(
        lengths.len() > 2,
        "failed appends left prefixes of several lengths: {lengths:?}"
    );
}

#[test]
fn under_the_gentle_profile_a_failed_append_leaves_nothing() {
    for seed in 0..64 {
        let disk = SimDisk::new(seed);
        let file = disk.dir().create("log").unwrap();
        disk.fail_next(OpKind::Write, Fault::IoError);
        file.append(b"0123456789").unwrap_err();
        assert_eq!(disk.contents("log").unwrap(), b"", "seed {seed}");
    }
}

#[test]
fn under_the_harsh_profile_a_later_name_operation_can_survive_an_earlier_one() {
    // Create a, then b, with no directory sync: a gentle disk keeps a prefix (never b without
    // a); a harsh one keeps any subset.
    let survivors = |profile| {
        (0..200)
            .map(|seed| {
                let disk = SimDisk::with_profile(seed, profile);
                let dir = disk.dir();
                dir.create("a").unwrap();
                dir.create("b").unwrap();
                disk.crash();
                disk.restart();
                disk.files().into_iter().map(|f| f.name).collect::<Vec<_>>()
            })
            .collect::<std::collections::BTreeSet<_>>()
    };
    let gentle = survivors(Profile::GENTLE);
    assert!(!gentle.contains(&vec!["b".to_string()]), "{gentle:?}");
    let harsh = survivors(Profile::HARSH);
    assert!(harsh.contains(&vec!["b".to_string()]), "{harsh:?}");
}
