//! Hidden checks for btree/sql-front.
//!
//! The contract is SQLite's: generated statements are written out as SQL (with as few
//! parentheses as precedence allows), parsed by the learner, and the learner's tree is written
//! back with every parenthesis; both texts run in SQLite and must give the same rows. A parser
//! kept in this file (the README's rules) says what the tree and each error must be exactly.

use std::cell::Cell;
use std::fmt;

use btree_sql_front::{
    Aggregate, Column, CreateTable, ErrorKind, Expr, Insert, Op, OrderBy, Select, SelectItem,
    SqlError, Statement, Type, parse, parse_expr,
};
use judge::prelude::*;
use kit::rusqlite::{self, Connection, types::ValueRef};

pub fn suite() -> Suite {
    Suite::new()
        .check(
            "the README's statements parse to the README's trees",
            golden,
        )
        .check(
            "every pair of operators nests by SQLite's precedence (NOT looser than =, AND \
             tighter than OR, < tighter than =, unary minus tightest), and each level groups \
             from the left: a - b - c is (a - b) - c",
            precedence,
        )
        .check(
            "literals: integers up to i64::MAX, bigger ones are reals, -9223372036854775808 is \
             i64::MIN; reals in every spelling; strings with '' inside; NULL; a minus is an \
             operator, never part of a number",
            literals,
        )
        .check(
            "names: plain ones as written, \"quoted\" ones with \"\" inside and keywords in \
             quotes; count, sum, text and integer are names unless they are called or typed",
            names,
        )
        .check(
            "keywords and type names are read in any case: select, Select and SELECT are one",
            keyword_case,
        )
        .check(
            "CREATE TABLE, INSERT and SELECT in every form the README gives: column lists, \
             several rows, *, ORDER BY with ASC and DESC, LIMIT with and without OFFSET, a \
             final ;",
            statements,
        )
        .check(
            "each error of the README's tables has its kind, at its offset: bad characters, \
             unterminated quotes, the first token no statement can continue with, an early end, \
             and what the subset forbids",
            errors,
        )
        .check(
            "big inputs: a string and a name of 70,000 bytes, a chain of 1,000 minuses, 200 \
             parentheses and 200 NOTs nested, 1,000 rows in one INSERT",
            big_inputs,
        )
        .check(
            "generated tables, rows and queries: your tree, written back as SQL with every \
             parenthesis, gives SQLite the same rows as the text you parsed, and is the \
             README's tree (at least 200 queries)",
            differential,
        )
        .check(
            "statements with a token dropped, doubled, swapped or added, or a stray character: \
             what SQLite refuses as a syntax error you refuse, and every answer (tree, or error \
             kind and offset) is the README's",
            damaged,
        )
}

// ---- trees written out ----

/// SQL for a tree with every parenthesis written and every name quoted: what SQLite runs for
/// the learner's tree, and how a message shows it.
fn full(expr: &Expr) -> String {
    match expr {
        Expr::Null => "NULL".into(),
        Expr::Integer(n) if *n < 0 => format!("({n})"),
        Expr::Integer(n) => n.to_string(),
        Expr::Real(x) if x.is_nan() => "NULL".into(),
        Expr::Real(x) if x.is_infinite() => if *x > 0.0 { "1e999" } else { "(-1e999)" }.into(),
        Expr::Real(x) if *x < 0.0 || (*x == 0.0 && x.is_sign_negative()) => format!("({x:?})"),
        Expr::Real(x) => format!("{x:?}"),
        Expr::Text(text) => quote_text(text),
        Expr::Column(name) => quote_name(name),
        Expr::Op { op, args } => match (op, args.as_slice()) {
            // Parenthesised even around a number, so that -(5) reads apart from the literal -5
            // (which only i64::MIN may be).
            (Op::Neg, [x]) => format!("(-({}))", full(x)),
            (Op::Not, [x]) => format!("(NOT {})", full(x)),
            (Op::IsNull | Op::IsNotNull, [x]) => format!("({} {})", full(x), op_text(*op)),
            (op, [left, right]) if binary_op(*op) => {
                format!("({} {} {})", full(left), op_text(*op), full(right))
            }
            // The wrong number of operands: written so that SQLite refuses it.
            (op, args) => format!("{op:?}!({})", list(args, full)),
        },
        Expr::Aggregate { func, args } => match args.as_slice() {
            [] => format!("{}(*)", func_text(*func)),
            args => format!("{}({})", func_text(*func), list(args, full)),
        },
    }
}

fn full_statement(statement: &Statement) -> String {
    match statement {
        Statement::CreateTable(create) => {
            let columns: Vec<String> = create
                .columns
                .iter()
                .map(|c| {
                    let key = if c.primary_key { " PRIMARY KEY" } else { "" };
                    format!("{} {}{key}", quote_name(&c.name), type_text(c.ty))
                })
                .collect();
            format!(
                "CREATE TABLE {} ({})",
                quote_name(&create.name),
                columns.join(", ")
            )
        }
        Statement::Insert(insert) => {
            let mut sql = format!("INSERT INTO {}", quote_name(&insert.table));
            if !insert.columns.is_empty() {
                let names: Vec<String> = insert.columns.iter().map(|c| quote_name(c)).collect();
                sql += &format!(" ({})", names.join(", "));
            }
            let rows: Vec<String> = insert
                .rows
                .iter()
                .map(|row| {
                    let values: Vec<String> = row.iter().map(full).collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            sql + " VALUES " + &rows.join(", ")
        }
        Statement::Select(select) => {
            let items: Vec<String> = select
                .items
                .iter()
                .map(|item| match item {
                    SelectItem::All => "*".to_string(),
                    SelectItem::Expr(expr) => full(expr),
                })
                .collect();
            let mut sql = format!(
                "SELECT {} FROM {}",
                items.join(", "),
                quote_name(&select.from)
            );
            if let Some(filter) = &select.filter {
                sql += &format!(" WHERE {}", full(filter));
            }
            if !select.order_by.is_empty() {
                let terms: Vec<String> = select
                    .order_by
                    .iter()
                    .map(|o| {
                        format!(
                            "{}{}",
                            full(&o.expr),
                            if o.descending { " DESC" } else { "" }
                        )
                    })
                    .collect();
                sql += &format!(" ORDER BY {}", terms.join(", "));
            }
            if let Some(limit) = select.limit {
                sql += &format!(" LIMIT {limit}");
            }
            if let Some(offset) = select.offset {
                // An OFFSET without a LIMIT is no statement SQLite reads: show it anyway.
                if select.limit.is_none() {
                    sql += " LIMIT -1";
                }
                sql += &format!(" OFFSET {offset}");
            }
            sql
        }
    }
}

/// A tree as a short S-expression, for the scripted checks: `(- (- a b) c)`.
fn sexpr(expr: &Expr) -> String {
    match expr {
        Expr::Null => "NULL".into(),
        Expr::Integer(n) => n.to_string(),
        Expr::Real(x) => format!("{x:?}"),
        Expr::Text(text) => format!("{text:?}"),
        Expr::Column(name) => name.clone(),
        Expr::Op { op, args } => {
            let name = match op {
                Op::Neg => "neg",
                Op::Not => "not",
                Op::IsNull => "isnull",
                Op::IsNotNull => "notnull",
                op => op_text(*op),
            };
            let args: Vec<String> = args.iter().map(sexpr).collect();
            format!("({name} {})", args.join(" "))
        }
        Expr::Aggregate { func, args } => {
            let args: Vec<String> = args.iter().map(sexpr).collect();
            let args = if args.is_empty() {
                "*".to_string()
            } else {
                args.join(" ")
            };
            format!("({} {args})", func_text(*func).to_lowercase())
        }
    }
}

fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quote_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn list(exprs: &[Expr], each: fn(&Expr) -> String) -> String {
    exprs.iter().map(each).collect::<Vec<_>>().join(", ")
}

fn binary_op(op: Op) -> bool {
    !matches!(op, Op::Neg | Op::Not | Op::IsNull | Op::IsNotNull)
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Neg => "-",
        Op::Not => "NOT",
        Op::IsNull => "IS NULL",
        Op::IsNotNull => "IS NOT NULL",
        Op::Or => "OR",
        Op::And => "AND",
        Op::Eq => "=",
        Op::NotEq => "!=",
        Op::Lt => "<",
        Op::LtEq => "<=",
        Op::Gt => ">",
        Op::GtEq => ">=",
        Op::Add => "+",
        Op::Sub => "-",
        Op::Mul => "*",
        Op::Div => "/",
        Op::Mod => "%",
    }
}

fn func_text(func: Aggregate) -> &'static str {
    match func {
        Aggregate::Count => "COUNT",
        Aggregate::Sum => "SUM",
        Aggregate::Min => "MIN",
        Aggregate::Max => "MAX",
        Aggregate::Avg => "AVG",
    }
}

fn type_text(ty: Type) -> &'static str {
    match ty {
        Type::Integer => "INTEGER",
        Type::Text => "TEXT",
        Type::Real => "REAL",
    }
}

/// The level of an operator in the README's table: 1 is the loosest.
fn level(op: Op) -> u8 {
    match op {
        Op::Not => NOT_LEVEL,
        Op::IsNull | Op::IsNotNull => IS_LEVEL,
        Op::Neg => NEG_LEVEL,
        Op::Or => 1,
        Op::And => 2,
        Op::Eq | Op::NotEq => 4,
        Op::Lt | Op::LtEq | Op::Gt | Op::GtEq => 5,
        Op::Add | Op::Sub => 6,
        Op::Mul | Op::Div | Op::Mod => 7,
    }
}

const NOT_LEVEL: u8 = 3;
const IS_LEVEL: u8 = 4;
const NEG_LEVEL: u8 = 8;
const PRIMARY_LEVEL: u8 = 9;

// ---- what parse answered, compared without the message ----

/// An answer of `parse` or `parse_expr`: equal when the trees are, or when the errors have
/// the same kind and offset (the message is for people and is not compared).
struct Answer<T>(Result<T, SqlError>);

impl<T: PartialEq> PartialEq for Answer<T> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Ok(a), Ok(b)) => a == b,
            (Err(a), Err(b)) => a.kind == b.kind && a.at == b.at,
            _ => false,
        }
    }
}

impl fmt::Debug for Answer<Statement> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(statement) => write!(f, "Ok: {}", full_statement(statement)),
            Err(e) => write!(f, "Err({:?} at {})", e.kind, e.at),
        }
    }
}

impl fmt::Debug for Answer<Expr> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(expr) => write!(f, "Ok: {}", sexpr(expr)),
            Err(e) => write!(f, "Err({:?} at {})", e.kind, e.at),
        }
    }
}

fn refused(kind: ErrorKind, at: usize) -> SqlError {
    SqlError {
        kind,
        at,
        message: String::new(),
    }
}

/// The learner's parse of `sql`; an error must carry a message.
fn learner(sql: &str) -> Result<Answer<Statement>, String> {
    let got = parse(sql);
    if let Err(e) = &got
        && e.message.trim().is_empty()
    {
        return Err(format!(
            "did:      parse({sql:?})\ngot:      Err({:?} at {}) with an empty message: say what \
             was found and what was expected",
            e.kind, e.at
        ));
    }
    Ok(Answer(got))
}

fn expect_statement(sql: &str, expected: Result<Statement, SqlError>) -> CheckResult {
    let got = learner(sql).map_err(Failure::new)?;
    expect_answer(sql, got, Answer(expected))
}

/// Compares answers to `parse(sql)`; an error is shown with the text at its offset.
fn expect_answer(sql: &str, got: Answer<Statement>, expected: Answer<Statement>) -> CheckResult {
    if got == expected {
        return Ok(());
    }
    let show = |answer: &Answer<Statement>| match &answer.0 {
        Ok(_) => format!("{answer:?}"),
        Err(e) => format!("Err({:?} at {}{})", e.kind, e.at, there(sql, e.at)),
    };
    fail(format!(
        "did:      parse({sql:?})\nexpected: {}\ngot:      {}",
        show(&expected),
        show(&got)
    ))
}

/// What the text holds at an offset, for a message: `, before "b FROM t"`, or `, the end`.
fn there(sql: &str, at: usize) -> String {
    match sql.get(at..) {
        Some("") => ", at the end".to_string(),
        Some(rest) => format!(", before {:?}", cut_to(rest, 16)),
        None => ", past the end or inside a character".to_string(),
    }
}

/// A long text cut to its first characters.
fn cut_to(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// Checks `parse_expr(sql)` against a tree given as an S-expression, or an error.
fn expect_expr(sql: &str, expected: Result<&str, (ErrorKind, usize)>) -> CheckResult {
    let got = parse_expr(sql);
    let shown = match &got {
        Ok(expr) => Ok(sexpr(expr)),
        Err(e) => Err((e.kind, e.at)),
    };
    let expected = expected.map(str::to_string);
    if shown == expected {
        return Ok(());
    }
    let show = |answer: &Result<String, (ErrorKind, usize)>| match answer {
        Ok(tree) => format!("Ok: {tree}"),
        Err((kind, at)) => format!("Err({kind:?} at {at}{})", there(sql, *at)),
    };
    fail(format!(
        "did:      parse_expr({sql:?})   (trees written as (op left right))\nexpected: {}\ngot:      {}",
        show(&expected),
        show(&shown)
    ))
}

// ---- the scripted checks ----

fn col(name: &str) -> Expr {
    Expr::Column(name.into())
}

fn int(n: i64) -> Expr {
    Expr::Integer(n)
}

fn bin(op: Op, left: Expr, right: Expr) -> Expr {
    Expr::Op {
        op,
        args: vec![left, right],
    }
}

fn un(op: Op, operand: Expr) -> Expr {
    Expr::Op {
        op,
        args: vec![operand],
    }
}

fn golden(_: &mut Ctx) -> CheckResult {
    let filter = bin(
        Op::Or,
        un(Op::Not, bin(Op::Eq, col("a"), int(1))),
        bin(
            Op::Lt,
            col("b"),
            bin(Op::Mul, int(2), un(Op::Neg, col("c"))),
        ),
    );
    expect_statement(
        "SELECT a FROM t WHERE NOT a = 1 OR b < 2 * -c",
        Ok(Statement::Select(Select {
            items: vec![SelectItem::Expr(col("a"))],
            from: "t".into(),
            filter: Some(filter),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        })),
    )?;
    expect_statement(
        "INSERT INTO t (a, b) VALUES (1, 'x'), (2, NULL)",
        Ok(Statement::Insert(Insert {
            table: "t".into(),
            columns: vec!["a".into(), "b".into()],
            rows: vec![
                vec![int(1), Expr::Text("x".into())],
                vec![int(2), Expr::Null],
            ],
        })),
    )?;
    expect_statement(
        "SELECT *, COUNT(x) FROM t ORDER BY a DESC, b LIMIT 5 OFFSET 2",
        Ok(Statement::Select(Select {
            items: vec![
                SelectItem::All,
                SelectItem::Expr(Expr::Aggregate {
                    func: Aggregate::Count,
                    args: vec![col("x")],
                }),
            ],
            from: "t".into(),
            filter: None,
            order_by: vec![
                OrderBy {
                    expr: col("a"),
                    descending: true,
                },
                OrderBy {
                    expr: col("b"),
                    descending: false,
                },
            ],
            limit: Some(5),
            offset: Some(2),
        })),
    )?;
    expect_statement(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, price REAL)",
        Ok(Statement::CreateTable(CreateTable {
            name: "t".into(),
            columns: vec![
                Column {
                    name: "id".into(),
                    ty: Type::Integer,
                    primary_key: true,
                },
                Column {
                    name: "name".into(),
                    ty: Type::Text,
                    primary_key: false,
                },
                Column {
                    name: "price".into(),
                    ty: Type::Real,
                    primary_key: false,
                },
            ],
        })),
    )
}

const ALL_OPS: [Op; 13] = [
    Op::Or,
    Op::And,
    Op::Eq,
    Op::NotEq,
    Op::Lt,
    Op::LtEq,
    Op::Gt,
    Op::GtEq,
    Op::Add,
    Op::Sub,
    Op::Mul,
    Op::Div,
    Op::Mod,
];

fn precedence(_: &mut Ctx) -> CheckResult {
    // The README's own examples first.
    let cases: &[(&str, &str)] = &[
        ("a - b - c", "(- (- a b) c)"),
        ("a / b / c", "(/ (/ a b) c)"),
        ("a - b + c", "(+ (- a b) c)"),
        ("NOT a = b", "(not (= a b))"),
        ("a OR b AND c", "(OR a (AND b c))"),
        ("a AND b OR c", "(OR (AND a b) c)"),
        ("a = b < c", "(= a (< b c))"),
        ("a < b = c", "(= (< a b) c)"),
        ("-a * b", "(* (neg a) b)"),
        ("- - a", "(neg (neg a))"),
        ("NOT NOT a", "(not (not a))"),
        ("NOT a AND b", "(AND (not a) b)"),
        ("a AND NOT b", "(AND a (not b))"),
        ("a IS NULL = 0", "(= (isnull a) 0)"),
        ("a = b IS NULL", "(isnull (= a b))"),
        ("a < b IS NOT NULL", "(notnull (< a b))"),
        ("a IS NULL IS NOT NULL", "(notnull (isnull a))"),
        ("NOT a IS NULL", "(not (isnull a))"),
        ("a + b IS NULL AND c", "(AND (isnull (+ a b)) c)"),
        ("(a OR b) AND c", "(AND (OR a b) c)"),
        ("a - (b - c)", "(- a (- b c))"),
        ("-(a + b)", "(neg (+ a b))"),
        ("a * -b", "(* a (neg b))"),
        ("a - -b", "(- a (neg b))"),
        ("((a))", "a"),
        ("1 + 2 * 3 - 4 / 5 % 6", "(- (+ 1 (* 2 3)) (% (/ 4 5) 6))"),
        ("a == b <> c != d", "(!= (!= (= a b) c) d)"),
        ("a <= b >= c > d", "(> (>= (<= a b) c) d)"),
        ("COUNT(*) + 1", "(+ (count *) 1)"),
        ("SUM(a - b) * 2", "(* (sum (- a b)) 2)"),
    ];
    for (sql, tree) in cases {
        expect_expr(sql, Ok(tree))?;
    }
    // Every pair of binary operators, in both orders: the looser one is the root.
    for first in ALL_OPS {
        for second in ALL_OPS {
            let sql = format!("a {} b {} c", op_text(first), op_text(second));
            let tree = if level(first) >= level(second) {
                format!("({} ({} a b) c)", op_text(second), op_text(first))
            } else {
                format!("({} a ({} b c))", op_text(first), op_text(second))
            };
            expect_expr(&sql, Ok(&tree))?;
        }
        // Each operator against the prefixes and IS NULL.
        let op = op_text(first);
        let tree = if level(first) > NOT_LEVEL {
            format!("(not ({op} a b))")
        } else {
            format!("({op} (not a) b)")
        };
        expect_expr(&format!("NOT a {op} b"), Ok(&tree))?;
        expect_expr(&format!("-a {op} b"), Ok(&format!("({op} (neg a) b)")))?;
        expect_expr(&format!("a {op} -b"), Ok(&format!("({op} a (neg b))")))?;
        let tree = if level(first) >= IS_LEVEL {
            format!("(isnull ({op} a b))")
        } else {
            format!("({op} a (isnull b))")
        };
        expect_expr(&format!("a {op} b IS NULL"), Ok(&tree))?;
        if level(first) <= IS_LEVEL {
            expect_expr(
                &format!("a IS NOT NULL {op} b"),
                Ok(&format!("({op} (notnull a) b)")),
            )?;
        } else {
            // SQLite reads a IS (NULL < b) here; the subset's IS takes NULL and nothing more.
            expect_expr(
                &format!("a IS NOT NULL {op} b"),
                Err((ErrorKind::Unexpected, 14)),
            )?;
        }
    }
    Ok(())
}

fn literals(_: &mut Ctx) -> CheckResult {
    let cases: &[(&str, &str)] = &[
        ("0", "0"),
        ("42", "42"),
        ("007", "7"),
        ("9223372036854775807", "9223372036854775807"),
        ("9223372036854775808", "9.223372036854776e18"),
        ("18446744073709551616", "1.8446744073709552e19"),
        ("100000000000000000000000", "1e23"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("- 9223372036854775808", "-9223372036854775808"),
        ("-9223372036854775807", "(neg 9223372036854775807)"),
        ("- -9223372036854775808", "(neg -9223372036854775808)"),
        ("-9223372036854775809", "(neg 9.223372036854776e18)"),
        ("-(9223372036854775808)", "(neg 9.223372036854776e18)"),
        ("-5", "(neg 5)"),
        ("a-1", "(- a 1)"),
        ("a -1", "(- a 1)"),
        ("2-1", "(- 2 1)"),
        ("1.5", "1.5"),
        ("1.", "1.0"),
        (".5", "0.5"),
        ("1e3", "1000.0"),
        ("1E3", "1000.0"),
        ("2.5e-3", "0.0025"),
        ("1e+2", "100.0"),
        ("0.0", "0.0"),
        ("1e400", "inf"),
        ("1.5.5", "ERR"),
        ("NULL", "NULL"),
        ("null", "NULL"),
    ];
    for &(sql, tree) in cases {
        if tree == "ERR" {
            // 1.5 then .5: two numbers in a row.
            expect_expr(sql, Err((ErrorKind::Unexpected, 3)))?;
        } else {
            expect_expr(sql, Ok(tree))?;
        }
    }
    // The text of a string is exact, quotes and all.
    for (sql, text) in [
        ("'abc'", "abc"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("''''", "'"),
        ("'a''''b'", "a''b"),
        ("' spaced '", " spaced "),
        (
            "'two\nlines, \"quoted\"; -- not a comment'",
            "two\nlines, \"quoted\"; -- not a comment",
        ),
        ("'é'", "é"),
    ] {
        expect_eq(
            format!("parse_expr({sql:?})"),
            Answer(parse_expr(sql)),
            Answer(Ok(Expr::Text(text.into()))),
        )?;
    }
    // LIMIT and OFFSET take integer literals up to i64::MAX.
    let select = |limit, offset| {
        Ok(Statement::Select(Select {
            items: vec![SelectItem::All],
            from: "t".into(),
            filter: None,
            order_by: Vec::new(),
            limit,
            offset,
        }))
    };
    expect_statement("SELECT * FROM t LIMIT 0", select(Some(0), None))?;
    expect_statement(
        "SELECT * FROM t LIMIT 9223372036854775807 OFFSET 9223372036854775807",
        select(Some(i64::MAX), Some(i64::MAX)),
    )?;
    expect_statement(
        "SELECT * FROM t LIMIT 9223372036854775808",
        Err(refused(ErrorKind::Unexpected, 22)),
    )?;
    expect_statement(
        "SELECT * FROM t LIMIT -1",
        Err(refused(ErrorKind::Unexpected, 22)),
    )
}

fn names(_: &mut Ctx) -> CheckResult {
    let cases: &[(&str, &str)] = &[
        ("price", "price"),
        ("Price", "Price"),
        ("_x1", "_x1"),
        ("\"order\"", "order"),
        ("\"SELECT\"", "SELECT"),
        ("\"my col\"", "my col"),
        ("\"a\"\"b\"", "a\"b"),
        ("\"\"\"\"", "\""),
        ("count", "count"),
        ("sum + 1", "(+ sum 1)"),
        ("text", "text"),
        ("integer", "integer"),
        ("Count(*)", "(count *)"),
        ("count (*)", "(count *)"),
        ("\"count\"", "count"),
        ("min(a) < max(b)", "(< (min a) (max b))"),
        ("avg(-a)", "(avg (neg a))"),
    ];
    for &(sql, tree) in cases {
        expect_expr(sql, Ok(tree))?;
    }
    // A quoted name is never an aggregate: "count"(x) is a name, then a parenthesis.
    expect_expr("\"count\"(x)", Err((ErrorKind::Unexpected, 7)))?;
    expect_expr("SUM(*)", Err((ErrorKind::Unexpected, 4)))?;
    expect_expr("order", Err((ErrorKind::Unexpected, 0)))?;
    expect_expr("key", Err((ErrorKind::Unexpected, 0)))?;
    // Every reserved word, in any case, is no name: quoted, it is one.
    for keyword in RESERVED {
        for word in casings(keyword) {
            let sql = format!("CREATE TABLE t ({word} INTEGER)");
            expect_statement(&sql, Err(refused(ErrorKind::Unexpected, 16)))?;
            let sql = format!("SELECT a FROM {word}");
            expect_statement(&sql, Err(refused(ErrorKind::Unexpected, 14)))?;
            expect_expr(&quote_name(&word), Ok(&word))?;
        }
    }
    // Names in a CREATE TABLE: a column may be called by a type's name, or a keyword in quotes.
    expect_statement(
        "CREATE TABLE \"select\" (text TEXT, \"key\" INTEGER, count real)",
        Ok(Statement::CreateTable(CreateTable {
            name: "select".into(),
            columns: vec![
                Column {
                    name: "text".into(),
                    ty: Type::Text,
                    primary_key: false,
                },
                Column {
                    name: "key".into(),
                    ty: Type::Integer,
                    primary_key: false,
                },
                Column {
                    name: "count".into(),
                    ty: Type::Real,
                    primary_key: false,
                },
            ],
        })),
    )?;
    // A quoted type is a name, not a type.
    expect_statement(
        "CREATE TABLE t (a \"INTEGER\")",
        Err(refused(ErrorKind::Unexpected, 18)),
    )
}

/// Every spelling of `word` in three cases.
fn casings(word: &str) -> [String; 3] {
    let mixed: String = word
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    [word.to_ascii_lowercase(), mixed, word.to_ascii_uppercase()]
}

fn keyword_case(_: &mut Ctx) -> CheckResult {
    let statements = [
        "SELECT a, COUNT(*) FROM t WHERE NOT a IS NOT NULL AND b = 1 OR c IS NULL ORDER BY a DESC, b ASC LIMIT 3 OFFSET 1",
        "INSERT INTO t (a) VALUES (NULL)",
        "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c REAL)",
    ];
    for sql in statements {
        let expected = reference::parse(sql);
        for casing in 0..3 {
            // Recase every word but the names a, b, c and t.
            let text: String = sql
                .split(' ')
                .map(|word| {
                    let bare = word.trim_matches(|c: char| !c.is_ascii_alphabetic());
                    if bare.len() <= 1 {
                        return word.to_string();
                    }
                    word.replace(bare, &casings(bare)[casing])
                })
                .collect::<Vec<_>>()
                .join(" ");
            expect_statement(&text, expected.clone())?;
        }
    }
    Ok(())
}

fn statements(_: &mut Ctx) -> CheckResult {
    let cases = [
        "CREATE TABLE t (a INTEGER)",
        "CREATE TABLE t (a TEXT, b REAL, c INTEGER PRIMARY KEY);",
        "CREATE TABLE t(a INTEGER,b TEXT)",
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (1, 'a', 2.5), (-2, NULL, 1e3), (3 + 4, 'b''c', -0.5);",
        "INSERT INTO t (b, a) VALUES ('x', 1)",
        "INSERT INTO t(a)VALUES(1),(2)",
        "SELECT * FROM t",
        "SELECT *, a, * FROM t;",
        "SELECT a + 1, -b, 'lit' FROM t WHERE a > 1 ORDER BY b",
        "SELECT a FROM t ORDER BY a ASC, b DESC, c",
        "SELECT a FROM t ORDER BY a + b DESC LIMIT 1",
        "SELECT a FROM t LIMIT 5 OFFSET 2",
        "SELECT a FROM t LIMIT 2 OFFSET 5",
        "SELECT a FROM t WHERE b LIMIT 0 OFFSET 0",
        "SELECT COUNT(*), COUNT(a), SUM(a), MIN(a), MAX(a), AVG(a) FROM t",
        "SELECT a FROM t WHERE a = 1;",
        "  \n\tSELECT\na\rFROM\x0ct  ",
    ];
    for sql in cases {
        let expected = reference::parse(sql);
        if expected.is_err() {
            return fail(format!(
                "the checks' own parser refuses {sql:?}: a bug in the checks"
            ));
        }
        expect_statement(sql, expected)?;
    }
    Ok(())
}

fn errors(_: &mut Ctx) -> CheckResult {
    use ErrorKind::*;
    let cases: &[(&str, ErrorKind, usize)] = &[
        // Tokens.
        ("SELECT @ FROM t", BadToken, 7),
        ("SELECT a FROM t WHERE a ! b", BadToken, 24),
        ("SELECT a FROM t WHERE a & b", BadToken, 24),
        ("SELECT a || b FROM t", BadToken, 9),
        ("SELECT t.a FROM t", BadToken, 8),
        ("SELECT 1abc FROM t", BadToken, 7),
        ("SELECT 1e FROM t", BadToken, 7),
        ("SELECT 1e+ FROM t", BadToken, 7),
        ("SELECT 2_0 FROM t", BadToken, 7),
        ("SELECT 1.5x FROM t", BadToken, 7),
        ("SELECT é FROM t", BadToken, 7),
        ("SELECT 'é' FROM t WHERE é", BadToken, 25),
        ("SELECT 1é FROM t", BadToken, 7),
        // A control character after a number is a bad character of its own, not the number's.
        ("SELECT 1\x7f FROM t", BadToken, 8),
        ("SELECT \x00 FROM t", BadToken, 7),
        ("SELECT [a] FROM t", BadToken, 7),
        ("SELECT `a` FROM t", BadToken, 7),
        ("SELECT a FROM t WHERE a = $1", BadToken, 26),
        // The tokenizer reads the whole text first: a bad character wins over a syntax error.
        ("SELECT a b FROM @", BadToken, 16),
        ("SELECT a b FROM 'open", Unterminated, 16),
        // Quotes.
        ("SELECT 'abc FROM t", Unterminated, 7),
        ("SELECT 'it''s FROM t", Unterminated, 7),
        ("SELECT 'abc'' FROM t", Unterminated, 7),
        ("SELECT \"abc FROM t", Unterminated, 7),
        ("SELECT a FROM t WHERE a = '", Unterminated, 26),
        ("'", Unterminated, 0),
        // Syntax: at the first token no statement can continue with.
        ("SELECT a b FROM t", Unexpected, 9),
        ("SELECT FROM t", Unexpected, 7),
        ("SELECT a, FROM t", Unexpected, 10),
        ("SELECT a FROM t WHERE", Incomplete, 21),
        ("SELECT a FROM t WHERE   ", Incomplete, 24),
        ("SELECT a FROM t LIMIT 1.5", Unexpected, 22),
        ("SELECT a FROM t LIMIT a", Unexpected, 22),
        ("SELECT a FROM t OFFSET 2", Unexpected, 16),
        ("SELECT a FROM t LIMIT 1 OFFSET", Incomplete, 30),
        ("SELECT a FROM t; x", Unexpected, 17),
        ("SELECT a FROM t;;", Unexpected, 16),
        ("SELECT a FROM t ORDER a", Unexpected, 22),
        ("SELECT a FROM t ORDER BY a DESC DESC", Unexpected, 32),
        ("SELECT a FROM t ORDER BY", Incomplete, 24),
        ("SELECT a FROM t WHERE a IS b", Unexpected, 27),
        ("SELECT a FROM t WHERE a IS NOT 1", Unexpected, 31),
        ("SELECT a FROM t WHERE a = NOT b", Unexpected, 26),
        ("SELECT a FROM t WHERE (a = 1", Incomplete, 28),
        ("SELECT a FROM t WHERE a = 1)", Unexpected, 27),
        ("SELECT COUNT( FROM t", Unexpected, 14),
        ("SELECT COUNT(*, a) FROM t", Unexpected, 14),
        ("SELECT MIN(a, b) FROM t", Unexpected, 12),
        ("SELECT COUNT() FROM t", Unexpected, 13),
        ("SELECT +a FROM t", Unexpected, 7),
        ("SELECT a FROM", Incomplete, 13),
        ("SELECT a FROM 1", Unexpected, 14),
        ("SELECT a", Incomplete, 8),
        ("SELECT", Incomplete, 6),
        ("", Incomplete, 0),
        ("   ", Incomplete, 3),
        (";", Unexpected, 0),
        ("DELETE FROM t", Unexpected, 0),
        ("select a from t where", Incomplete, 21),
        ("CREATE t (a INTEGER)", Unexpected, 7),
        ("CREATE TABLE t ()", Unexpected, 16),
        ("CREATE TABLE t (a)", Unexpected, 17),
        ("CREATE TABLE t (a, b INTEGER)", Unexpected, 17),
        ("CREATE TABLE t (a BLOB)", Unexpected, 18),
        ("CREATE TABLE t (a INTEGER PRIMARY)", Unexpected, 33),
        ("CREATE TABLE t (a INTEGER KEY)", Unexpected, 26),
        ("CREATE TABLE t (a INTEGER,)", Unexpected, 26),
        ("CREATE TABLE t (a INTEGER", Incomplete, 25),
        ("CREATE TABLE (a INTEGER)", Unexpected, 13),
        ("INSERT t VALUES (1)", Unexpected, 7),
        ("INSERT INTO t VALUES", Incomplete, 20),
        ("INSERT INTO t VALUES ()", Unexpected, 22),
        ("INSERT INTO t VALUES (1), ", Incomplete, 26),
        ("INSERT INTO t () VALUES (1)", Unexpected, 15),
        ("INSERT INTO t (a,) VALUES (1)", Unexpected, 17),
        ("INSERT INTO t (a) VALUES (1) (2)", Unexpected, 29),
        ("INSERT INTO t (1) VALUES (1)", Unexpected, 15),
        // What the subset forbids.
        (
            "CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER PRIMARY KEY)",
            Invalid,
            49,
        ),
        ("CREATE TABLE t (a TEXT PRIMARY KEY)", Invalid, 23),
        ("CREATE TABLE t (a REAL PRIMARY KEY)", Invalid, 23),
        ("CREATE TABLE t (a INTEGER, b TEXT, a REAL)", Invalid, 35),
        ("CREATE TABLE t (abc INTEGER, ABC TEXT)", Invalid, 29),
        ("CREATE TABLE t (a INTEGER, \"a\" TEXT)", Invalid, 27),
        // An Invalid is reported where the parser gets to it: an earlier mistake comes first,
        // a later one after.
        ("CREATE TABLE t (a TEXT PRIMARY KEY, b)", Invalid, 23),
        ("CREATE TABLE t (a, a INTEGER)", Unexpected, 17),
        ("CREATE TABLE t (a TEXT PRIMARY x)", Unexpected, 31),
        ("INSERT INTO t VALUES (1), (1, 2)", Invalid, 26),
        ("INSERT INTO t VALUES (1, 2), (1), (3)", Invalid, 29),
        ("INSERT INTO t (a, b) VALUES (1)", Invalid, 28),
        ("INSERT INTO t (a) VALUES (1, 2), (3)", Invalid, 25),
        ("INSERT INTO t (a) VALUES (1), (2, 3)", Invalid, 30),
        ("INSERT INTO t VALUES (1), (1, 2) x", Invalid, 26),
        ("INSERT INTO t VALUES (1), (1, ) x", Unexpected, 30),
    ];
    for &(sql, kind, at) in cases {
        let expected = reference::parse(sql);
        if Answer(expected.clone()) != Answer(Err(refused(kind, at))) {
            return fail(format!(
                "the checks disagree with themselves on {sql:?}: a bug in the checks"
            ));
        }
        expect_statement(sql, Err(refused(kind, at)))?;
    }
    // parse_expr: one expression and nothing after it, not even a ;
    let expr_cases: &[(&str, ErrorKind, usize)] = &[
        ("", Incomplete, 0),
        ("a;", Unexpected, 1),
        ("a b", Unexpected, 2),
        ("a +", Incomplete, 3),
        ("(a", Incomplete, 2),
        ("a)", Unexpected, 1),
        ("*", Unexpected, 0),
        ("SELECT", Unexpected, 0),
        ("a = = b", Unexpected, 4),
        ("a IS", Incomplete, 4),
        ("a IS NOT", Incomplete, 8),
        ("NOT", Incomplete, 3),
        ("-", Incomplete, 1),
        ("COUNT(*", Incomplete, 7),
    ];
    for &(sql, kind, at) in expr_cases {
        expect_expr(sql, Err((kind, at)))?;
    }
    Ok(())
}

fn big_inputs(_: &mut Ctx) -> CheckResult {
    let text: String = (0..70_000)
        .map(|i| match i % 1000 {
            0 => '\'',
            1 => '\n',
            _ => char::from(b'a' + (i % 26) as u8),
        })
        .collect();
    let sql = format!("SELECT {} FROM t", quote_text(&text));
    let did = format!(
        "parse(\"SELECT '...' FROM t\"), the string {} bytes long with a '' every 1,000",
        sql.len() - 14
    );
    let got = match parse(&sql) {
        Ok(Statement::Select(select)) => match select.items.as_slice() {
            [SelectItem::Expr(Expr::Text(got))] => got.clone(),
            _ => {
                return fail(format!(
                    "did:      {did}\nexpected: one item, the string\ngot:      {}",
                    cut(&full_statement(&Statement::Select(select)))
                ));
            }
        },
        other => {
            return fail(format!(
                "did:      {did}\nexpected: a SELECT of the string\ngot:      {:?}",
                Answer(other)
            ));
        }
    };
    expect(got == text, same_text(&did, &got, &text))?;
    let name = text.replace(['\'', '\n'], "_") + "\"";
    let did = format!("parse_expr(...), a quoted name of {} bytes", name.len());
    match parse_expr(&quote_name(&name)) {
        Ok(Expr::Column(got)) => expect(got == name, same_text(&did, &got, &name))?,
        other => {
            return fail(format!(
                "did:      {did}\nexpected: that column\ngot:      {}",
                cut(&format!("{:?}", Answer(other)))
            ));
        }
    }
    // 1 - 2 - 3 - ... - 1000: a left-deep tree, walked without recursion.
    let chain: Vec<String> = (1..=1000).map(|n| n.to_string()).collect();
    let sql = chain.join(" - ");
    let did = "parse_expr(\"1 - 2 - 3 - ... - 1000\")";
    let mut node = match parse_expr(&sql) {
        Ok(tree) => tree,
        Err(e) => {
            return fail(format!(
                "did:      {did}\nexpected: a tree\ngot:      Err({:?} at {})",
                e.kind, e.at
            ));
        }
    };
    for n in (2..=1000).rev() {
        node = match node {
            Expr::Op {
                op: Op::Sub,
                mut args,
            } if args.len() == 2 && args[1] == int(n) => args.swap_remove(0),
            other => {
                return fail(format!(
                    "did:      {did}\nexpected: ((...(1 - 2) - ...) - {}) - {n} at the level of {n}: \
                     the minuses group from the left\ngot:      {}",
                    n - 1,
                    cut(&sexpr(&other))
                ));
            }
        };
    }
    expect_eq(
        format!("{did}, at its deepest"),
        sexpr(&node),
        "1".to_string(),
    )?;
    let sql = format!("{}a{}", "(".repeat(200), ")".repeat(200));
    expect_expr(&sql, Ok("a"))?;
    let sql = format!("{}a", "NOT ".repeat(200));
    let mut node = parse_expr(&sql).map_err(|e| Failure::new(format!("did:      parse_expr(\"NOT NOT ... NOT a\"), 200 NOTs\nexpected: a tree\ngot:      Err({:?} at {})", e.kind, e.at)))?;
    for level in 0..200 {
        node = match node {
            Expr::Op {
                op: Op::Not,
                mut args,
            } if args.len() == 1 => args.swap_remove(0),
            other => {
                return fail(format!(
                    "did:      parse_expr(\"NOT NOT ... NOT a\"), 200 NOTs\nexpected: NOT {} levels deep\ngot:      {} at level {level}",
                    200,
                    cut(&sexpr(&other))
                ));
            }
        };
    }
    expect_eq(
        "parse_expr(\"NOT NOT ... NOT a\"), under the 200 NOTs",
        sexpr(&node),
        "a".to_string(),
    )?;
    let rows: Vec<String> = (0..1000).map(|n| format!("({n}, 'r{n}')")).collect();
    let sql = format!("INSERT INTO t VALUES {}", rows.join(", "));
    let expected = Statement::Insert(Insert {
        table: "t".into(),
        columns: Vec::new(),
        rows: (0..1000)
            .map(|n| vec![int(n), Expr::Text(format!("r{n}"))])
            .collect(),
    });
    expect(
        parse(&sql) == Ok(expected),
        "did:      parse(\"INSERT INTO t VALUES (0, 'r0'), (1, 'r1'), ... (999, 'r999')\")\n\
         expected: the 1,000 rows, in order\ngot:      another answer"
            .to_string(),
    )
}

/// How a long text came back different.
fn same_text(did: &str, got: &str, expected: &str) -> String {
    let at = got
        .bytes()
        .zip(expected.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    format!(
        "did:      {did}\nexpected: {} bytes\ngot:      {} bytes, different from byte {at}: {:?}",
        expected.len(),
        got.len(),
        cut(got.get(at.saturating_sub(10)..).unwrap_or(got))
    )
}

/// A long text cut to its start.
fn cut(text: &str) -> String {
    cut_to(text, 120)
}

// ---- SQLite ----

/// One value SQLite returned, compared by its bits.
#[derive(Clone, PartialEq, PartialOrd)]
enum Value {
    Null,
    Integer(i64),
    Real(u64),
    Text(String),
    Blob(Vec<u8>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Integer(n) => write!(f, "{n}"),
            Value::Real(bits) => write!(f, "{:?}", f64::from_bits(*bits)),
            Value::Text(text) => f.write_str(&quote_text(text)),
            Value::Blob(bytes) => write!(
                f,
                "x'{}'",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        }
    }
}

/// What SQLite said to a statement: its rows, or its error.
#[derive(Clone, PartialEq)]
struct Outcome(Result<Vec<Vec<Value>>, String>);

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Err(e) => write!(f, "error: {e}"),
            Ok(rows) if rows.is_empty() => f.write_str("no rows"),
            Ok(rows) => {
                const SHOWN: usize = 8;
                let shown: Vec<String> = rows
                    .iter()
                    .take(SHOWN)
                    .map(|row| format!("{row:?}"))
                    .collect();
                write!(f, "{}", shown.join(" "))?;
                if rows.len() > SHOWN {
                    write!(f, " ... ({} rows)", rows.len())?;
                }
                Ok(())
            }
        }
    }
}

fn run(db: &Connection, sql: &str) -> Outcome {
    let result = (|| -> rusqlite::Result<Vec<Vec<Value>>> {
        let mut statement = db.prepare(sql)?;
        let width = statement.column_count();
        let mut rows = statement.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(x) => Value::Real(x.to_bits()),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(out)
    })();
    Outcome(result.map_err(|e| sqlite_message(&e)))
}

/// SQLite's words for an error, without the statement's text or an offset in it.
fn sqlite_message(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        other => other.to_string(),
    }
}

fn memory_db() -> Connection {
    Connection::open_in_memory().expect("SQLite opens a database in memory")
}

/// Whether SQLite refuses `sql` as a syntax error (not for a name it does not know), and at
/// which offset when it says.
fn sqlite_syntax_error(db: &Connection, sql: &str) -> Option<Option<usize>> {
    match db.prepare(sql) {
        Ok(_) => None,
        Err(rusqlite::Error::SqlInputError { msg, offset, .. }) if is_syntax(&msg) => {
            Some(usize::try_from(offset).ok())
        }
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if is_syntax(&msg) => Some(None),
        Err(_) => None,
    }
}

fn is_syntax(message: &str) -> bool {
    message.contains("syntax error")
        || message.contains("incomplete input")
        || message.contains("unrecognized token")
}

// ---- writing generated trees as SQL, with as few parentheses as precedence allows ----

/// The choices of one way to write a statement (case, spacing, optional spellings), drawn
/// from a number. 0 writes the plainest SQL: upper case, single spaces, nothing optional.
struct Style(u64);

impl Style {
    fn pick(&mut self, one_in: u64) -> bool {
        self.draw() % one_in == 1
    }

    fn draw(&mut self) -> u64 {
        if self.0 == 0 {
            return 0;
        }
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn word(&mut self, word: &str) -> String {
        match self.draw() % 6 {
            1 => word.to_ascii_lowercase(),
            2 => {
                let mut cased = word.to_ascii_lowercase();
                cased[..1].make_ascii_uppercase();
                cased
            }
            3 => word
                .chars()
                .map(|c| {
                    if self.pick(2) {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect(),
            _ => word.to_string(),
        }
    }

    fn space(&mut self) -> &'static str {
        match self.draw() % 32 {
            1 => "\n",
            2 => "  ",
            3 => "\t",
            _ => " ",
        }
    }
}

const RESERVED: &[&str] = &[
    "AND", "ASC", "BY", "CREATE", "DESC", "FROM", "INSERT", "INTO", "IS", "KEY", "LIMIT", "NOT",
    "NULL", "OFFSET", "OR", "ORDER", "PRIMARY", "SELECT", "TABLE", "VALUES", "WHERE",
];

fn plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Writes trees as tokens.
struct Writer {
    style: Style,
    tokens: Vec<String>,
}

impl Writer {
    fn keyword(&mut self, word: &str) {
        let word = self.style.word(word);
        self.tokens.push(word);
    }

    fn symbol(&mut self, symbol: &str) {
        self.tokens.push(symbol.to_string());
    }

    fn name(&mut self, name: &str) {
        let token = if plain_name(name) && !self.style.pick(8) {
            name.to_string()
        } else {
            quote_name(name)
        };
        self.tokens.push(token);
    }

    fn real(&mut self, x: f64) {
        let text = if x.is_infinite() {
            "1e999".to_string()
        } else if x.fract() == 0.0 && x > 9.3e18 && x < 1e30 && x == (x as u128) as f64 {
            // Digits too many for an i64: SQLite reads a real. (Not 2^63 itself, which a minus
            // before it would make i64::MIN.)
            format!("{}", x as u128)
        } else if x.fract() == 0.0 && x < 1e15 {
            match self.style.draw() % 4 {
                1 => format!("{}.", x as u64),
                2 => format!("{}e0", x as u64),
                3 => format!("{}E+0", x as u64),
                _ => format!("{x:?}"),
            }
        } else if x < 1.0 && self.style.pick(2) {
            format!("{x:?}").trim_start_matches('0').to_string()
        } else {
            format!("{x:?}")
        };
        self.tokens.push(text);
    }

    /// Writes `expr` where an expression of at least `min` (a level of the README's table)
    /// may stand, in parentheses if it is looser.
    fn expr(&mut self, expr: &Expr, min: u8) {
        let own = match expr {
            Expr::Op { op, .. } => level(*op),
            Expr::Integer(n) if *n < 0 => NEG_LEVEL,
            _ => PRIMARY_LEVEL,
        };
        let parens = own < min || self.style.pick(12);
        if parens {
            self.symbol("(");
        }
        match expr {
            Expr::Null => self.keyword("NULL"),
            Expr::Integer(n) if *n < 0 => {
                // Only i64::MIN is generated negative: a minus, then 9223372036854775808.
                self.symbol("-");
                self.tokens.push(n.unsigned_abs().to_string());
            }
            Expr::Integer(n) => self.tokens.push(n.to_string()),
            Expr::Real(x) => self.real(*x),
            Expr::Text(text) => self.tokens.push(quote_text(text)),
            Expr::Column(name) => self.name(name),
            Expr::Op { op, args } => match (op, args.as_slice()) {
                (Op::Neg, [x]) => {
                    self.symbol("-");
                    self.expr(x, NEG_LEVEL);
                }
                (Op::Not, [x]) => {
                    self.keyword("NOT");
                    self.expr(x, NOT_LEVEL);
                }
                (Op::IsNull | Op::IsNotNull, [x]) => {
                    self.expr(x, IS_LEVEL);
                    self.keyword("IS");
                    if *op == Op::IsNotNull {
                        self.keyword("NOT");
                    }
                    self.keyword("NULL");
                }
                (op, [left, right]) => {
                    // Left-associative: the left operand may be of the same level, the right
                    // one must be tighter.
                    self.expr(left, level(*op));
                    match op {
                        Op::Eq if self.style.pick(3) => self.symbol("=="),
                        Op::NotEq if self.style.pick(3) => self.symbol("<>"),
                        Op::And | Op::Or => self.keyword(op_text(*op)),
                        op => self.symbol(op_text(*op)),
                    }
                    self.expr(right, level(*op) + 1);
                }
                _ => self.symbol("?"),
            },
            Expr::Aggregate { func, args } => {
                self.keyword(func_text(*func));
                self.symbol("(");
                match args.as_slice() {
                    [] => self.symbol("*"),
                    args => self.list(args, |w, a| w.expr(a, 0)),
                }
                self.symbol(")");
            }
        }
        if parens {
            self.symbol(")");
        }
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Writer, &T)) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.symbol(",");
            }
            each(self, item);
        }
    }

    fn statement(&mut self, statement: &Statement) {
        match statement {
            Statement::CreateTable(create) => {
                self.keyword("CREATE");
                self.keyword("TABLE");
                self.name(&create.name);
                self.symbol("(");
                self.list(&create.columns, |w, c| {
                    w.name(&c.name);
                    w.keyword(type_text(c.ty));
                    if c.primary_key {
                        w.keyword("PRIMARY");
                        w.keyword("KEY");
                    }
                });
                self.symbol(")");
            }
            Statement::Insert(insert) => {
                self.keyword("INSERT");
                self.keyword("INTO");
                self.name(&insert.table);
                if !insert.columns.is_empty() {
                    self.symbol("(");
                    self.list(&insert.columns, |w, c| w.name(c));
                    self.symbol(")");
                }
                self.keyword("VALUES");
                self.list(&insert.rows, |w, row| {
                    w.symbol("(");
                    w.list(row, |w, e| w.expr(e, 0));
                    w.symbol(")");
                });
            }
            Statement::Select(select) => {
                self.keyword("SELECT");
                self.list(&select.items, |w, item| match item {
                    SelectItem::All => w.symbol("*"),
                    SelectItem::Expr(e) => w.expr(e, 0),
                });
                self.keyword("FROM");
                self.name(&select.from);
                if let Some(filter) = &select.filter {
                    self.keyword("WHERE");
                    self.expr(filter, 0);
                }
                if !select.order_by.is_empty() {
                    self.keyword("ORDER");
                    self.keyword("BY");
                    self.list(&select.order_by, |w, o| {
                        w.expr(&o.expr, 0);
                        if o.descending {
                            w.keyword("DESC");
                        } else if w.style.pick(3) {
                            w.keyword("ASC");
                        }
                    });
                }
                if let Some(limit) = select.limit {
                    self.keyword("LIMIT");
                    self.tokens.push(limit.to_string());
                    if let Some(offset) = select.offset {
                        self.keyword("OFFSET");
                        self.tokens.push(offset.to_string());
                    }
                }
            }
        }
        if self.style.pick(4) {
            self.symbol(";");
        }
    }
}

/// The tokens of a statement, written in a style.
fn tokens_of(statement: &Statement, style: u64) -> Vec<String> {
    let mut writer = Writer {
        style: Style(style),
        tokens: Vec::new(),
    };
    writer.statement(statement);
    writer.tokens
}

/// Tokens joined by whitespace, except that a minus sometimes touches its neighbours (`a-1`,
/// `-5`), never another minus: `--` would start a comment in SQLite.
fn join(tokens: &[String], style: u64) -> String {
    let mut style = Style(if style == 0 { 0 } else { style ^ 0x5555 });
    let mut text = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 {
            let previous = &tokens[i - 1];
            let minus = previous == "-" || token == "-";
            let comment = previous.ends_with('-') && token.starts_with('-');
            if !(minus && !comment && style.pick(2)) {
                text += style.space();
            }
        }
        text += token;
    }
    text
}

// ---- generators ----

/// A generated table.
#[derive(Debug, Clone)]
struct Schema {
    create: CreateTable,
}

const TABLE_NAMES: &[&str] = &["t", "items", "Orders", "my table", "select"];
const COLUMN_NAMES: &[&str] = &[
    "a", "b", "id", "price", "Name", "count", "text", "x_1", "order", "my col", "q\"t", "sum",
];
/// The most columns a generated table has. Expressions are generated before the table is
/// known, naming columns `#0` to `#3`, and are then given the table's names: so every part of
/// a script shrinks on its own.
const MAX_COLUMNS: usize = 4;

fn schema() -> impl Strategy<Value = Schema> {
    let columns = prop::sample::subsequence(COLUMN_NAMES.to_vec(), 1..=MAX_COLUMNS);
    let types = prop::collection::vec(
        prop_oneof![Just(Type::Integer), Just(Type::Text), Just(Type::Real)],
        MAX_COLUMNS,
    );
    (
        prop::sample::select(TABLE_NAMES.to_vec()),
        columns,
        types,
        prop::option::of(0..MAX_COLUMNS),
    )
        .prop_map(|(table, names, types, key)| {
            let columns = names
                .iter()
                .zip(&types)
                .enumerate()
                .map(|(i, (name, ty))| {
                    let primary_key = key == Some(i);
                    Column {
                        name: name.to_string(),
                        ty: if primary_key { Type::Integer } else { *ty },
                        primary_key,
                    }
                })
                .collect();
            Schema {
                create: CreateTable {
                    name: table.to_string(),
                    columns,
                },
            }
        })
}

fn literal() -> BoxedStrategy<Expr> {
    prop_oneof![
        6 => (0i64..20).prop_map(Expr::Integer),
        1 => Just(Expr::Null),
        2 => prop::sample::select(vec!["", "a", "it's", "5", "1.5", "x y", "''", "-3", "B"])
            .prop_map(|t| Expr::Text(t.to_string())),
        2 => prop::sample::select(vec![0.5, 1.5, 2.0, 0.25, 100.0, 1e300, 3.75])
            .prop_map(Expr::Real),
        1 => prop::sample::select(vec![
            Expr::Integer(i64::MAX),
            Expr::Integer(i64::MIN),
            Expr::Integer(1000),
            Expr::Real(9_223_372_036_854_775_808.0),
            Expr::Real(18_446_744_073_709_551_616.0),
            Expr::Real(f64::INFINITY),
            Expr::Real(1e-300),
        ]),
    ]
    .boxed()
}

fn ops() -> impl Strategy<Value = Op> {
    prop::sample::select(ALL_OPS.to_vec())
}

/// Expressions without aggregates: over the columns `#0` to `#3`, or constants only.
fn expr(columns: bool) -> BoxedStrategy<Expr> {
    let leaf = if columns {
        prop_oneof![
            2 => literal(),
            3 => (0..MAX_COLUMNS).prop_map(|k| Expr::Column(format!("#{k}"))),
        ]
        .boxed()
    } else {
        literal()
    };
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            4 => (ops(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| bin(op, l, r)),
            1 => inner.clone().prop_map(|e| un(Op::Neg, e)),
            1 => inner.clone().prop_map(|e| un(Op::Not, e)),
            1 => (inner, any::<bool>()).prop_map(|(e, negated)| {
                un(if negated { Op::IsNotNull } else { Op::IsNull }, e)
            }),
        ]
    })
    .boxed()
}

fn aggregate() -> BoxedStrategy<Expr> {
    let funcs = prop::sample::select(vec![
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::Avg,
    ]);
    let call = prop_oneof![
        1 => Just(Expr::Aggregate { func: Aggregate::Count, args: Vec::new() }),
        3 => (funcs, expr(true)).prop_map(|(func, arg)| Expr::Aggregate {
            func,
            args: vec![arg],
        }),
    ];
    prop_oneof![
        3 => call.clone(),
        1 => (ops(), call, literal()).prop_map(|(op, l, r)| bin(op, l, r)),
    ]
    .boxed()
}

/// A SELECT over the table named `#`, with columns `#0` to `#3`.
fn select() -> BoxedStrategy<Select> {
    let plain_items = prop::collection::vec(
        prop_oneof![
            1 => Just(SelectItem::All),
            4 => expr(true).prop_map(SelectItem::Expr),
        ],
        1..=3,
    );
    let aggregate_items = prop::collection::vec(aggregate().prop_map(SelectItem::Expr), 1..=3);
    let items = prop_oneof![3 => plain_items, 1 => aggregate_items];
    let order_by = prop::collection::vec(
        (expr(true), any::<bool>()).prop_map(|(expr, descending)| OrderBy { expr, descending }),
        0..=2,
    );
    let count = prop_oneof![4 => 0i64..6, 1 => Just(i64::MAX)];
    let limit = prop::option::of((count.clone(), prop::option::of(count)));
    (
        items,
        prop::option::weighted(0.7, expr(true)),
        order_by,
        limit,
    )
        .prop_map(|(items, filter, order_by, limit)| Select {
            items,
            from: "#".into(),
            filter,
            order_by,
            limit: limit.map(|(l, _)| l),
            offset: limit.and_then(|(_, o)| o),
        })
        .boxed()
}

/// An INSERT before it meets its table: the columns it may name (`#k`), up to three rows of
/// constants for every column, and a key for each row should the table have one.
#[derive(Debug, Clone)]
struct RawInsert {
    named: Option<Vec<usize>>,
    rows: Vec<Vec<Expr>>,
    keys: Vec<Expr>,
}

fn insert() -> BoxedStrategy<RawInsert> {
    let named = prop::option::of(
        prop::sample::subsequence((0..MAX_COLUMNS).collect::<Vec<_>>(), 1..=MAX_COLUMNS)
            .prop_shuffle(),
    );
    let rows = prop::collection::vec(prop::collection::vec(expr(false), MAX_COLUMNS), 1..=3);
    let key = prop_oneof![3 => Just(Expr::Null), 1 => (0i64..1000).prop_map(Expr::Integer)];
    let keys = prop::collection::vec(key, 3);
    (named, rows, keys)
        .prop_map(|(named, rows, keys)| RawInsert { named, rows, keys })
        .boxed()
}

/// `expr` with the table's names for `#0` to `#3`.
fn resolve(expr: &Expr, columns: &[Column]) -> Expr {
    match expr {
        Expr::Column(name) => match name.strip_prefix('#').and_then(|k| k.parse::<usize>().ok()) {
            Some(k) => Expr::Column(columns[k % columns.len()].name.clone()),
            None => expr.clone(),
        },
        Expr::Op { op, args } => Expr::Op {
            op: *op,
            args: args.iter().map(|a| resolve(a, columns)).collect(),
        },
        Expr::Aggregate { func, args } => Expr::Aggregate {
            func: *func,
            args: args.iter().map(|a| resolve(a, columns)).collect(),
        },
        other => other.clone(),
    }
}

fn resolve_select(select: &Select, create: &CreateTable) -> Select {
    let columns = &create.columns;
    Select {
        items: select
            .items
            .iter()
            .map(|item| match item {
                SelectItem::All => SelectItem::All,
                SelectItem::Expr(e) => SelectItem::Expr(resolve(e, columns)),
            })
            .collect(),
        from: create.name.clone(),
        filter: select.filter.as_ref().map(|e| resolve(e, columns)),
        order_by: select
            .order_by
            .iter()
            .map(|o| OrderBy {
                expr: resolve(&o.expr, columns),
                descending: o.descending,
            })
            .collect(),
        limit: select.limit,
        offset: select.offset,
    }
}

fn resolve_insert(raw: &RawInsert, create: &CreateTable) -> Insert {
    let columns = &create.columns;
    // The named columns the table has, in the order given; none left is no list at all.
    let named: Vec<usize> = raw
        .named
        .iter()
        .flatten()
        .copied()
        .filter(|&k| k < columns.len())
        .collect();
    let filled: Vec<usize> = if named.is_empty() {
        (0..columns.len()).collect()
    } else {
        named.clone()
    };
    let rows = raw
        .rows
        .iter()
        .zip(&raw.keys)
        .map(|(row, key)| {
            filled
                .iter()
                .zip(row)
                .map(|(&k, value)| {
                    if columns[k].primary_key {
                        key.clone()
                    } else {
                        value.clone()
                    }
                })
                .collect()
        })
        .collect();
    Insert {
        table: create.name.clone(),
        columns: named.iter().map(|&k| columns[k].name.clone()).collect(),
        rows,
    }
}

/// A table, rows for it and queries over it, and how to write them.
#[derive(Clone)]
struct Script {
    statements: Vec<Statement>,
    style: u64,
}

impl Script {
    fn texts(&self) -> Vec<String> {
        self.statements
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let style = if self.style == 0 {
                    0
                } else {
                    self.style.wrapping_add(i as u64)
                };
                join(&tokens_of(s, style), style)
            })
            .collect()
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for text in self.texts() {
            write!(f, "\n    {text}")?;
        }
        Ok(())
    }
}

fn script(selects: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Script> {
    (
        schema(),
        prop::collection::vec(insert(), 1..=3),
        prop::collection::vec(select(), selects),
        // Style 0 writes the plainest SQL (upper case, single spaces), and shrinks to it.
        prop_oneof![1 => Just(0u64), 3 => any::<u64>()],
    )
        .prop_map(|(schema, inserts, selects, style)| {
            let create = schema.create;
            let mut statements = Vec::new();
            statements.extend(
                inserts
                    .iter()
                    .map(|raw| Statement::Insert(resolve_insert(raw, &create))),
            );
            statements.extend(
                selects
                    .iter()
                    .map(|s| Statement::Select(resolve_select(s, &create))),
            );
            statements.insert(0, Statement::CreateTable(create));
            Script { statements, style }
        })
}

// ---- the differential checks ----

/// Rows in the order SQLite gave them when the query orders them, sorted otherwise.
fn comparable(outcome: Outcome, ordered: bool) -> Outcome {
    match outcome.0 {
        Ok(mut rows) if !ordered => {
            rows.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            Outcome(Ok(rows))
        }
        other => Outcome(other),
    }
}

/// The rows of the table after an INSERT, or its columns after a CREATE TABLE.
fn contents(db: &Connection, statement: &Statement) -> Outcome {
    match statement {
        Statement::CreateTable(c) => run(
            db,
            &format!(
                "SELECT name, type, pk FROM pragma_table_info({})",
                quote_text(&c.name)
            ),
        ),
        Statement::Insert(i) => run(
            db,
            &format!(
                "SELECT rowid, * FROM {} ORDER BY rowid",
                quote_name(&i.table)
            ),
        ),
        Statement::Select(_) => Outcome(Ok(Vec::new())),
    }
}

fn differential(ctx: &mut Ctx) -> CheckResult {
    // First the rows: a shrunk failure here shows SQLite answering differently. Then the trees:
    // a tree SQLite cannot tell from the README's (2 + 3 for 3 + 2) is still not it.
    let queries = Cell::new(0usize);
    ctx.forall_named(&["script"], 64, script(1..=8), |script| {
        run_script(&script, false, &queries)
    })?;
    expect(
        queries.get() >= 200,
        format!(
            "the check compared only {} queries with SQLite",
            queries.get()
        ),
    )?;
    ctx.forall_named(&["script"], 64, script(1..=8), |script| {
        run_script(&script, true, &Cell::new(0))
    })
}

/// Runs a script's texts in one database and the learner's trees of them, written back with
/// every parenthesis, in another; and, if `trees`, compares the trees with the generated ones.
fn run_script(script: &Script, trees: bool, queries: &Cell<usize>) -> CheckResult {
    let (theirs, yours) = (memory_db(), memory_db());
    for (statement, sql) in script.statements.iter().zip(script.texts()) {
        let is_select = matches!(statement, Statement::Select(_));
        let ordered = matches!(statement, Statement::Select(s) if !s.order_by.is_empty());
        let expected = comparable(run(&theirs, &sql), ordered);
        if expected.0.as_ref().is_err_and(|e| is_syntax(e)) {
            return fail(format!(
                "the checks wrote SQL that SQLite refuses: {sql}\n{expected:?}"
            ));
        }
        let generated = full_statement(statement);
        let answer = match parse(&sql) {
            Ok(tree) => tree,
            Err(e) => {
                return fail(format!(
                    "did:      parse({sql:?})\nexpected: Ok: {generated}\n\
                     got:      Err({:?} at {}: {})",
                    e.kind, e.at, e.message
                ));
            }
        };
        // The learner's tree must mean to SQLite what the text does: the same rows, the same
        // error, the same table afterwards. (For the tree the text was written from, this
        // holds the checks' precedence table to SQLite's.)
        let rendered = full_statement(&answer);
        let got = comparable(run(&yours, &rendered), ordered);
        let expected_after = contents(&theirs, statement);
        let got_after = contents(&yours, &answer);
        let then = |after: &Outcome| {
            if is_select {
                String::new()
            } else {
                format!("; then the table holds {after:?}")
            }
        };
        if got != expected || got_after != expected_after {
            return fail(format!(
                "did:      parse({sql:?})\n\
                 your tree, every parenthesis written: {rendered}\n\
                 SQLite on the text:      {expected:?}{}\n\
                 SQLite on your tree:     {got:?}{}\n\
                 the README's tree:       {generated}",
                then(&expected_after),
                then(&got_after),
            ));
        }
        if trees && answer != *statement {
            return fail(format!(
                "did:      parse({sql:?})\nexpected: Ok: {generated}\n\
                 got:      Ok: {rendered}\n\
                 SQLite answers both alike here ({expected:?}{}), but only the first is the \
                 README's tree",
                then(&expected_after)
            ));
        }
        if is_select {
            queries.set(queries.get() + 1);
        }
    }
    Ok(())
}

/// One change to a statement's tokens.
#[derive(Debug, Clone)]
enum Damage {
    Drop(prop::sample::Index),
    Double(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    Add(prop::sample::Index, &'static str),
    Character(prop::sample::Index, &'static str),
}

fn damage() -> impl Strategy<Value = Damage> {
    let index = any::<prop::sample::Index>;
    let tokens = prop::sample::select(vec![
        ",", "(", ")", "*", "-", "NOT", "NULL", "IS", "SELECT", "FROM", "1", "'x'", "a", ";",
        "ORDER", "BY", "LIMIT", "AND", "=", "VALUES", "PRIMARY", "KEY", "INTEGER",
    ]);
    let characters = prop::sample::select(vec![
        "@", "'", "\"", "!", ".", "é", "1", "e", "|", "_", "-", " ", "(", "x",
    ]);
    prop_oneof![
        3 => index().prop_map(Damage::Drop),
        2 => index().prop_map(Damage::Double),
        2 => (index(), index()).prop_map(|(a, b)| Damage::Swap(a, b)),
        2 => (index(), tokens).prop_map(|(a, t)| Damage::Add(a, t)),
        2 => (index(), characters).prop_map(|(a, c)| Damage::Character(a, c)),
    ]
}

fn apply(tokens: &[String], damages: &[Damage]) -> String {
    let mut tokens = tokens.to_vec();
    let mut characters = Vec::new();
    for d in damages {
        let n = tokens.len();
        match d {
            Damage::Drop(i) if n > 0 => {
                tokens.remove(i.index(n));
            }
            Damage::Double(i) if n > 0 => {
                let at = i.index(n);
                tokens.insert(at, tokens[at].clone());
            }
            Damage::Swap(a, b) if n > 0 => tokens.swap(a.index(n), b.index(n)),
            Damage::Add(i, t) => tokens.insert(i.index(n + 1), t.to_string()),
            Damage::Character(i, c) => characters.push((i, c)),
            _ => {}
        }
    }
    let mut text = tokens.join(" ");
    for (i, c) in characters {
        let mut at = i.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, c);
    }
    text
}

/// A damaged statement, shown as its text.
struct Damaged(String);

impl fmt::Debug for Damaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn damaged(ctx: &mut Ctx) -> CheckResult {
    let sqlite = memory_db();
    let input = (
        script(1..=1),
        any::<prop::sample::Index>(),
        prop::collection::vec(damage(), 1..=2),
    )
        .prop_map(|(script, which, damages)| {
            let statement = &script.statements[which.index(script.statements.len())];
            Damaged(apply(&tokens_of(statement, script.style), &damages))
        });
    ctx.forall_named(&["sql"], 384, input, |Damaged(sql)| {
        judge_damaged(&sqlite, &sql)
    })?;
    // Token soup: pieces of statements in any order, never panicking, always the README's answer.
    let piece = prop::sample::select(vec![
        "SELECT",
        "select",
        "FROM",
        "t",
        "a",
        "*",
        ",",
        "(",
        ")",
        "WHERE",
        "NOT",
        "-",
        "1",
        "2.5",
        "'s'",
        "'",
        "\"",
        "\"q\"",
        "IS",
        "NULL",
        "=",
        "<",
        "AND",
        "OR",
        "ORDER",
        "BY",
        "DESC",
        "LIMIT",
        "OFFSET",
        "INSERT",
        "INTO",
        "VALUES",
        "CREATE",
        "TABLE",
        "INTEGER",
        "PRIMARY",
        "KEY",
        "COUNT",
        ";",
        "@",
        "é",
        ".",
        "9223372036854775808",
        " ",
        "\n",
    ]);
    let soup = prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.join(" "));
    ctx.forall_named(&["sql"], 256, soup, |sql| judge_damaged(&sqlite, &sql))
}

/// A damaged statement: if SQLite refuses it as a syntax error, the learner must refuse it;
/// and the learner's answer is the README's, tree or error kind and offset.
fn judge_damaged(sqlite: &Connection, sql: &str) -> CheckResult {
    let got = learner(sql).map_err(Failure::new)?;
    // SQLite reads `--` and `/*` as the start of a comment, which the subset does not have:
    // there its word is not the README's.
    let comment = sql.contains("--") || sql.contains("/*");
    if !comment
        && let Some(offset) = sqlite_syntax_error(sqlite, sql)
        && let Answer(Ok(tree)) = &got
    {
        let said = offset.map_or(String::new(), |o| format!(" at byte {o}"));
        return fail(format!(
            "did:      parse({sql:?})\nexpected: an error: SQLite refuses it as a syntax \
             error{said}\ngot:      Ok: {}",
            full_statement(tree)
        ));
    }
    expect_answer(sql, got, Answer(reference::parse(sql)))
}

/// The README's rules, as a parser of the checks' own: what each tree and each error must be.
mod reference {
    use btree_sql_front::{
        Aggregate, Column, CreateTable, ErrorKind, Expr, Insert, Op, OrderBy, Select, SelectItem,
        SqlError, Statement, Type,
    };

    pub fn parse(sql: &str) -> Result<Statement, SqlError> {
        let mut parser = Parser::new(sql)?;
        let statement = parser.statement()?;
        parser.eat_symbol(";");
        parser.end()?;
        Ok(statement)
    }

    // The tokenizer.

    /// The words the subset reserves: they cannot name a table or a column unless quoted.
    const KEYWORDS: &[&str] = &[
        "AND", "ASC", "BY", "CREATE", "DESC", "FROM", "INSERT", "INTO", "IS", "KEY", "LIMIT",
        "NOT", "NULL", "OFFSET", "OR", "ORDER", "PRIMARY", "SELECT", "TABLE", "VALUES", "WHERE",
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
                b'0'..=b'9' | b'.'
                    if c != b'.' || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) =>
                {
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

    // The parser.

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
                    let call = matches!(self.tokens.get(self.pos + 1), Some(t) if t.tok == Tok::Symbol("("));
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
}
