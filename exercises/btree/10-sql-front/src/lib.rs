//! The front of a small SQL engine: a tokenizer and a recursive-descent parser for a subset of
//! SQLite's SQL (CREATE TABLE, INSERT, SELECT), producing the syntax tree the next scene runs.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters unused. This line keeps those warnings
// out of your way; delete it once every `todo!()` is gone, to see the warnings about your own
// code.
#![allow(unused)]

use std::fmt;

/// One statement of the subset.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    CreateTable(CreateTable),
    Insert(Insert),
    Select(Select),
}

/// `CREATE TABLE name (column type [PRIMARY KEY], ...)`
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub name: String,
    pub columns: Vec<Column>,
}

/// One column of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: Type,
    /// `INTEGER PRIMARY KEY`: the column is the row's key. At most one column has it.
    pub primary_key: bool,
}

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Integer,
    Text,
    Real,
}

/// `INSERT INTO table [(column, ...)] VALUES (expr, ...), ...`
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: String,
    /// The columns named after the table, in order; empty when there is no list.
    pub columns: Vec<String>,
    /// One or more rows, all of the same length.
    pub rows: Vec<Vec<Expr>>,
}

/// `SELECT items FROM table [WHERE expr] [ORDER BY expr [ASC|DESC], ...] [LIMIT n [OFFSET m]]`
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub items: Vec<SelectItem>,
    pub from: String,
    pub filter: Option<Expr>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<i64>,
    /// Only with a limit.
    pub offset: Option<i64>,
}

/// One item of a SELECT's list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`: every column of the table.
    All,
    Expr(Expr),
}

/// One term of ORDER BY.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub expr: Expr,
    /// `DESC`; `ASC`, or nothing, is ascending.
    pub descending: bool,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `NULL`
    Null,
    /// `42`: digits that fit in an i64 (and `-9223372036854775808`, see the README).
    Integer(i64),
    /// `1.5`, `.5`, `1e3`, and digits too big for an i64.
    Real(f64),
    /// `'it''s'`: the text between the quotes, each `''` read as one `'`.
    Text(String),
    /// `price`, `"order"`: a column, by its name as written (quotes removed).
    Column(String),
    /// An operator and its operands, in order: one for `Neg`, `Not`, `IsNull` and
    /// `IsNotNull`, two (left, right) for the others. `a - b` is
    /// `Op { op: Sub, args: vec![Column("a"), Column("b")] }`.
    Op { op: Op, args: Vec<Expr> },
    /// `COUNT(*)` (no argument), or `COUNT(x)`, `SUM(x)`, `MIN(x)`, `MAX(x)`, `AVG(x)` (one).
    Aggregate { func: Aggregate, args: Vec<Expr> },
}

/// An operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `-x`
    Neg,
    /// `NOT x`
    Not,
    /// `x IS NULL`
    IsNull,
    /// `x IS NOT NULL`
    IsNotNull,
    Or,
    And,
    /// `=` or `==`
    Eq,
    /// `!=` or `<>`
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

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// What kind of mistake the text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Characters that start no token: `@`, `!` alone, `1abc`, a non-ASCII letter outside quotes.
    BadToken,
    /// A string or a quoted name without its closing quote.
    Unterminated,
    /// A token the grammar does not allow where it stands.
    Unexpected,
    /// The text ends where the grammar needs more.
    Incomplete,
    /// Well formed, but not allowed: two PRIMARY KEYs, a PRIMARY KEY that is not INTEGER, a
    /// column named twice, VALUES rows of different lengths, or as many values as columns.
    Invalid,
}

/// Why the text is not a statement of the subset, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub kind: ErrorKind,
    /// The byte offset in the text where the mistake is: see the README for each kind.
    pub at: usize,
    /// A sentence for a person: what was found, and what was expected.
    pub message: String,
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.at)
    }
}

impl std::error::Error for SqlError {}

/// Parses one statement of the subset, optionally ended by `;`, and nothing after it.
///
/// The whole text is tokenized first; the first mistake in the text is the error: `BadToken`
/// or `Unterminated` where those characters start, `Unexpected` at the first byte of the first
/// token no statement of the subset can continue with, `Incomplete` at `sql.len()` when the
/// text ends too early, `Invalid` where the README's table says. Never panics.
pub fn parse(sql: &str) -> Result<Statement, SqlError> {
    todo!()
}

/// Parses the whole text as one expression (no `;`), with the errors of [`parse`].
pub fn parse_expr(sql: &str) -> Result<Expr, SqlError> {
    todo!()
}
