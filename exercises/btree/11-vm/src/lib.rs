//! An SQL engine on the B+tree: the front end's trees planned into operators (scan, filter,
//! project, aggregate, sort, limit) and run over tables kept one per tree, rows keyed by rowid.
//!
//! Read README.md first. The front end is the sql-front scene's crate and the tree the cursor
//! scene's: yours, or the references. Fill in every `todo!()`, then run `cargo grade`.

// Until its bodies are written, a stub leaves parameters, fields and imports unused. This line
// keeps those warnings out of your way; delete it once every `todo!()` is gone, to see the
// warnings about your own code.
#![allow(unused)]

use std::cmp::Ordering;
use std::fmt;
use std::io;
use std::sync::Arc;

use btree_cursor::Tree;
use btree_leaf::{CELL_HEADER, max_cell};
use btree_sql_front::{
    Aggregate, Column, CreateTable, Expr, Insert, Op, Select, SelectItem, Statement, Type,
};
use kit::disk::Dir;

/// The size of every page of every tree the engine makes.
pub const PAGE_SIZE: usize = 1024;

/// The file of the schema tree: one entry per table.
pub const SCHEMA_FILE: &str = "schema";

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

/// One row of a result: a value per result column.
pub type Row = Vec<Value>;

/// What went wrong, as a kind the checks compare and a sentence for a person. The README's
/// table says which mistake is which kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The front end refused the text.
    Syntax,
    /// No table of that name.
    NoSuchTable,
    /// No column of that name in the table.
    NoSuchColumn,
    /// CREATE TABLE of a name a table has.
    TableExists,
    /// An INSERT row without a value for every column, or a column named twice.
    ValueCount,
    /// An INSERT of a rowid the table holds.
    NotUnique,
    /// A value of the wrong type: a rowid that is not an integer, text in arithmetic.
    Mismatch,
    /// An aggregate where none may be, or a column outside the aggregates of an aggregate query.
    Misuse,
    /// ORDER BY k with k not a result column's number.
    OutOfRange,
    /// A row, or a CREATE TABLE's text, too big for one cell of a page; no rowid left.
    TooBig,
    /// A record that does not decode.
    Corrupt,
    /// The disk failed.
    Io,
}

/// An error of `execute`, `explain`, `open` or `decode_record`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error {
            kind: ErrorKind::Io,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

// ---- keys and records ----

/// The tree key of a rowid: 8 bytes, big-endian, with the sign bit flipped, so that the keys'
/// byte order is the rowids' numeric order (negative ones first).
pub fn rowid_key(rowid: i64) -> [u8; 8] {
    todo!()
}

/// A row as bytes: the count of values (u16, big-endian), a type code per value, then the
/// values: nothing for NULL, 8 bytes big-endian for an INTEGER and for a REAL's bits, a 4-byte
/// big-endian length then the UTF-8 bytes for a TEXT.
pub fn encode_record(values: &[Value]) -> Vec<u8> {
    todo!()
}

/// The values of a record; `Corrupt` for bytes `encode_record` never makes (short, an unknown
/// code, text that is not UTF-8, bytes left over).
pub fn decode_record(bytes: &[u8]) -> Result<Vec<Value>, Error> {
    todo!()
}

// ---- SUM and AVG: SQLite's running sum, given whole (use it as it is) ----

/// SQLite's SUM: exact in integers while they fit; once a real comes (or the integers
/// overflow), a double with a running error term (Kahan-Babuska-Neumaier summation), so that
/// adding 1e300, 0.5 and -1e300 gives 0.5.
#[derive(Debug, Default)]
struct Sum {
    count: u64,
    integer: i64,
    approximate: bool,
    overflowed: bool,
    sum: f64,
    error: f64,
}

/// Integers at least this big are split in two before they become doubles, as SQLite does.
const BIG: i64 = 4_503_599_627_370_496;

impl Sum {
    fn add(&mut self, value: &Value) -> Result<(), Error> {
        match value {
            Value::Null => return Ok(()),
            Value::Integer(n) => {
                if self.approximate {
                    self.step_integer(*n);
                } else if let Some(s) = self.integer.checked_add(*n) {
                    self.integer = s;
                } else {
                    self.overflowed = true;
                    self.start(self.integer);
                    self.step_integer(*n);
                }
            }
            Value::Real(x) => {
                if !self.approximate {
                    self.start(self.integer);
                }
                self.overflowed = false;
                self.step(*x);
            }
            Value::Text(_) => return Err(error(ErrorKind::Mismatch, "SUM or AVG of a text")),
        }
        self.count += 1;
        Ok(())
    }

    fn start(&mut self, n: i64) {
        self.approximate = true;
        if !(-BIG + 1..BIG).contains(&n) {
            let small = n % 16384;
            self.sum = (n - small) as f64;
            self.error = small as f64;
        } else {
            self.sum = n as f64;
            self.error = 0.0;
        }
    }

    fn step(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() > x.abs() {
            self.error += (self.sum - t) + x;
        } else {
            self.error += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn step_integer(&mut self, n: i64) {
        if !(-BIG + 1..BIG).contains(&n) {
            let small = n % 16384;
            self.step((n - small) as f64);
            self.step(small as f64);
        } else {
            self.step(n as f64);
        }
    }

    fn total(&self) -> f64 {
        if self.error.is_finite() {
            self.sum + self.error
        } else {
            self.sum
        }
    }

    fn sum(&self) -> Result<Value, Error> {
        if self.count == 0 {
            Ok(Value::Null)
        } else if !self.approximate {
            Ok(Value::Integer(self.integer))
        } else if self.overflowed {
            Err(error(ErrorKind::Mismatch, "integer overflow in SUM"))
        } else {
            Ok(real(self.total()))
        }
    }

    fn avg(&self) -> Value {
        if self.count == 0 {
            Value::Null
        } else if self.approximate {
            real(self.total() / self.count as f64)
        } else {
            real(self.integer as f64 / self.count as f64)
        }
    }
}

/// A real result; NaN (inf - inf) is NULL, as in SQLite.
fn real(x: f64) -> Value {
    if x.is_nan() {
        Value::Null
    } else {
        Value::Real(x)
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error {
        kind,
        message: message.into(),
    }
}

// ---- the database ----

/// A table: its columns, which of them is the rowid (INTEGER PRIMARY KEY), and its tree.
struct Table {
    name: String,
    columns: Vec<Column>,
    key: Option<usize>,
    tree: Tree,
}

/// A database: a directory holding the schema tree and a tree per table.
pub struct Database {
    dir: Arc<dyn Dir>,
    cache_pages: usize,
    schema: Tree,
    tables: Vec<Table>,
}

impl Database {
    /// Opens the database in `dir`, making it (an empty schema tree) if `SCHEMA_FILE` is not
    /// there, and reads every table of the schema. Every tree's pager caches `cache_pages` pages.
    pub fn open(dir: Arc<dyn Dir>, cache_pages: usize) -> Result<Database, Error> {
        todo!()
    }

    /// Runs one statement. CREATE TABLE and INSERT return no rows, and are on the disk (flushed)
    /// when they return; SELECT returns its rows. A statement that fails changes nothing.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<Row>, Error> {
        todo!()
    }

    /// The plan of a SELECT, as text (one operator a line, say); for CREATE TABLE and INSERT,
    /// a line saying what they would do. Runs nothing, changes nothing; the errors are
    /// `execute`'s, but for those found only when running.
    pub fn explain(&mut self, sql: &str) -> Result<String, Error> {
        todo!()
    }
}
