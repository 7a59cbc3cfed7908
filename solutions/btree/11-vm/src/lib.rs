//! An SQL engine on the B+tree: the front end's trees planned into operators (scan, filter,
//! project, aggregate, sort, limit) and run over tables kept one per tree, rows keyed by rowid.
//!
//! The reference solution.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
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

/// What went wrong, as a kind the checks compare and a sentence for a person.
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

fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error {
        kind,
        message: message.into(),
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        error(ErrorKind::Io, e.to_string())
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
    ((rowid as u64) ^ (1 << 63)).to_be_bytes()
}

/// The rowid of a tree key.
fn key_rowid(key: &[u8]) -> Result<i64, Error> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| error(ErrorKind::Corrupt, format!("a key of {} bytes", key.len())))?;
    Ok((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

const NULL_CODE: u8 = 0;
const INTEGER_CODE: u8 = 1;
const REAL_CODE: u8 = 2;
const TEXT_CODE: u8 = 3;

/// A row as bytes: the count of values (u16, big-endian), a type code per value, then the
/// values: nothing for NULL, 8 bytes big-endian for an INTEGER and for a REAL's bits, a 4-byte
/// big-endian length then the UTF-8 bytes for a TEXT.
pub fn encode_record(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + values.len() * 9);
    out.extend_from_slice(&(values.len() as u16).to_be_bytes());
    out.extend(values.iter().map(|v| match v {
        Value::Null => NULL_CODE,
        Value::Integer(_) => INTEGER_CODE,
        Value::Real(_) => REAL_CODE,
        Value::Text(_) => TEXT_CODE,
    }));
    for value in values {
        match value {
            Value::Null => {}
            Value::Integer(n) => out.extend_from_slice(&n.to_be_bytes()),
            Value::Real(x) => out.extend_from_slice(&x.to_bits().to_be_bytes()),
            Value::Text(t) => {
                out.extend_from_slice(&(t.len() as u32).to_be_bytes());
                out.extend_from_slice(t.as_bytes());
            }
        }
    }
    out
}

/// The values of a record; `Corrupt` for bytes `encode_record` never makes (short, an unknown
/// code, text that is not UTF-8, bytes left over).
pub fn decode_record(bytes: &[u8]) -> Result<Vec<Value>, Error> {
    let corrupt = |what: &str| error(ErrorKind::Corrupt, format!("a record {what}"));
    let mut at = 0;
    let mut take = |n: usize| -> Result<&[u8], Error> {
        let part = bytes
            .get(at..at + n)
            .ok_or_else(|| corrupt("shorter than its header says"))?;
        at += n;
        Ok(part)
    };
    let count = u16::from_be_bytes(take(2)?.try_into().unwrap()) as usize;
    let codes = take(count)?.to_vec();
    let mut values = Vec::with_capacity(count);
    for code in codes {
        values.push(match code {
            NULL_CODE => Value::Null,
            INTEGER_CODE => Value::Integer(i64::from_be_bytes(take(8)?.try_into().unwrap())),
            REAL_CODE => Value::Real(f64::from_bits(u64::from_be_bytes(
                take(8)?.try_into().unwrap(),
            ))),
            TEXT_CODE => {
                let len = u32::from_be_bytes(take(4)?.try_into().unwrap()) as usize;
                let text = take(len)?.to_vec();
                Value::Text(String::from_utf8(text).map_err(|_| corrupt("with text not UTF-8"))?)
            }
            other => return Err(corrupt(&format!("with the unknown type code {other}"))),
        });
    }
    if at != bytes.len() {
        return Err(corrupt("with bytes after its last value"));
    }
    Ok(values)
}

// ---- SUM and AVG: SQLite's running sum, given whole ----

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

// ---- values: comparison and arithmetic, as SQLite's ----

/// A real result; NaN (inf - inf) is NULL, as in SQLite.
fn real(x: f64) -> Value {
    if x.is_nan() {
        Value::Null
    } else {
        Value::Real(x)
    }
}

/// SQLite's order of values: NULL, then numbers by value (an integer and a real compared
/// exactly, never through a rounding), then text by its bytes.
fn compare(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Null, Null) => Ordering::Equal,
        (Null, _) => Ordering::Less,
        (_, Null) => Ordering::Greater,
        (Integer(x), Integer(y)) => x.cmp(y),
        (Real(x), Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Integer(i), Real(r)) => int_real(*i, *r),
        (Real(r), Integer(i)) => int_real(*i, *r).reverse(),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Text(_), _) => Ordering::Greater,
        (_, Text(_)) => Ordering::Less,
    }
}

/// An integer against a real, exactly: i64::MAX is below 2^63 though `i64::MAX as f64` is not.
fn int_real(i: i64, r: f64) -> Ordering {
    if r < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    if r >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    let y = r as i64;
    i.cmp(&y)
        .then_with(|| (i as f64).partial_cmp(&r).unwrap_or(Ordering::Equal))
}

/// A real as SQLite's integer: saturating at the ends of i64.
fn real_to_int(r: f64) -> i64 {
    r as i64
}

fn as_real(v: &Value) -> f64 {
    match v {
        Value::Integer(n) => *n as f64,
        Value::Real(x) => *x,
        _ => 0.0,
    }
}

fn as_int(v: &Value) -> i64 {
    match v {
        Value::Integer(n) => *n,
        Value::Real(x) => real_to_int(*x),
        _ => 0,
    }
}

/// `+ - * / %` on two values.
fn arithmetic(op: Op, a: &Value, b: &Value) -> Result<Value, Error> {
    if matches!(a, Value::Text(_)) || matches!(b, Value::Text(_)) {
        return Err(error(
            ErrorKind::Mismatch,
            format!("{} on a text: {a:?} and {b:?}", op_word(op)),
        ));
    }
    if matches!(a, Value::Null) || matches!(b, Value::Null) {
        return Ok(Value::Null);
    }
    if let (Value::Integer(x), Value::Integer(y)) = (a, b) {
        let exact = match op {
            Op::Add => x.checked_add(*y),
            Op::Sub => x.checked_sub(*y),
            Op::Mul => x.checked_mul(*y),
            // Integer division truncates; by zero it is NULL; i64::MIN / -1 overflows to a real.
            Op::Div if *y == 0 => return Ok(Value::Null),
            Op::Div => x.checked_div(*y),
            Op::Mod if *y == 0 => return Ok(Value::Null),
            // x % -1 is 0, and i64::MIN % -1 must not overflow.
            _ => Some(x % if *y == -1 { 1 } else { *y }),
        };
        if let Some(n) = exact {
            return Ok(Value::Integer(n));
        }
        // An overflow is done again in reals, as SQLite does.
    }
    let (x, y) = (as_real(a), as_real(b));
    Ok(match op {
        Op::Add => real(x + y),
        Op::Sub => real(x - y),
        Op::Mul => real(x * y),
        Op::Div if y == 0.0 => Value::Null,
        Op::Div => real(x / y),
        _ => {
            // A real remainder is the integers' remainder, as a real.
            let (i, j) = (as_int(a), as_int(b));
            if j == 0 {
                Value::Null
            } else {
                Value::Real((i % if j == -1 { 1 } else { j }) as f64)
            }
        }
    })
}

fn op_word(op: Op) -> &'static str {
    match op {
        Op::Add => "+",
        Op::Sub => "-",
        Op::Mul => "*",
        Op::Div => "/",
        Op::Mod => "%",
        Op::Neg => "unary -",
        Op::Not => "NOT",
        Op::And => "AND",
        Op::Or => "OR",
        _ => "a comparison",
    }
}

/// A value as a truth value: `None` for NULL.
fn truth(v: &Value, op: &str) -> Result<Option<bool>, Error> {
    match v {
        Value::Null => Ok(None),
        Value::Integer(n) => Ok(Some(*n != 0)),
        Value::Real(x) => Ok(Some(*x != 0.0)),
        Value::Text(t) => Err(error(
            ErrorKind::Mismatch,
            format!("{op} on the text {t:?}: a truth value is a number here"),
        )),
    }
}

fn boolean(b: Option<bool>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => Value::Integer(b as i64),
    }
}

// ---- bound expressions: names resolved to places in a row ----

/// An expression whose names are resolved: a column is its index in the scanned row (the
/// table's columns, then the rowid), an aggregate the index of its result.
#[derive(Debug, Clone)]
enum Bound {
    Const(Value),
    Column(usize),
    Op(Op, Vec<Bound>),
    Aggregate(usize),
}

fn eval(e: &Bound, row: &[Value], aggregates: &[Value]) -> Result<Value, Error> {
    Ok(match e {
        Bound::Const(v) => v.clone(),
        Bound::Column(i) => row[*i].clone(),
        Bound::Aggregate(i) => aggregates[*i].clone(),
        Bound::Op(op, args) => {
            let a = eval(&args[0], row, aggregates)?;
            match op {
                Op::IsNull => boolean(Some(a == Value::Null)),
                Op::IsNotNull => boolean(Some(a != Value::Null)),
                // SQLite computes -x as 0 - x: -NULL is NULL, -i64::MIN is a real.
                Op::Neg => arithmetic(Op::Sub, &Value::Integer(0), &a)?,
                Op::Not => boolean(truth(&a, "NOT")?.map(|b| !b)),
                Op::And | Op::Or => {
                    let b = eval(&args[1], row, aggregates)?;
                    let (x, y) = (truth(&a, op_word(*op))?, truth(&b, op_word(*op))?);
                    // Three-valued: FALSE AND NULL is FALSE, TRUE OR NULL is TRUE.
                    boolean(match (op, x, y) {
                        (Op::And, Some(false), _) | (Op::And, _, Some(false)) => Some(false),
                        (Op::Or, Some(true), _) | (Op::Or, _, Some(true)) => Some(true),
                        (Op::And, Some(_), Some(_)) => Some(true),
                        (Op::Or, Some(_), Some(_)) => Some(false),
                        _ => None,
                    })
                }
                Op::Eq | Op::NotEq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq => {
                    let b = eval(&args[1], row, aggregates)?;
                    if a == Value::Null || b == Value::Null {
                        // NULL compared with anything, NULL included, is NULL.
                        Value::Null
                    } else {
                        let order = compare(&a, &b);
                        boolean(Some(match op {
                            Op::Eq => order == Ordering::Equal,
                            Op::NotEq => order != Ordering::Equal,
                            Op::Lt => order == Ordering::Less,
                            Op::LtEq => order != Ordering::Greater,
                            Op::Gt => order == Ordering::Greater,
                            _ => order != Ordering::Less,
                        }))
                    }
                }
                _ => arithmetic(*op, &a, &eval(&args[1], row, aggregates)?)?,
            }
        }
    })
}

// ---- tables ----

/// A table: its columns, which of them is the rowid (INTEGER PRIMARY KEY), and its tree.
struct Table {
    name: String,
    columns: Vec<Column>,
    key: Option<usize>,
    tree: Tree,
}

impl Table {
    fn new(create: CreateTable, tree: Tree) -> Table {
        let key = create.columns.iter().position(|c| c.primary_key);
        Table {
            name: create.name,
            columns: create.columns,
            key,
            tree,
        }
    }

    /// The place of a column in a scanned row: its index, or one past the columns for the
    /// rowid (unless a column is called `rowid`).
    fn column(&self, name: &str) -> Result<usize, Error> {
        if let Some(i) = self
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
        {
            Ok(i)
        } else if name.eq_ignore_ascii_case("rowid") {
            Ok(self.columns.len())
        } else {
            Err(error(
                ErrorKind::NoSuchColumn,
                format!("no such column: {name} (table {})", self.name),
            ))
        }
    }
}

// ---- plans ----

/// An operator tree. Each operator takes the rows of its input and hands on rows of its own.
#[derive(Debug)]
enum Plan {
    /// Every row of a table, in rowid order, through one cursor: its columns, then its rowid.
    Scan { table: usize, name: String },
    /// The rows for which `predicate` is true (not false, not NULL).
    Filter { input: Box<Plan>, predicate: Bound },
    /// Each row's result columns, then its sort keys.
    Project {
        input: Box<Plan>,
        items: Vec<Bound>,
        keys: Vec<Bound>,
    },
    /// One row of the items over the aggregates' results, however many rows came in (none too).
    Aggregate {
        input: Box<Plan>,
        calls: Vec<(Aggregate, Option<Bound>)>,
        items: Vec<Bound>,
    },
    /// The rows ordered by their last `descending.len()` values, which are then dropped.
    Sort {
        input: Box<Plan>,
        descending: Vec<bool>,
    },
    /// At most `limit` rows, after skipping `offset`.
    Limit {
        input: Box<Plan>,
        limit: Option<u64>,
        offset: u64,
    },
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        let mut plan = Some(self);
        let mut depth = 0;
        while let Some(p) = plan {
            let (line, input) = match p {
                Plan::Scan { name, .. } => (format!("Scan {name}"), None),
                Plan::Filter { input, predicate } => (format!("Filter {predicate:?}"), Some(input)),
                Plan::Project { input, items, keys } => (
                    format!("Project {} columns, {} sort keys", items.len(), keys.len()),
                    Some(input),
                ),
                Plan::Aggregate { input, calls, .. } => {
                    let names: Vec<String> = calls.iter().map(|(f, _)| format!("{f:?}")).collect();
                    (format!("Aggregate {}", names.join(", ")), Some(input))
                }
                Plan::Sort { input, descending } => {
                    let keys: Vec<&str> = descending
                        .iter()
                        .map(|&d| if d { "DESC" } else { "ASC" })
                        .collect();
                    (format!("Sort {}", keys.join(", ")), Some(input))
                }
                Plan::Limit {
                    input,
                    limit,
                    offset,
                } => (format!("Limit {limit:?} offset {offset}"), Some(input)),
            };
            writeln!(text, "{}{line}", "  ".repeat(depth))?;
            depth += 1;
            plan = input.map(|b| &**b);
        }
        f.write_str(&text)
    }
}

/// Whether an expression holds an aggregate.
fn has_aggregate(e: &Expr) -> bool {
    match e {
        Expr::Aggregate { .. } => true,
        Expr::Op { args, .. } => args.iter().any(has_aggregate),
        _ => false,
    }
}

/// Binds an expression over `table`'s rows. Aggregates are allowed only when `calls` is given
/// (an aggregate query's items), and each becomes a call of it; a column is allowed outside an
/// aggregate only when `bare` is true.
fn bind(
    e: &Expr,
    table: Option<&Table>,
    calls: &mut Option<&mut Vec<(Aggregate, Option<Bound>)>>,
    bare: bool,
) -> Result<Bound, Error> {
    Ok(match e {
        Expr::Null => Bound::Const(Value::Null),
        Expr::Integer(n) => Bound::Const(Value::Integer(*n)),
        Expr::Real(x) => Bound::Const(real(*x)),
        Expr::Text(t) => Bound::Const(Value::Text(t.clone())),
        Expr::Column(name) => match table {
            None => {
                return Err(error(
                    ErrorKind::NoSuchColumn,
                    format!("no such column: {name} (a VALUES row names no column)"),
                ));
            }
            Some(table) => {
                let i = table.column(name)?;
                if !bare {
                    return Err(error(
                        ErrorKind::Misuse,
                        format!("the column {name} outside an aggregate, in an aggregate query"),
                    ));
                }
                Bound::Column(i)
            }
        },
        Expr::Op { op, args } => Bound::Op(
            *op,
            args.iter()
                .map(|a| bind(a, table, calls, bare))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Aggregate { func, args } => {
            let Some(list) = calls.as_mut() else {
                return Err(error(
                    ErrorKind::Misuse,
                    format!("misuse of the aggregate {func:?}: not allowed here"),
                ));
            };
            if args.iter().any(has_aggregate) {
                return Err(error(
                    ErrorKind::Misuse,
                    format!("misuse of the aggregate {func:?}: an aggregate inside another"),
                ));
            }
            // The argument is evaluated per row: columns are allowed there.
            let arg = match args.first() {
                Some(a) => Some(bind(a, table, &mut None, true)?),
                None => None,
            };
            list.push((*func, arg));
            Bound::Aggregate(list.len() - 1)
        }
    })
}

/// The small integer an ORDER BY term is, if it is one (`2`, `-1`): SQLite reads it as a
/// result column's number.
fn term_number(e: &Expr) -> Option<i64> {
    match e {
        Expr::Integer(n) if i32::try_from(*n).is_ok() => Some(*n),
        Expr::Op { op: Op::Neg, args } => term_number(&args[0]).map(|n| -n),
        _ => None,
    }
}

// ---- the database ----

/// A database: a directory holding the schema tree and a tree per table.
pub struct Database {
    dir: Arc<dyn Dir>,
    cache_pages: usize,
    schema: Tree,
    tables: Vec<Table>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("Database").field("tables", &names).finish()
    }
}

/// The file of the table whose schema entry has this rowid.
fn table_file(number: i64) -> String {
    format!("table-{number}")
}

impl Database {
    /// Opens the database in `dir`, making it (an empty schema tree) if `SCHEMA_FILE` is not
    /// there. Every tree's pager caches `cache_pages` pages.
    pub fn open(dir: Arc<dyn Dir>, cache_pages: usize) -> Result<Database, Error> {
        let mut schema = if dir.exists(SCHEMA_FILE)? {
            Tree::open(&*dir, SCHEMA_FILE, cache_pages)?
        } else {
            let mut tree = Tree::create(&*dir, SCHEMA_FILE, PAGE_SIZE, cache_pages)?;
            tree.flush()?;
            tree
        };
        // The schema's entries: (number, [name, CREATE TABLE text]). Each table is parsed again
        // from its text, as SQLite does with its sqlite_schema.
        let mut tables = Vec::new();
        for (key, value) in schema.scan(&rowid_key(i64::MIN), &rowid_key(i64::MAX))? {
            let number = key_rowid(&key)?;
            let create = match decode_record(&value)?.as_slice() {
                [Value::Text(_), Value::Text(sql)] => match btree_sql_front::parse(sql) {
                    Ok(Statement::CreateTable(create)) => create,
                    _ => return Err(error(ErrorKind::Corrupt, "a schema entry that is no table")),
                },
                _ => return Err(error(ErrorKind::Corrupt, "a schema entry of another shape")),
            };
            let tree = Tree::open(&*dir, &table_file(number), cache_pages)?;
            tables.push(Table::new(create, tree));
        }
        Ok(Database {
            dir,
            cache_pages,
            schema,
            tables,
        })
    }

    /// Runs one statement. CREATE TABLE and INSERT return no rows, and are on the disk (flushed)
    /// when they return; SELECT returns its rows.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<Row>, Error> {
        match parse(sql)? {
            Statement::CreateTable(create) => {
                self.create(create, sql)?;
                Ok(Vec::new())
            }
            Statement::Insert(insert) => {
                self.insert(&insert)?;
                Ok(Vec::new())
            }
            Statement::Select(select) => {
                let plan = self.plan(&select)?;
                let width = self.width(&select)?;
                let mut rows = self.run(&plan)?;
                for row in &mut rows {
                    row.truncate(width);
                }
                Ok(rows)
            }
        }
    }

    /// The plan of a SELECT, one operator a line, the last one the scan; for CREATE TABLE and
    /// INSERT, one line saying what they would do. Runs nothing, changes nothing; the errors
    /// are `execute`'s, but for those found only when running.
    pub fn explain(&mut self, sql: &str) -> Result<String, Error> {
        match parse(sql)? {
            Statement::CreateTable(create) => {
                if self.find(&create.name).is_ok() {
                    return Err(exists(&create.name));
                }
                Ok(format!("Create table {}\n", create.name))
            }
            Statement::Insert(insert) => {
                let table = self.find(&insert.table)?;
                Ok(format!(
                    "Insert {} rows into {}\n",
                    insert.rows.len(),
                    self.tables[table].name
                ))
            }
            Statement::Select(select) => Ok(self.plan(&select)?.to_string()),
        }
    }

    fn find(&self, name: &str) -> Result<usize, Error> {
        self.tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| error(ErrorKind::NoSuchTable, format!("no such table: {name}")))
    }

    fn create(&mut self, create: CreateTable, sql: &str) -> Result<(), Error> {
        if self.find(&create.name).is_ok() {
            return Err(exists(&create.name));
        }
        let number = self.tables.len() as i64 + 1;
        let record = encode_record(&[Value::Text(create.name.clone()), Value::Text(sql.into())]);
        fits(&record, "the CREATE TABLE's text")?;
        let mut tree = Tree::create(&*self.dir, &table_file(number), PAGE_SIZE, self.cache_pages)?;
        tree.flush()?;
        // The table's tree is made first: a schema entry never names a file that is not there.
        self.schema.insert(&rowid_key(number), &record)?;
        self.schema.flush()?;
        self.tables.push(Table::new(create, tree));
        Ok(())
    }

    fn insert(&mut self, insert: &Insert) -> Result<(), Error> {
        let t = self.find(&insert.table)?;
        let table = &mut self.tables[t];
        let width = table.columns.len();
        // Where each value of a row goes.
        let places: Vec<usize> = if insert.columns.is_empty() {
            (0..width).collect()
        } else {
            let mut places = Vec::new();
            for name in &insert.columns {
                let place = table
                    .columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        error(
                            ErrorKind::NoSuchColumn,
                            format!("table {} has no column named {name}", table.name),
                        )
                    })?;
                if places.contains(&place) {
                    return Err(error(
                        ErrorKind::ValueCount,
                        format!("the column {name} is named twice"),
                    ));
                }
                places.push(place);
            }
            places
        };
        // Every row is checked before any is written: a statement goes in whole or not at all.
        let mut last = Self::last_rowid(&mut table.tree)?;
        let mut rows: Vec<(i64, Vec<u8>)> = Vec::new();
        for row in &insert.rows {
            if row.len() != places.len() {
                return Err(error(
                    ErrorKind::ValueCount,
                    format!(
                        "table {} has {width} columns but {} values were supplied",
                        table.name,
                        row.len()
                    ),
                ));
            }
            let mut values = vec![Value::Null; width];
            for (expr, &place) in row.iter().zip(&places) {
                let value = eval(&bind(expr, None, &mut None, true)?, &[], &[])?;
                values[place] = affinity(table.columns[place].ty, value);
            }
            let rowid = match table
                .key
                .map(|k| std::mem::replace(&mut values[k], Value::Null))
            {
                None | Some(Value::Null) => match last {
                    None => 1,
                    Some(i64::MAX) => {
                        return Err(error(
                            ErrorKind::TooBig,
                            "no rowid after 9223372036854775807",
                        ));
                    }
                    Some(n) => n + 1,
                },
                Some(Value::Integer(n)) => n,
                Some(other) => {
                    return Err(error(
                        ErrorKind::Mismatch,
                        format!("datatype mismatch: the rowid {other:?} is not an integer"),
                    ));
                }
            };
            if rows.iter().any(|(r, _)| *r == rowid) || table.tree.get(&rowid_key(rowid))?.is_some()
            {
                return Err(error(
                    ErrorKind::NotUnique,
                    format!("UNIQUE constraint failed: the rowid {rowid} is taken"),
                ));
            }
            last = Some(last.map_or(rowid, |l| l.max(rowid)));
            // The INTEGER PRIMARY KEY's place holds NULL: its value is the key.
            let record = encode_record(&values);
            fits(&record, "the row")?;
            rows.push((rowid, record));
        }
        for (rowid, record) in rows {
            table.tree.insert(&rowid_key(rowid), &record)?;
        }
        table.tree.flush()?;
        Ok(())
    }

    /// The biggest rowid of a tree: the last key, since keys sort as rowids do.
    fn last_rowid(tree: &mut Tree) -> Result<Option<i64>, Error> {
        let cursor = tree.cursor();
        tree.last(cursor)?;
        tree.key(cursor)?.map(|k| key_rowid(&k)).transpose()
    }

    /// How many result columns a SELECT has.
    fn width(&self, select: &Select) -> Result<usize, Error> {
        let table = &self.tables[self.find(&select.from)?];
        Ok(select
            .items
            .iter()
            .map(|item| match item {
                SelectItem::All => table.columns.len(),
                SelectItem::Expr(_) => 1,
            })
            .sum())
    }

    /// Plans a SELECT: scan, filter, then project and sort (or aggregate), then limit. The
    /// order is the meaning: WHERE sees every row, LIMIT the sorted result.
    fn plan(&self, select: &Select) -> Result<Plan, Error> {
        let t = self.find(&select.from)?;
        let table = &self.tables[t];
        let mut plan = Plan::Scan {
            table: t,
            name: table.name.clone(),
        };
        if let Some(filter) = &select.filter {
            if has_aggregate(filter) {
                return Err(error(ErrorKind::Misuse, "misuse of an aggregate in WHERE"));
            }
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: bind(filter, Some(table), &mut None, true)?,
            };
        }
        let exprs: Vec<Expr> = select
            .items
            .iter()
            .flat_map(|item| match item {
                SelectItem::All => (0..table.columns.len())
                    .map(|i| Expr::Column(table.columns[i].name.clone()))
                    .collect(),
                SelectItem::Expr(e) => vec![e.clone()],
            })
            .collect();
        let aggregate = exprs.iter().any(has_aggregate)
            || select.order_by.iter().any(|o| has_aggregate(&o.expr));
        // ORDER BY k is the k-th result column; any other term an expression of the row.
        let mut keys = Vec::new();
        for (n, term) in select.order_by.iter().enumerate() {
            let key = match term_number(&term.expr) {
                Some(k) if k < 1 || k as usize > exprs.len() => {
                    return Err(error(
                        ErrorKind::OutOfRange,
                        format!(
                            "ORDER BY term {} out of range: should be between 1 and {}",
                            n + 1,
                            exprs.len()
                        ),
                    ));
                }
                Some(k) => exprs[k as usize - 1].clone(),
                None => term.expr.clone(),
            };
            keys.push(key);
        }
        if aggregate {
            // One row comes out: ORDER BY has nothing to order, but its names must exist.
            for key in &keys {
                bind(key, Some(table), &mut Some(&mut Vec::new()), true)?;
            }
            let mut calls = Vec::new();
            let items = exprs
                .iter()
                .map(|e| bind(e, Some(table), &mut Some(&mut calls), false))
                .collect::<Result<_, _>>()?;
            plan = Plan::Aggregate {
                input: Box::new(plan),
                calls,
                items,
            };
        } else {
            let bind_all = |list: &[Expr]| -> Result<Vec<Bound>, Error> {
                list.iter()
                    .map(|e| bind(e, Some(table), &mut None, true))
                    .collect()
            };
            plan = Plan::Project {
                input: Box::new(plan),
                items: bind_all(&exprs)?,
                keys: bind_all(&keys)?,
            };
            if !keys.is_empty() {
                plan = Plan::Sort {
                    input: Box::new(plan),
                    descending: select.order_by.iter().map(|o| o.descending).collect(),
                };
            }
        }
        if select.limit.is_some() || select.offset.is_some() {
            plan = Plan::Limit {
                input: Box::new(plan),
                limit: select.limit.map(|l| l as u64),
                offset: select.offset.unwrap_or(0) as u64,
            };
        }
        Ok(plan)
    }

    /// Runs a plan to its rows.
    fn run(&mut self, plan: &Plan) -> Result<Vec<Row>, Error> {
        Ok(match plan {
            Plan::Scan { table, .. } => self.scan(*table)?,
            Plan::Filter { input, predicate } => {
                let mut rows = Vec::new();
                for row in self.run(input)? {
                    // Only TRUE keeps a row: NULL is not true.
                    if truth(&eval(predicate, &row, &[])?, "WHERE")? == Some(true) {
                        rows.push(row);
                    }
                }
                rows
            }
            Plan::Project { input, items, keys } => {
                let mut rows = Vec::new();
                for row in self.run(input)? {
                    let out = items
                        .iter()
                        .chain(keys)
                        .map(|e| eval(e, &row, &[]))
                        .collect::<Result<_, _>>()?;
                    rows.push(out);
                }
                rows
            }
            Plan::Aggregate {
                input,
                calls,
                items,
            } => {
                let rows = self.run(input)?;
                let mut results = Vec::new();
                for (func, arg) in calls {
                    let args = match arg {
                        Some(a) => rows
                            .iter()
                            .map(|row| eval(a, row, &[]))
                            .collect::<Result<Vec<_>, _>>()?,
                        None => vec![Value::Integer(1); rows.len()],
                    };
                    results.push(aggregate(*func, arg.is_none(), &args)?);
                }
                // Over no rows too, an aggregate query makes its one row.
                vec![
                    items
                        .iter()
                        .map(|e| eval(e, &[], &results))
                        .collect::<Result<_, _>>()?,
                ]
            }
            Plan::Sort { input, descending } => {
                let mut rows = self.run(input)?;
                let n = descending.len();
                rows.sort_by(|a, b| {
                    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
                    a.iter()
                        .zip(b)
                        .zip(descending)
                        .map(|((x, y), &desc)| {
                            // NULL is the smallest value: first ascending, last descending.
                            let order = compare(x, y);
                            if desc { order.reverse() } else { order }
                        })
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                });
                rows
            }
            Plan::Limit {
                input,
                limit,
                offset,
            } => {
                let rows = self.run(input)?;
                let skip = usize::try_from(*offset).unwrap_or(usize::MAX);
                let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
                rows.into_iter().skip(skip).take(take).collect()
            }
        })
    }

    /// Every row of a table in rowid order: one cursor from the first entry to the last, which
    /// reads each page of the tree once.
    fn scan(&mut self, t: usize) -> Result<Vec<Row>, Error> {
        let table = &mut self.tables[t];
        let tree = &mut table.tree;
        let cursor = tree.cursor();
        tree.first(cursor)?;
        let mut rows = Vec::new();
        while let Some(key) = tree.key(cursor)? {
            let rowid = key_rowid(&key)?;
            let value = tree.value(cursor)?.unwrap_or_default();
            let mut row = decode_record(&value)?;
            if row.len() != table.columns.len() {
                return Err(error(ErrorKind::Corrupt, "a row of another width"));
            }
            if let Some(k) = table.key {
                row[k] = Value::Integer(rowid);
            }
            row.push(Value::Integer(rowid));
            rows.push(row);
            tree.next(cursor)?;
        }
        Ok(rows)
    }
}

fn parse(sql: &str) -> Result<Statement, Error> {
    btree_sql_front::parse(sql).map_err(|e| {
        error(
            ErrorKind::Syntax,
            format!("{:?} at {}: {}", e.kind, e.at, e.message),
        )
    })
}

fn exists(name: &str) -> Error {
    error(
        ErrorKind::TableExists,
        format!("table {name} already exists"),
    )
}

/// Whether a record fits in one cell with its 8-byte key.
fn fits(record: &[u8], what: &str) -> Result<(), Error> {
    let cell = CELL_HEADER + 8 + record.len();
    if cell > max_cell(PAGE_SIZE) {
        return Err(error(
            ErrorKind::TooBig,
            format!(
                "{what} takes {cell} bytes in a cell; a page of {PAGE_SIZE} takes {}",
                max_cell(PAGE_SIZE)
            ),
        ));
    }
    Ok(())
}

/// A column's type applied to a value going in: an INTEGER column keeps an integral real as an
/// integer, a REAL column turns an integer into a real. Anything else is kept as it is.
fn affinity(ty: Type, value: Value) -> Value {
    match (ty, value) {
        (Type::Integer, Value::Real(r)) => {
            let n = real_to_int(r);
            if n as f64 == r && n > i64::MIN && n < i64::MAX {
                Value::Integer(n)
            } else {
                Value::Real(r)
            }
        }
        (Type::Real, Value::Integer(n)) => Value::Real(n as f64),
        (_, v) => v,
    }
}

/// One aggregate over the values of its argument, one per row (for `COUNT(*)`, one per row
/// whatever they are).
fn aggregate(func: Aggregate, star: bool, args: &[Value]) -> Result<Value, Error> {
    let present = args.iter().filter(|v| **v != Value::Null);
    Ok(match func {
        Aggregate::Count if star => Value::Integer(args.len() as i64),
        Aggregate::Count => Value::Integer(present.count() as i64),
        Aggregate::Sum | Aggregate::Avg => {
            let mut sum = Sum::default();
            for v in args {
                sum.add(v)?;
            }
            if func == Aggregate::Sum {
                sum.sum()?
            } else {
                sum.avg()
            }
        }
        // The first of equal values wins, as in SQLite (1 and 1.0 are equal).
        Aggregate::Min => present
            .fold(None, |best: Option<&Value>, v| match best {
                Some(b) if compare(v, b) != Ordering::Less => Some(b),
                _ => Some(v),
            })
            .cloned()
            .unwrap_or(Value::Null),
        Aggregate::Max => present
            .fold(None, |best: Option<&Value>, v| match best {
                Some(b) if compare(v, b) != Ordering::Greater => Some(b),
                _ => Some(v),
            })
            .cloned()
            .unwrap_or(Value::Null),
    })
}
