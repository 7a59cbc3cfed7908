scene_api! {
    crate primitives_sliding_window;

    use std::time::Duration;

    pub struct SlidingWindow { .. }

    impl SlidingWindow {
        pub fn new(limit: usize, window: Duration) -> Self;
        pub fn try_acquire(&mut self, now: Duration) -> bool;
        pub fn in_window(&mut self, now: Duration) -> usize;
        pub fn log_len(&self) -> usize;
    }
}
