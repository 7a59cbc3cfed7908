scene_api! {
    crate btree_sql_front;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Statement {
        CreateTable(CreateTable),
        Insert(Insert),
        Select(Select),
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct CreateTable {
        pub name: String,
        pub columns: Vec<Column>,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Column {
        pub name: String,
        pub ty: Type,
        pub primary_key: bool,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Type {
        Integer,
        Text,
        Real,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Insert {
        pub table: String,
        pub columns: Vec<String>,
        pub rows: Vec<Vec<Expr>>,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Select {
        pub items: Vec<SelectItem>,
        pub from: String,
        pub filter: Option<Expr>,
        pub order_by: Vec<OrderBy>,
        pub limit: Option<i64>,
        pub offset: Option<i64>,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub enum SelectItem {
        All,
        Expr(Expr),
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct OrderBy {
        pub expr: Expr,
        pub descending: bool,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub enum Expr {
        Null,
        Integer(i64),
        Real(f64),
        Text(String),
        Column(String),
        Op { op: Op, args: Vec<Expr> },
        Aggregate { func: Aggregate, args: Vec<Expr> },
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        Neg,
        Not,
        IsNull,
        IsNotNull,
        Or,
        And,
        Eq,
        NotEq,
        Lt,
        LtEq,
        Gt,
        GtEq,
        Add,
        Sub,
        Mul,
        Div,
        Mod,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Aggregate {
        Count,
        Sum,
        Min,
        Max,
        Avg,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ErrorKind {
        BadToken,
        Unterminated,
        Unexpected,
        Incomplete,
        Invalid,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SqlError {
        pub kind: ErrorKind,
        pub at: usize,
        pub message: String,
    }

    pub fn parse(sql: &str) -> Result<Statement, SqlError>;
    pub fn parse_expr(sql: &str) -> Result<Expr, SqlError>;
}
