//! The raft playground: three nodes on this machine, each on a thread with a real clock, running
//! the same node code the simulator checks. Kill one, cut one off, and watch the others carry on.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use kit::runtime::Cluster;
use raft_kv::{Command, Node, Op, Role};

const NODES: usize = 3;
const HELP: &str = "\
status           each node's role, term, log and commit index
put KEY VALUE    write through the leader      append KEY VALUE   append to a value
get KEY          read through the log
kill N           crash node N (it keeps only what it saved)
restart N        bring node N back
isolate N        cut node N off from the others       heal   reconnect everyone
quit";

pub fn main() {
    let cluster = Cluster::<Node>::start(NODES, 1);
    println!(
        "A {NODES}-node raft cluster. Give it a moment to elect a leader; `help` for commands."
    );
    let mut seq = 0;
    let stdin = std::io::stdin();
    loop {
        print!("raft> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["help"] => println!("{HELP}"),
            ["quit" | "exit"] => break,
            ["status"] => status(&cluster),
            ["kill", n] => with_node(n, |n| {
                cluster.kill(n);
                println!(
                    "node {n} is down: it keeps only what it saved; the others elect a leader \
                     if it led (`status` in a moment)"
                );
            }),
            ["restart", n] => with_node(n, |n| {
                cluster.restart(n);
                println!(
                    "node {n} is back, from what it saved, as a follower: it catches up from \
                     the leader"
                );
            }),
            ["isolate", n] => with_node(n, |n| {
                cluster.isolate(n);
                println!(
                    "node {n} is cut off: it hears nobody and nobody hears it; `heal` \
                     reconnects it"
                );
            }),
            ["heal"] => {
                cluster.heal();
                println!("every node hears every other again");
            }
            ["kill" | "restart" | "isolate", ..] => println!("usage: {} N", words[0]),

            ["put", key, value @ ..] if !value.is_empty() => {
                seq += 1;
                let op = Op::Put {
                    key: key.to_string(),
                    value: value.join(" "),
                };
                request(&cluster, seq, op);
            }
            ["append", key, value @ ..] if !value.is_empty() => {
                seq += 1;
                let op = Op::Append {
                    key: key.to_string(),
                    value: value.join(" "),
                };
                request(&cluster, seq, op);
            }
            ["get", key] => {
                seq += 1;
                request(
                    &cluster,
                    seq,
                    Op::Get {
                        key: key.to_string(),
                    },
                );
            }
            ["put" | "append", ..] => println!("usage: {} KEY VALUE", words[0]),
            ["get", ..] => println!("usage: get KEY"),
            _ => println!("unknown command; `help` lists them"),
        }
    }
}

fn with_node(word: &str, f: impl FnOnce(usize)) {
    match word.parse::<usize>() {
        Ok(n) if n < NODES => f(n),
        _ => println!("nodes are numbered 0 to {}", NODES - 1),
    }
}

fn status(cluster: &Cluster<Node>) {
    for id in 0..NODES {
        let line = cluster.call(id, move |node, _| {
            node.map(|node| {
                format!(
                    "node {id}: {:<9} term {:<3} log {:<3} committed {:<3} leader {}",
                    format!("{:?}", node.role()),
                    node.term(),
                    node.last_log_index(),
                    node.commit_index(),
                    node.leader_hint()
                        .map_or("?".to_string(), |l| l.to_string())
                )
            })
        });
        println!("{}", line.unwrap_or_else(|| format!("node {id}: down")));
    }
}

/// Sends a request to whichever node leads, waits for it to be applied, and retries elsewhere
/// (with the same sequence number, so it applies once) if that takes too long.
fn request(cluster: &Cluster<Node>, seq: u64, op: Op) {
    let reads = matches!(op, Op::Get { .. });
    let command = Command {
        client_id: 1,
        seq,
        op,
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        for id in 0..NODES {
            let command = command.clone();
            let proposed = cluster.call(id, move |node, ctx| {
                let node = node?;
                (node.role() == Role::Leader).then(|| node.propose(command, ctx).is_ok())
            });
            if proposed != Some(true) {
                continue;
            }
            let waited = Instant::now();
            while waited.elapsed() < Duration::from_millis(1000) {
                let outcome = cluster.call(id, move |node, _| node.and_then(|n| n.result(1, seq)));
                if let Some(result) = outcome {
                    match (result, reads) {
                        (Some(value), _) => println!("{value:?} (from node {id})"),
                        (None, true) => println!("(none) (from node {id})"),
                        (None, false) => println!("ok (through node {id})"),
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("no leader answered within 5 s: is a majority up and connected?");
}
