scene_api! {
    crate primitives_circuit_breaker;

    use std::time::Duration;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum State {
        Closed,
        Open,
        HalfOpen,
    }

    pub struct CircuitBreaker { .. }

    impl CircuitBreaker {
        pub fn new(failure_threshold: u32, cooldown: Duration) -> Self;
        pub fn allow(&mut self, now: Duration) -> bool;
        pub fn record_success(&mut self, now: Duration);
        pub fn record_failure(&mut self, now: Duration);
        pub fn state(&self) -> State;
    }
}
