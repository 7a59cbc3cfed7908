//! A tiny protocol for exercising the simulator: nodes count, gossip their count, and take the
//! maximum they hear. The kit's tests and its benchmark both run it.

use std::time::Duration;

use kit::net::{Ctx, NodeId, Process};

pub const TICK: Duration = Duration::from_millis(10);

#[derive(Debug)]
pub struct Gossip {
    pub count: u64,
    peers: Vec<NodeId>,
}

impl Process for Gossip {
    type Message = u64;
    type Timer = ();
    type Saved = u64;

    fn start(_: NodeId, peers: &[NodeId], saved: Option<u64>, ctx: &mut Ctx<Self>) -> Self {
        ctx.set_timer(TICK, ());
        Gossip {
            count: saved.unwrap_or(0),
            peers: peers.to_vec(),
        }
    }

    fn on_message(&mut self, _: NodeId, count: u64, _: &mut Ctx<Self>) {
        self.count = self.count.max(count);
    }

    fn on_timer(&mut self, _: (), ctx: &mut Ctx<Self>) {
        self.count += 1;
        ctx.save(self.count);
        for &peer in &self.peers {
            ctx.send(peer, self.count);
        }
        ctx.set_timer(TICK, ());
    }
}
