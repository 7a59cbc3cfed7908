//! The front of a small SQL engine: a tokenizer and a recursive-descent parser for a subset of
//! SQLite's SQL (CREATE TABLE, INSERT, SELECT), producing the syntax tree the next scene runs.
//!
//! Read README.md first. Fill in every `todo!()`, then run `cargo grade`.

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
    let mut parser = Parser::new(sql)?;
    let statement = parser.statement()?;
    parser.eat_symbol(";");
    parser.end()?;
    Ok(statement)
}

/// Parses the whole text as one expression (no `;`), with the errors of [`parse`].
pub fn parse_expr(sql: &str) -> Result<Expr, SqlError> {
    let mut parser = Parser::new(sql)?;
    let expr = parser.expr()?;
    parser.end()?;
    Ok(expr)
}

// ---- the tokenizer ----

/// The words the subset reserves: they cannot name a table or a column unless quoted.
const KEYWORDS: &[&str] = &[
    "AND", "ASC", "BY", "CREATE", "DESC", "FROM", "INSERT", "INTO", "IS", "KEY", "LIMIT", "NOT",
    "NULL", "OFFSET", "OR", "ORDER", "PRIMARY", "SELECT", "TABLE", "VALUES", "WHERE",
];

/// The operators and punctuation, longest first so that `<=` is not read as `<` then `=`.
const SYMBOLS: &[&str] = &[
    "<=", ">=", "==", "!=", "<>", "(", ")", ",", ";", "*", "+", "-", "/", "%", "=", "<", ">",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A reserved word, in upper case.
    Keyword(&'static str),
    /// A plain name as written, or a quoted one without its quotes.
    Name {
        name: String,
        quoted: bool,
    },
    /// Digits alone. Kept as u64 so that 9223372036854775808 can follow a minus as i64::MIN;
    /// bigger values are already `Real`.
    Int(u64),
    Real(f64),
    Text(String),
    Symbol(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    at: usize,
    len: usize,
}

fn error(kind: ErrorKind, at: usize, message: impl Into<String>) -> SqlError {
    SqlError {
        kind,
        at,
        message: message.into(),
    }
}

fn tokenize(sql: &str) -> Result<Vec<Token>, SqlError> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'\'' | b'"' => {
                // Quoted: a doubled quote stands for one; the token ends at a single one.
                let mut text = String::new();
                i += 1;
                loop {
                    let Some(offset) = sql[i..].find(c as char) else {
                        let what = if c == b'\'' { "string" } else { "quoted name" };
                        return Err(error(
                            ErrorKind::Unterminated,
                            start,
                            format!("unterminated {what}: no closing {}", c as char),
                        ));
                    };
                    text.push_str(&sql[i..i + offset]);
                    i += offset + 1;
                    if bytes.get(i) == Some(&c) {
                        text.push(c as char);
                        i += 1;
                    } else {
                        break;
                    }
                }
                if c == b'\'' {
                    Tok::Text(text)
                } else {
                    Tok::Name {
                        name: text,
                        quoted: true,
                    }
                }
            }
            b'0'..=b'9' | b'.' if c != b'.' || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number_end(bytes, i);
                // A number runs straight into a name: `1abc`, `1e` (an exponent without digits).
                if bytes.get(i).is_some_and(|&b| is_name_byte(b) || b >= 0x80) {
                    return Err(error(
                        ErrorKind::BadToken,
                        start,
                        "a number must not run into letters",
                    ));
                }
                let text = &sql[start..i];
                match text.parse::<u64>() {
                    Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => {
                        if n <= 1 << 63 {
                            Tok::Int(n)
                        } else {
                            Tok::Real(n as f64)
                        }
                    }
                    // Digits too many for a u64, or a fraction or an exponent: a real.
                    _ => Tok::Real(text.parse().expect("a number's text parses as f64")),
                }
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                while bytes.get(i).is_some_and(|&b| is_name_byte(b)) {
                    i += 1;
                }
                let word = &sql[start..i];
                match KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(word)) {
                    Some(keyword) => Tok::Keyword(keyword),
                    None => Tok::Name {
                        name: word.to_string(),
                        quoted: false,
                    },
                }
            }
            _ => match SYMBOLS.iter().find(|s| sql[i..].starts_with(*s)) {
                Some(symbol) => {
                    i += symbol.len();
                    Tok::Symbol(symbol)
                }
                None => {
                    let shown = sql[i..].chars().next().expect("i is inside the text");
                    return Err(error(
                        ErrorKind::BadToken,
                        start,
                        format!("unrecognized character {shown:?}"),
                    ));
                }
            },
        };
        tokens.push(Token {
            tok,
            at: start,
            len: i - start,
        });
    }
    Ok(tokens)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where the number starting at `i` ends: digits, an optional fraction, an optional exponent
/// (taken only when digits follow the `e` and its sign).
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    i = digits(i);
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            i = digits(j);
        }
    }
    i
}

// ---- the parser ----

struct Parser<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(sql: &'a str) -> Result<Parser<'a>, SqlError> {
        Ok(Parser {
            sql,
            tokens: tokenize(sql)?,
            pos: 0,
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    /// The error for the token at hand: `Unexpected` at its start, or `Incomplete` at the end
    /// of the text when there is none.
    fn unexpected(&self, expected: &str) -> SqlError {
        match self.tokens.get(self.pos) {
            Some(token) => error(
                ErrorKind::Unexpected,
                token.at,
                format!(
                    "unexpected {:?}: expected {expected}",
                    &self.sql[token.at..token.at + token.len]
                ),
            ),
            None => error(
                ErrorKind::Incomplete,
                self.sql.len(),
                format!("the statement ends too early: expected {expected}"),
            ),
        }
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.sql.len(), |t| t.at)
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek() == Some(&Tok::Keyword(keyword_of(keyword))) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), SqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected(keyword))
        }
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Symbol(s)) if *s == symbol) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn symbol(&mut self, symbol: &str) -> Result<(), SqlError> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("{symbol:?}")))
        }
    }

    fn name(&mut self, what: &str) -> Result<String, SqlError> {
        match self.peek() {
            Some(Tok::Name { name, .. }) => {
                let name = name.clone();
                self.pos += 1;
                Ok(name)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn end(&self) -> Result<(), SqlError> {
        match self.tokens.get(self.pos) {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the statement")),
        }
    }

    fn statement(&mut self) -> Result<Statement, SqlError> {
        match self.peek() {
            Some(Tok::Keyword("CREATE")) => self.create_table().map(Statement::CreateTable),
            Some(Tok::Keyword("INSERT")) => self.insert().map(Statement::Insert),
            Some(Tok::Keyword("SELECT")) => self.select().map(Statement::Select),
            _ => Err(self.unexpected("CREATE, INSERT or SELECT")),
        }
    }

    fn create_table(&mut self) -> Result<CreateTable, SqlError> {
        self.keyword("CREATE")?;
        self.keyword("TABLE")?;
        let name = self.name("a table name")?;
        self.symbol("(")?;
        let mut columns: Vec<Column> = Vec::new();
        loop {
            let name_at = self.at();
            let name = self.name("a column name")?;
            // SQLite compares names without regard to ASCII case: `a` and `A` are one column.
            if columns.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
                return Err(error(
                    ErrorKind::Invalid,
                    name_at,
                    format!("duplicate column name {name:?}"),
                ));
            }
            let ty = match self.peek() {
                Some(Tok::Name {
                    name,
                    quoted: false,
                }) => match name.to_ascii_uppercase().as_str() {
                    "INTEGER" => Some(Type::Integer),
                    "TEXT" => Some(Type::Text),
                    "REAL" => Some(Type::Real),
                    _ => None,
                },
                _ => None,
            };
            let Some(ty) = ty else {
                return Err(self.unexpected("INTEGER, TEXT or REAL"));
            };
            self.pos += 1;
            let primary_at = self.at();
            let primary_key = self.eat_keyword("PRIMARY");
            if primary_key {
                self.keyword("KEY")?;
                // Checked after KEY, so that `PRIMARY` followed by anything else is a syntax
                // error there rather than this one.
                if ty != Type::Integer {
                    return Err(error(
                        ErrorKind::Invalid,
                        primary_at,
                        "only an INTEGER column can be the PRIMARY KEY",
                    ));
                }
                if columns.iter().any(|c| c.primary_key) {
                    return Err(error(
                        ErrorKind::Invalid,
                        primary_at,
                        "a table has at most one PRIMARY KEY",
                    ));
                }
            }
            columns.push(Column {
                name,
                ty,
                primary_key,
            });
            if !self.eat_symbol(",") {
                break;
            }
        }
        self.symbol(")")?;
        Ok(CreateTable { name, columns })
    }

    fn insert(&mut self) -> Result<Insert, SqlError> {
        self.keyword("INSERT")?;
        self.keyword("INTO")?;
        let table = self.name("a table name")?;
        let mut columns = Vec::new();
        if self.eat_symbol("(") {
            loop {
                columns.push(self.name("a column name")?);
                if !self.eat_symbol(",") {
                    break;
                }
            }
            self.symbol(")")?;
        }
        self.keyword("VALUES")?;
        let mut rows: Vec<Vec<Expr>> = Vec::new();
        loop {
            let row_at = self.at();
            self.symbol("(")?;
            let mut row = Vec::new();
            loop {
                row.push(self.expr()?);
                if !self.eat_symbol(",") {
                    break;
                }
            }
            self.symbol(")")?;
            // Judged once the row is whole: the first row against the column list, the others
            // against the first row.
            let want = rows.first().map_or(columns.len(), Vec::len);
            if want != 0 && row.len() != want {
                return Err(error(
                    ErrorKind::Invalid,
                    row_at,
                    format!("this row has {} values, where {want} are needed", row.len()),
                ));
            }
            rows.push(row);
            if !self.eat_symbol(",") {
                break;
            }
        }
        Ok(Insert {
            table,
            columns,
            rows,
        })
    }

    fn select(&mut self) -> Result<Select, SqlError> {
        self.keyword("SELECT")?;
        let mut items = Vec::new();
        loop {
            if self.eat_symbol("*") {
                items.push(SelectItem::All);
            } else {
                items.push(SelectItem::Expr(self.expr()?));
            }
            if !self.eat_symbol(",") {
                break;
            }
        }
        self.keyword("FROM")?;
        let from = self.name("a table name")?;
        let filter = if self.eat_keyword("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.eat_keyword("ORDER") {
            self.keyword("BY")?;
            loop {
                let expr = self.expr()?;
                let descending = if self.eat_keyword("DESC") {
                    true
                } else {
                    self.eat_keyword("ASC");
                    false
                };
                order_by.push(OrderBy { expr, descending });
                if !self.eat_symbol(",") {
                    break;
                }
            }
        }
        let (mut limit, mut offset) = (None, None);
        if self.eat_keyword("LIMIT") {
            limit = Some(self.count()?);
            if self.eat_keyword("OFFSET") {
                offset = Some(self.count()?);
            }
        }
        Ok(Select {
            items,
            from,
            filter,
            order_by,
            limit,
            offset,
        })
    }

    /// LIMIT's and OFFSET's number: an integer literal, at most i64::MAX.
    fn count(&mut self) -> Result<i64, SqlError> {
        match self.peek() {
            Some(&Tok::Int(n)) if n <= i64::MAX as u64 => {
                self.pos += 1;
                Ok(n as i64)
            }
            _ => Err(self.unexpected("an integer")),
        }
    }

    // Expressions: one function per level of precedence, loosest first. Each parses its
    // operands with the next, tighter, level, and loops for a left-associative chain.

    fn expr(&mut self) -> Result<Expr, SqlError> {
        self.or()
    }

    fn or(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR") {
            left = binary(Op::Or, left, self.and()?);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND") {
            left = binary(Op::And, left, self.not()?);
        }
        Ok(left)
    }

    /// NOT binds looser than comparisons: `NOT a = b` is `NOT (a = b)`.
    fn not(&mut self) -> Result<Expr, SqlError> {
        if self.eat_keyword("NOT") {
            Ok(unary(Op::Not, self.not()?))
        } else {
            self.equality()
        }
    }

    /// `=`, `==`, `!=`, `<>` and `IS [NOT] NULL`, one level, left to right.
    fn equality(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.comparison()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Symbol("=" | "==")) => Op::Eq,
                Some(Tok::Symbol("!=" | "<>")) => Op::NotEq,
                Some(Tok::Keyword("IS")) => {
                    self.pos += 1;
                    let op = if self.eat_keyword("NOT") {
                        Op::IsNotNull
                    } else {
                        Op::IsNull
                    };
                    self.keyword("NULL")?;
                    left = unary(op, left);
                    continue;
                }
                _ => return Ok(left),
            };
            self.pos += 1;
            left = binary(op, left, self.comparison()?);
        }
    }

    /// `<`, `<=`, `>`, `>=`: tighter than `=` in SQLite, so `a = b < c` is `a = (b < c)`.
    fn comparison(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.sum()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Symbol("<")) => Op::Lt,
                Some(Tok::Symbol("<=")) => Op::LtEq,
                Some(Tok::Symbol(">")) => Op::Gt,
                Some(Tok::Symbol(">=")) => Op::GtEq,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = binary(op, left, self.sum()?);
        }
    }

    fn sum(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.product()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Symbol("+")) => Op::Add,
                Some(Tok::Symbol("-")) => Op::Sub,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = binary(op, left, self.product()?);
        }
    }

    fn product(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Symbol("*")) => Op::Mul,
                Some(Tok::Symbol("/")) => Op::Div,
                Some(Tok::Symbol("%")) => Op::Mod,
                _ => return Ok(left),
            };
            self.pos += 1;
            left = binary(op, left, self.unary()?);
        }
    }

    /// Unary minus binds tightest: `-a * b` is `(-a) * b`.
    fn unary(&mut self) -> Result<Expr, SqlError> {
        if !self.eat_symbol("-") {
            return self.primary();
        }
        // 9223372036854775808 is one past i64::MAX: alone it is a real, but right after a
        // minus it is i64::MIN, as in SQLite.
        if self.peek() == Some(&Tok::Int(1 << 63)) {
            self.pos += 1;
            return Ok(Expr::Integer(i64::MIN));
        }
        Ok(unary(Op::Neg, self.unary()?))
    }

    fn primary(&mut self) -> Result<Expr, SqlError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.unexpected("an expression"));
        };
        let expr = match tok {
            Tok::Int(n) => match i64::try_from(n) {
                Ok(n) => Expr::Integer(n),
                Err(_) => Expr::Real(n as f64),
            },
            Tok::Real(x) => Expr::Real(x),
            Tok::Text(text) => Expr::Text(text),
            Tok::Keyword("NULL") => Expr::Null,
            Tok::Symbol("(") => {
                self.pos += 1;
                let inner = self.expr()?;
                self.symbol(")")?;
                return Ok(inner);
            }
            Tok::Name { name, quoted } => {
                let func = match name.to_ascii_uppercase().as_str() {
                    _ if quoted => None,
                    "COUNT" => Some(Aggregate::Count),
                    "SUM" => Some(Aggregate::Sum),
                    "MIN" => Some(Aggregate::Min),
                    "MAX" => Some(Aggregate::Max),
                    "AVG" => Some(Aggregate::Avg),
                    _ => None,
                };
                // An aggregate's name is a name like any other unless a `(` follows it: a
                // column may be called `count`.
                let call =
                    matches!(self.tokens.get(self.pos + 1), Some(t) if t.tok == Tok::Symbol("("));
                match func {
                    Some(func) if call => {
                        self.pos += 2;
                        let args = if func == Aggregate::Count && self.eat_symbol("*") {
                            Vec::new()
                        } else {
                            vec![self.expr()?]
                        };
                        self.symbol(")")?;
                        return Ok(Expr::Aggregate { func, args });
                    }
                    _ => Expr::Column(name),
                }
            }
            _ => return Err(self.unexpected("an expression")),
        };
        self.pos += 1;
        Ok(expr)
    }
}

fn keyword_of(word: &str) -> &'static str {
    KEYWORDS
        .iter()
        .find(|k| **k == word)
        .expect("the parser asks only for keywords of the list")
}

fn unary(op: Op, operand: Expr) -> Expr {
    Expr::Op {
        op,
        args: vec![operand],
    }
}

fn binary(op: Op, left: Expr, right: Expr) -> Expr {
    Expr::Op {
        op,
        args: vec![left, right],
    }
}
