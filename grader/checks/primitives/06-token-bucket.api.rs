scene_api! {
    crate primitives_token_bucket;

    use std::time::Duration;

    pub struct TokenBucket { .. }

    impl TokenBucket {
        pub fn new(capacity: u64, refill_per_second: u64) -> Self;
        pub fn try_acquire(&mut self, now: Duration, tokens: u64) -> bool;
        pub fn available(&mut self, now: Duration) -> u64;
    }
}
