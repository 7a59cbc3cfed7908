scene_api! {
    crate primitives_lru_cache;

    pub struct LruCache<K, V> { .. }

    impl LruCache<char, u32> {
        pub fn new(capacity: usize) -> Self;
        pub fn capacity(&self) -> usize;
        pub fn len(&self) -> usize;
        pub fn is_empty(&self) -> bool;
        pub fn get(&mut self, key: &char) -> Option<&u32>;
        pub fn peek(&self, key: &char) -> Option<&u32>;
        pub fn put(&mut self, key: char, value: u32) -> Option<(char, u32)>;
    }

    impl LruCache<String, usize> {
        pub fn new(capacity: usize) -> Self;
        pub fn capacity(&self) -> usize;
        pub fn len(&self) -> usize;
        pub fn is_empty(&self) -> bool;
        pub fn get(&mut self, key: &String) -> Option<&usize>;
        pub fn peek(&self, key: &String) -> Option<&usize>;
        pub fn put(&mut self, key: String, value: usize) -> Option<(String, usize)>;
    }
}
