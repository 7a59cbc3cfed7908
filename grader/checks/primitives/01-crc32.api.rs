scene_api! {
    crate primitives_crc32;

    pub const POLYNOMIAL: u32 = 0xEDB8_8320;

    pub fn crc32(bytes: &[u8]) -> u32;

    pub struct Crc32 { .. }

    impl Crc32 {
        pub fn new() -> Self;
        pub fn update(&mut self, bytes: &[u8]);
        pub fn finish(&self) -> u32;
    }

    impl Default for Crc32;
}
