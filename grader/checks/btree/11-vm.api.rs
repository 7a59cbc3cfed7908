scene_api! {
    crate btree_vm;

    use std::sync::Arc;

    use kit::disk::Dir;

    pub const PAGE_SIZE: usize = 1024;
    pub const SCHEMA_FILE: &str = "schema";

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Integer(i64),
        Real(f64),
        Text(String),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ErrorKind {
        Syntax,
        NoSuchTable,
        NoSuchColumn,
        TableExists,
        ValueCount,
        NotUnique,
        Mismatch,
        Misuse,
        OutOfRange,
        TooBig,
        Corrupt,
        Io,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Error {
        pub kind: ErrorKind,
        pub message: String,
    }

    pub struct Database { .. }

    impl Database {
        pub fn open(dir: Arc<dyn Dir>, cache_pages: usize) -> Result<Database, Error>;
        pub fn execute(&mut self, sql: &str) -> Result<Vec<Vec<Value>>, Error>;
        pub fn explain(&mut self, sql: &str) -> Result<String, Error>;
    }

    pub fn rowid_key(rowid: i64) -> [u8; 8];
    pub fn encode_record(values: &[Value]) -> Vec<u8>;
    pub fn decode_record(bytes: &[u8]) -> Result<Vec<Value>, Error>;
}
