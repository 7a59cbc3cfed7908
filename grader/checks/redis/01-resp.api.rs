scene_api! {
    crate redis_resp;

    pub const MAX_NUMBER_LINE: usize = 20;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Frame {
        Simple(String),
        Error(String),
        Integer(i64),
        Bulk(Vec<u8>),
        NullBulk,
        Array(Vec<Frame>),
        NullArray,
        Null,
        Boolean(bool),
        Double(f64),
        BigNumber(String),
        BulkError(Vec<u8>),
        Verbatim { format: String, text: Vec<u8> },
        Map(Vec<(Frame, Frame)>),
        Set(Vec<Frame>),
        Push(Vec<Frame>),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Limits {
        pub max_bulk_len: usize,
        pub max_depth: usize,
        pub max_elements: usize,
    }

    impl Default for Limits;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ErrorKind {
        UnknownType,
        BadEnding,
        BadValue,
        TooLong,
        TooMany,
        TooDeep,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ParseError {
        pub kind: ErrorKind,
        pub at: usize,
    }

    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Frame, usize)>, ParseError>;
    pub fn encode(frame: &Frame, out: &mut Vec<u8>);
}
