//! Mutants made by machine: small edits of a reference solution that a good suite must notice.
//!
//! The hand-written mutants beside a solution are the mistakes its author thought of; these are
//! the ones nobody thought of. Each is one edit of one source file: an operator swapped for its
//! neighbour, a literal moved by one, a `!` dropped, a statement or an assertion deleted, or a
//! function's body replaced by a plain value of its return type. A mutant the checks do not
//! catch (a survivor) is a gap in the checks, or an edit that changes nothing observable, which
//! the scene records with its reason in `mutants/equivalent.toml`.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use anyhow::{Context, Result};
use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// One edit of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// Stable across unrelated edits of the file: where (the function) and what, numbered when
    /// the same edit fits several places of one function. `equivalent.toml` names mutants so.
    pub id: String,
    /// The item it edits: a function (`Type::method`), a constant or a static by its name, or
    /// `(top level)`.
    pub function: String,
    /// The line it edits, for reports.
    pub line: usize,
    range: Range<usize>,
    replacement: String,
}

impl Mutation {
    pub fn apply(&self, source: &str) -> String {
        let mut out = source.to_string();
        out.replace_range(self.range.clone(), &self.replacement);
        out
    }
}

/// Every mutation of `source`, in the order they appear.
pub fn mutations(source: &str) -> Result<Vec<Mutation>> {
    let file = syn::parse_file(source).context("the solution does not parse")?;
    let mut finder = Finder {
        source,
        scope: Vec::new(),
        found: Vec::new(),
    };
    finder.visit_file(&file);
    let mut seen: HashMap<String, usize> = HashMap::new();
    Ok(finder
        .found
        .into_iter()
        .map(|found| {
            let Found {
                range,
                replacement,
                scope,
                replaces,
            } = found;
            let original = match replaces {
                Some(name) => name.to_string(),
                None => format!("`{}`", excerpt(&source[range.clone()])),
            };
            let what = match replacement.is_empty() {
                true => format!("delete {original}"),
                false => format!("replace {original} with `{}`", excerpt(&replacement)),
            };
            let base = format!("{scope}: {what}");
            let function = scope;
            let count = seen.entry(base.clone()).or_default();
            *count += 1;
            let id = match *count {
                1 => base,
                n => format!("{base} (#{n})"),
            };
            Mutation {
                id,
                function,
                line: source[..range.start].lines().count().max(1),
                range,
                replacement,
            }
        })
        .collect())
}

/// The items a stub gives whole: its constants and statics, and the functions with no `todo!()`
/// in their body. A learner does not write them in this scene, so mutating them grades the stub,
/// not the learner.
pub fn given_items(stub: &str) -> Result<BTreeSet<String>> {
    let file = syn::parse_file(stub).context("the stub does not parse")?;
    let mut walker = Functions::default();
    walker.visit_file(&file);
    Ok(walker.all.difference(&walker.unwritten).cloned().collect())
}

/// The functions of a file (as `Type::method` or `function`) whose bodies still hold a
/// `todo!()`: what a learner has yet to write.
pub fn unwritten_functions(source: &str) -> Result<BTreeSet<String>> {
    let file = syn::parse_file(source).context("the file does not parse")?;
    let mut walker = Functions::default();
    walker.visit_file(&file);
    Ok(walker.unwritten)
}

/// Every function of a file by the name mutants give it, and those that hold a `todo!()`.
#[derive(Default)]
struct Functions {
    scope: Vec<String>,
    all: BTreeSet<String>,
    unwritten: BTreeSet<String>,
}

impl<'ast> Visit<'ast> for Functions {
    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        self.scope.push(impl_name(item));
        visit::visit_item_impl(self, item);
        self.scope.pop();
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.scope.push(item.sig.ident.to_string());
        self.all.insert(self.scope.join("::"));
        visit::visit_item_fn(self, item);
        self.scope.pop();
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.scope.push(item.sig.ident.to_string());
        self.all.insert(self.scope.join("::"));
        visit::visit_impl_item_fn(self, item);
        self.scope.pop();
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        self.all.insert(item.ident.to_string());
    }

    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.all.insert(item.ident.to_string());
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if mac.path.is_ident("todo") && !self.scope.is_empty() {
            self.unwritten.insert(self.scope.join("::"));
        }
    }
}

/// The name of the type an `impl` block is for, as mutants' names use it.
fn impl_name(item: &syn::ItemImpl) -> String {
    match &*item.self_ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .map_or_else(String::new, |s| s.ident.to_string()),
        _ => String::new(),
    }
}

/// The mutants a scene has looked at and found to change nothing a learner could be graded on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivalent {
    #[serde(default)]
    pub equivalent: Vec<Recorded>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// The mutant's id, as `verify --mutate` prints it; ending in `*`, every mutant whose id
    /// starts with what comes before (`hash64: *`: every mutant of the function `hash64`).
    pub mutant: String,
    /// Why no check can or should catch it.
    pub reason: String,
}

impl Equivalent {
    pub fn load(path: &std::path::Path) -> Result<Equivalent> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Equivalent::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// The record that explains the mutant `id`, if any.
    pub fn explaining(&self, id: &str) -> Option<&Recorded> {
        self.equivalent.iter().find(|r| r.matches(id))
    }
}

impl Recorded {
    fn matches(&self, id: &str) -> bool {
        match self.mutant.strip_suffix('*') {
            Some(prefix) => id.starts_with(prefix),
            None => self.mutant == id,
        }
    }
}

fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(48) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

struct Finder<'s> {
    source: &'s str,
    /// The type and function being walked, for the mutants' names.
    scope: Vec<String>,
    found: Vec<Found>,
}

struct Found {
    range: Range<usize>,
    replacement: String,
    scope: String,
    /// What the edit replaces, when quoting the source would not read well (a whole body).
    replaces: Option<&'static str>,
}

impl Finder<'_> {
    fn add(&mut self, span: proc_macro2::Span, replacement: impl Into<String>) {
        self.add_named(span, replacement, None);
    }

    fn add_named(
        &mut self,
        span: proc_macro2::Span,
        replacement: impl Into<String>,
        replaces: Option<&'static str>,
    ) {
        let range = span.byte_range();
        if range.is_empty() || range.end > self.source.len() {
            return;
        }
        let scope = match self.scope.is_empty() {
            true => "(top level)".to_string(),
            false => self.scope.join("::"),
        };
        self.found.push(Found {
            range,
            replacement: replacement.into(),
            scope,
            replaces,
        });
    }

    fn body(&mut self, output: &syn::ReturnType, block: &syn::Block) {
        for value in plain_values(output) {
            let replacement = format!("{{ {value} }}").replace("{  }", "{}");
            let current = &self.source[block.span().byte_range()];
            if current.split_whitespace().collect::<String>()
                != replacement.split_whitespace().collect::<String>()
            {
                self.add_named(block.span(), replacement, Some("the body"));
            }
        }
    }
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("test")
            || (attr.path().is_ident("cfg")
                && attr
                    .parse_args::<syn::Ident>()
                    .is_ok_and(|ident| ident == "test"))
    })
}

/// Plain values of a return type, as source text: what a body that computes nothing returns.
fn plain_values(output: &syn::ReturnType) -> Vec<&'static str> {
    let syn::ReturnType::Type(_, ty) = output else {
        return vec![""];
    };
    let syn::Type::Path(path) = &**ty else {
        return match &**ty {
            syn::Type::Tuple(tuple) if tuple.elems.is_empty() => vec![""],
            _ => Vec::new(),
        };
    };
    let Some(last) = path.path.segments.last() else {
        return Vec::new();
    };
    match last.ident.to_string().as_str() {
        "bool" => vec!["true", "false"],
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => vec!["0", "1"],
        "f32" | "f64" => vec!["0.0"],
        "Option" => vec!["None"],
        "Vec" => vec!["Vec::new()"],
        "String" => vec!["String::new()"],
        "Result" => match &last.arguments {
            syn::PathArguments::AngleBracketed(args) if matches!(args.args.first(), Some(syn::GenericArgument::Type(syn::Type::Tuple(t))) if t.elems.is_empty()) =>
            {
                vec!["Ok(())"]
            }
            _ => vec!["Ok(Default::default())"],
        },
        _ => vec!["Default::default()"],
    }
}

fn swapped(op: &syn::BinOp) -> Option<&'static str> {
    use syn::BinOp::*;
    Some(match op {
        Add(_) => "-",
        Sub(_) => "+",
        Mul(_) => "/",
        Div(_) => "*",
        Rem(_) => "/",
        And(_) => "||",
        Or(_) => "&&",
        BitXor(_) => "|",
        BitAnd(_) => "|",
        BitOr(_) => "&",
        Shl(_) => ">>",
        Shr(_) => "<<",
        Eq(_) => "!=",
        Ne(_) => "==",
        Lt(_) => "<=",
        Le(_) => "<",
        Gt(_) => ">=",
        Ge(_) => ">",
        AddAssign(_) => "-=",
        SubAssign(_) => "+=",
        MulAssign(_) => "/=",
        DivAssign(_) => "*=",
        RemAssign(_) => "/=",
        BitXorAssign(_) => "|=",
        BitAndAssign(_) => "|=",
        BitOrAssign(_) => "&=",
        ShlAssign(_) => ">>=",
        ShrAssign(_) => "<<=",
        _ => return None,
    })
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test(&item.attrs) {
            visit::visit_item_mod(self, item);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        self.scope.push(impl_name(item));
        visit::visit_item_impl(self, item);
        self.scope.pop();
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if is_test(&item.attrs) {
            return;
        }
        self.scope.push(item.sig.ident.to_string());
        self.body(&item.sig.output, &item.block);
        visit::visit_item_fn(self, item);
        self.scope.pop();
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.scope.push(item.sig.ident.to_string());
        self.body(&item.sig.output, &item.block);
        visit::visit_impl_item_fn(self, item);
        self.scope.pop();
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        self.scope.push(item.ident.to_string());
        visit::visit_item_const(self, item);
        self.scope.pop();
    }

    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.scope.push(item.ident.to_string());
        visit::visit_item_static(self, item);
        self.scope.pop();
    }

    fn visit_expr_binary(&mut self, expr: &'ast syn::ExprBinary) {
        if let Some(other) = swapped(&expr.op) {
            self.add(expr.op.span(), other);
        }
        visit::visit_expr_binary(self, expr);
    }

    fn visit_expr_unary(&mut self, expr: &'ast syn::ExprUnary) {
        if matches!(expr.op, syn::UnOp::Not(_) | syn::UnOp::Neg(_)) {
            self.add(expr.op.span(), "");
        }
        visit::visit_expr_unary(self, expr);
    }

    fn visit_lit_int(&mut self, lit: &'ast syn::LitInt) {
        let Ok(n) = lit.base10_parse::<u128>() else {
            return;
        };
        let suffix = lit.suffix();
        let mut others = match n {
            0 => vec![1],
            1 => vec![0, 2],
            _ => vec![n - 1, n + 1],
        };
        // A literal past its type's maximum does not compile; only the common case is cheap to
        // rule out here, and the build drops the rest.
        if suffix == "u8" {
            others.retain(|&m| m <= 255);
        }
        for m in others {
            self.add(lit.span(), format!("{m}{suffix}"));
        }
    }

    fn visit_lit_bool(&mut self, lit: &'ast syn::LitBool) {
        self.add(lit.span(), if lit.value { "false" } else { "true" });
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        match stmt {
            syn::Stmt::Expr(
                syn::Expr::Call(_) | syn::Expr::MethodCall(_) | syn::Expr::Binary(_),
                Some(_),
            ) => self.add(stmt.span(), ""),
            syn::Stmt::Macro(mac)
                if mac
                    .mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident.to_string().starts_with("assert")) =>
            {
                self.add(stmt.span(), "")
            }
            _ => {}
        }
        visit::visit_stmt(self, stmt);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Arguments that parse as expressions (`assert!`, `vec!`, `format!`) are code too.
        let parser = syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
        if let Ok(args) = mac.parse_body_with(parser) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {
        // Attributes hold no behaviour to mutate (`#[derive]`, `#[doc]`, `#[repr]`).
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
/// Sums.
pub fn sum(xs: &[u32]) -> u32 {
    let mut total = 0;
    for x in xs {
        total += x;
    }
    assert!(total < 1000);
    total
}

pub struct Counter { n: u64 }

impl Counter {
    pub fn bump(&mut self) {
        self.n += 1;
    }
    pub fn is_even(&self) -> bool {
        self.n % 2 == 0 && !false
    }
}

#[cfg(test)]
mod tests {
    fn untouched() -> u8 { 1 + 1 }
}
";

    fn ids() -> Vec<String> {
        mutations(SOURCE)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    #[test]
    fn operators_literals_bodies_and_statements_are_mutated() {
        let ids = ids();
        for expected in [
            "sum: replace the body with `{ 0 }`",
            "sum: replace `+=` with `-=`",
            "sum: replace `<` with `<=`",
            "sum: delete `assert!(total < 1000);`",
            "sum: replace `1000` with `999`",
            "Counter::bump: replace the body with `{}`",
            "Counter::bump: delete `self.n += 1;`",
            "Counter::is_even: replace `==` with `!=`",
            "Counter::is_even: replace `&&` with `||`",
            "Counter::is_even: delete `!`",
            "Counter::is_even: replace `false` with `true`",
        ] {
            assert!(
                ids.iter().any(|id| id == expected),
                "no {expected:?} in {ids:#?}"
            );
        }
    }

    #[test]
    fn a_stub_gives_its_constants_and_the_functions_it_has_without_todo() {
        let stub = "fn given() -> u8 { 1 }\n\
                    impl Store { fn put(&self) { todo!() } fn len(&self) -> u64 { 0 } }\n\
                    fn nested() { if true { todo!(\"later\") } }\n\
                    const LIMIT: usize = 16;\n\
                    static NAME: &str = \"store\";";
        let given: Vec<String> = given_items(stub).unwrap().into_iter().collect();
        assert_eq!(given, ["LIMIT", "NAME", "Store::len", "given"]);
        let in_a_constant = mutations("const LIMIT: usize = 16;").unwrap();
        assert_eq!(in_a_constant[0].function, "LIMIT");
    }

    #[test]
    fn tests_are_left_alone() {
        assert!(
            ids()
                .iter()
                .all(|id| !id.starts_with("tests") && !id.contains("untouched"))
        );
    }

    #[test]
    fn the_same_edit_twice_in_one_function_is_numbered() {
        let source = "fn f(a: u8, b: u8) -> bool { a < b || b < a }";
        let ids: Vec<String> = mutations(source)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert!(
            ids.contains(&"f: replace `<` with `<=`".to_string()),
            "{ids:#?}"
        );
        assert!(
            ids.contains(&"f: replace `<` with `<=` (#2)".to_string()),
            "{ids:#?}"
        );
    }

    #[test]
    fn a_record_names_one_mutant_or_all_that_start_alike() {
        let recorded: Equivalent = toml::from_str(
            "[[equivalent]]\nmutant = \"hash64: *\"\nreason = \"given by the stub\"\n\
             [[equivalent]]\nmutant = \"f: replace `<` with `<=`\"\nreason = \"same here\"\n",
        )
        .unwrap();
        assert!(
            recorded
                .explaining("hash64: replace `^` with `|`")
                .is_some()
        );
        assert!(recorded.explaining("f: replace `<` with `<=`").is_some());
        assert!(
            recorded
                .explaining("f: replace `<` with `<=` (#2)")
                .is_none()
        );
        assert!(recorded.explaining("g: delete `x();`").is_none());
    }

    #[test]
    fn a_mutation_edits_only_its_place() {
        let source = "fn f(a: u8) -> u8 { a + 1 }";
        let all = mutations(source).unwrap();
        let swap = all
            .iter()
            .find(|m| m.id == "f: replace `+` with `-`")
            .unwrap();
        assert_eq!(swap.apply(source), "fn f(a: u8) -> u8 { a - 1 }");
        let zero = all.iter().find(|m| m.id.ends_with("with `{ 0 }`")).unwrap();
        assert_eq!(zero.apply(source), "fn f(a: u8) -> u8 { 0 }");
    }
}
