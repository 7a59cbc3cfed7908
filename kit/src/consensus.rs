//! Safety checks for replicated logs (Raft and its kin), run after every step of a simulation.
//!
//! The checks see each node as a [`NodeView`], plain data a checks file builds from the node
//! under test, and hold the cluster to the properties of Raft's Figure 3:
//! - election safety: at most one leader per term;
//! - log matching: two logs with an entry of the same index and term agree on everything up to it;
//! - leader completeness: an entry once committed is in the log of every later leader;
//! - state machine safety: no two nodes apply different commands at the same index.

use std::collections::BTreeMap;

/// What a check needs to know of one node at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub term: u64,
    pub leader: bool,
    /// The first log index this view's `log_terms` and `log_commands` start at (1 without a
    /// snapshot; one past the snapshot's last index with one).
    pub first_index: u64,
    /// The term of each log entry from `first_index` on.
    pub log_terms: Vec<u64>,
    /// Each entry's command, shown as text (compared, never parsed).
    pub log_commands: Vec<String>,
    pub commit_index: u64,
    /// What the node has applied, by index (may start after a snapshot, like the log).
    pub applied: BTreeMap<u64, String>,
}

impl NodeView {
    fn entry(&self, index: u64) -> Option<(u64, &str)> {
        let offset = index.checked_sub(self.first_index)? as usize;
        Some((
            *self.log_terms.get(offset)?,
            self.log_commands.get(offset)?.as_str(),
        ))
    }
}

/// Remembers what the cluster has done so far, and checks each new moment against it.
#[derive(Debug, Default)]
pub struct SafetyChecker {
    leaders: BTreeMap<u64, usize>,
    /// Committed entries: index -> (term, command), as first seen committed.
    committed: BTreeMap<u64, (u64, String)>,
    /// For each committed index, the term of the node that was first seen committing it: every
    /// leader of that term or later must hold the entry (a deposed leader of an older term
    /// need not).
    committed_in: BTreeMap<u64, u64>,
    /// Applied commands: index -> command, as first seen applied.
    applied: BTreeMap<u64, (usize, String)>,
}

impl SafetyChecker {
    pub fn new() -> SafetyChecker {
        SafetyChecker::default()
    }

    /// Checks the cluster as it is now (None for a node that is down).
    pub fn observe(&mut self, nodes: &[Option<NodeView>]) -> Result<(), String> {
        let up: Vec<(usize, &NodeView)> = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i, n.as_ref()?)))
            .collect();
        for &(id, node) in &up {
            if node.leader {
                match self.leaders.insert(node.term, id) {
                    Some(other) if other != id => {
                        return Err(format!(
                            "election safety: nodes {other} and {id} were both leader in term {}",
                            node.term
                        ));
                    }
                    _ => {}
                }
                for (index, (term, command)) in &self.committed {
                    let binding = self.committed_in[index] <= node.term;
                    if binding
                        && *index >= node.first_index
                        && node.entry(*index) != Some((*term, command))
                    {
                        return Err(format!(
                            "leader completeness: entry {index} (term {term}, {command}) was \
                             committed, but node {id}, leader of term {}, has {:?} there",
                            node.term,
                            node.entry(*index)
                        ));
                    }
                }
            }
        }
        for (a, &(id_a, node_a)) in up.iter().enumerate() {
            for &(id_b, node_b) in &up[a + 1..] {
                log_matching(id_a, node_a, id_b, node_b)?;
            }
        }
        for &(id, node) in &up {
            for index in node.first_index..=node.commit_index {
                if let Some((term, command)) = node.entry(index) {
                    self.committed_in.entry(index).or_insert(node.term);
                    let first = self
                        .committed
                        .entry(index)
                        .or_insert((term, command.to_string()));
                    if *first != (term, command.to_string()) {
                        return Err(format!(
                            "a committed entry changed: index {index} was committed as (term {}, {}), \
                             node {id} now commits (term {term}, {command}) there",
                            first.0, first.1
                        ));
                    }
                }
            }
            for (index, command) in &node.applied {
                let first = self.applied.entry(*index).or_insert((id, command.clone()));
                if first.1 != *command {
                    return Err(format!(
                        "state machine safety: at index {index} node {} applied {} but node {id} applied {command}",
                        first.0, first.1
                    ));
                }
            }
        }
        Ok(())
    }
}

fn log_matching(id_a: usize, a: &NodeView, id_b: usize, b: &NodeView) -> Result<(), String> {
    let start = a.first_index.max(b.first_index);
    let end =
        (a.first_index + a.log_terms.len() as u64).min(b.first_index + b.log_terms.len() as u64);
    // The highest index where both have an entry of the same term: everything before must agree.
    let Some(matching) = (start..end)
        .rev()
        .find(|&i| a.entry(i).map(|e| e.0) == b.entry(i).map(|e| e.0))
    else {
        return Ok(());
    };
    for index in start..=matching {
        if a.entry(index) != b.entry(index) {
            return Err(format!(
                "log matching: nodes {id_a} and {id_b} agree on the term at index {matching} but differ at index {index}: {:?} vs {:?}",
                a.entry(index),
                b.entry(index)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(term: u64, leader: bool, log: &[(u64, &str)], commit: u64) -> Option<NodeView> {
        Some(NodeView {
            term,
            leader,
            first_index: 1,
            log_terms: log.iter().map(|e| e.0).collect(),
            log_commands: log.iter().map(|e| e.1.to_string()).collect(),
            commit_index: commit,
            applied: log
                .iter()
                .take(commit as usize)
                .enumerate()
                .map(|(i, e)| (i as u64 + 1, e.1.to_string()))
                .collect(),
        })
    }

    #[test]
    fn a_healthy_cluster_passes() {
        let mut checker = SafetyChecker::new();
        let log = [(1, "a"), (1, "b")];
        assert!(
            checker
                .observe(&[view(1, true, &log, 2), view(1, false, &log, 1), None])
                .is_ok()
        );
    }

    #[test]
    fn two_leaders_in_a_term_are_caught() {
        let mut checker = SafetyChecker::new();
        checker.observe(&[view(2, true, &[], 0), None]).unwrap();
        let error = checker.observe(&[None, view(2, true, &[], 0)]).unwrap_err();
        assert!(error.starts_with("election safety"), "{error}");
    }

    #[test]
    fn logs_that_agree_on_a_term_but_not_before_it_are_caught() {
        let mut checker = SafetyChecker::new();
        let error = checker
            .observe(&[
                view(2, false, &[(1, "a"), (2, "c")], 0),
                view(2, false, &[(1, "b"), (2, "c")], 0),
            ])
            .unwrap_err();
        assert!(error.starts_with("log matching"), "{error}");
    }

    #[test]
    fn a_leader_without_a_committed_entry_is_caught() {
        let mut checker = SafetyChecker::new();
        checker
            .observe(&[
                view(1, true, &[(1, "a")], 1),
                view(1, false, &[(1, "a")], 1),
                None,
            ])
            .unwrap();
        let error = checker
            .observe(&[None, None, view(2, true, &[], 0)])
            .unwrap_err();
        assert!(error.starts_with("leader completeness"), "{error}");
    }

    #[test]
    fn a_deposed_leader_of_an_older_term_need_not_hold_later_commits() {
        let mut checker = SafetyChecker::new();
        let log = [(1, "a"), (5, "b")];
        let stale = view(4, true, &[(1, "a")], 1);
        checker
            .observe(&[view(5, true, &log, 2), view(5, false, &log, 2), stale])
            .unwrap();
    }

    #[test]
    fn different_commands_applied_at_one_index_are_caught() {
        let mut checker = SafetyChecker::new();
        checker
            .observe(&[view(1, false, &[(1, "a")], 1), None])
            .unwrap();
        let error = checker
            .observe(&[None, view(3, false, &[(3, "z")], 1)])
            .unwrap_err();
        assert!(
            error.contains("committed entry changed") || error.starts_with("state machine safety"),
            "{error}"
        );
    }
}
