scene_api! {
    crate bitcask_record;

    pub const HEADER_LEN: usize = 12;

    pub const TOMBSTONE: u32 = u32::MAX;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Record {
        pub key: Vec<u8>,
        pub value: Option<Vec<u8>>,
    }

    impl Record {
        pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Record;
        pub fn tombstone(key: impl Into<Vec<u8>>) -> Record;
        pub fn encoded_len(&self) -> usize;
        pub fn encode(&self) -> Vec<u8>;
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum DecodeError {
        Incomplete,
        Corrupt,
    }

    pub fn decode(buf: &[u8]) -> Result<(Record, usize), DecodeError>;
}
