scene_api! {
    crate primitives_retry_jitter;

    use std::time::Duration;

    pub struct Backoff { .. }

    impl Backoff {
        pub fn new(base: Duration, cap: Duration) -> Self;
        pub fn exponential(&self, attempt: u32) -> Duration;
        pub fn full_jitter(&self, attempt: u32, random: f64) -> Duration;
    }

    pub struct Decorrelated { .. }

    impl Decorrelated {
        pub fn new(base: Duration, cap: Duration) -> Self;
        pub fn next_delay(&mut self, random: f64) -> Duration;
    }
}
