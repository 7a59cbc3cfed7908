scene_api! {
    crate primitives_varint;

    pub const MAX_LEN: usize = 10;

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum DecodeError {
        Incomplete,
        Overflow,
    }

    pub fn encode(value: u64, out: &mut Vec<u8>) -> usize;
    pub fn decode(bytes: &[u8]) -> Result<(u64, usize), DecodeError>;
    pub fn zigzag(value: i64) -> u64;
    pub fn unzigzag(value: u64) -> i64;
}
