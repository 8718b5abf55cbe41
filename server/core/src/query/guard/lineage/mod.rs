//! Masks by lineage, and an allow-list of query shapes.
//!
//! Every column reference is resolved against the replica's schema (tables, views, derived
//! tables, CTEs, `*`), so each output column knows whether it carries a masked base column.
//! A masked column may leave the query only projected bare (it is then masked, whatever it is
//! called); in a predicate it may be compared with `=` or `IN` to literals or tested `IS NULL`,
//! and it may be counted. Any other use is refused with the column's name. Shapes of SQL this
//! walk does not know are refused too, so a new syntax cannot carry data past it.

mod expressions;
mod names;
mod queries;
mod relations;

use super::functions::{cast_allowed, Allowed, Callable};
use super::Refusal;
use crate::query::limits::is_masked;
use crate::query::schema::Schema;
use crate::query::Engine;
use sqlparser::ast::*;
use std::collections::HashMap;

type R<T> = Result<T, Refusal>;

/// What the guard resolved that the text does not say, by where the name starts in the checked
/// text (line, column): the printer writes it.
#[derive(Debug, Default)]
pub struct Resolutions {
    /// A column reference and the relation it was resolved to: printed qualified.
    pub columns: HashMap<(u64, u64), Ident>,
    /// A PostgreSQL table named without a schema, and the schema it was found in.
    pub schemas: HashMap<(u64, u64), String>,
}

/// One output or relation column: its name and, when it carries a masked base column, which.
#[derive(Debug, Clone, Default)]
pub struct Col {
    pub name: String,
    pub mask: Option<String>,
    /// Nameable, but not part of `*` (MariaDB INVISIBLE, SQLite hidden columns).
    pub hidden: bool,
}

impl Col {
    fn named(name: impl Into<String>, mask: Option<String>) -> Col {
        Col { name: name.into(), mask, hidden: false }
    }

    /// The name, where the guard knows what the engine calls the column.
    pub fn known_name(&self) -> Option<&str> {
        (self.name != UNNAMED && !self.name.is_empty()).then_some(self.name.as_str())
    }
}

#[derive(Debug, Clone)]
struct Rel {
    name: String,
    /// The name as written, to qualify references with; `None` where a query cannot name it.
    ident: Option<Ident>,
    cols: Vec<Col>,
    /// The engine decides its columns at run time (PostgreSQL's unnest of a row type): `*`
    /// over it cannot be counted.
    opaque: bool,
}

impl Rel {
    fn first_masked(&self) -> Option<&str> {
        self.cols.iter().find_map(|c| c.mask.as_deref())
    }

    /// The output names a clause may read (see [`Scope::with_outputs`]).
    fn is_output(&self) -> bool {
        self.name == OUTPUT
    }
}

/// A relation name no query can spell, so only unqualified names reach the output columns.
const OUTPUT: &str = "\0output";

#[derive(Default)]
struct Scope<'a> {
    rels: Vec<Rel>,
    /// A JOIN … USING / NATURAL merges columns, so `*` cannot be counted from the parts.
    merged_columns: bool,
    /// The names it merged: a reference to one stays unqualified (the engine reads the merged
    /// column); every other reference is still qualified.
    merged: Vec<String>,
    outer: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    /// This scope with the query's output columns added, for clauses that may name them.
    fn with_outputs(&self, outputs: &[Col]) -> Scope<'a> {
        let mut rels = self.rels.clone();
        rels.push(Rel { name: OUTPUT.into(), ident: None, cols: outputs.to_vec(), opaque: false });
        Scope {
            rels,
            merged_columns: self.merged_columns,
            merged: self.merged.clone(),
            outer: self.outer,
        }
    }
}

enum Resolved {
    Column(Option<String>),
    WholeRow(Option<String>),
    Unknown,
}

/// A column name as the engine compares it: PostgreSQL folds unquoted names to lower case (ASCII
/// only) and keeps quoted ones as written; MariaDB compares column names without case; SQLite
/// folds ASCII letters, quoted or not.
fn norm(engine: Engine, ident: &Ident) -> String {
    match (engine, ident.quote_style) {
        (Engine::Postgres, None) | (Engine::Sqlite, _) => ident.value.to_ascii_lowercase(),
        (Engine::Postgres, Some(_)) => ident.value.clone(),
        (Engine::Mysql, _) => ident.value.to_lowercase(),
    }
}

/// A relation name (table, alias, CTE) as the engine compares it: as a column name, except that
/// MariaDB keeps the case of table names and aliases (on the Unix servers it runs on).
fn norm_rel(engine: Engine, ident: &Ident) -> String {
    match engine {
        Engine::Mysql => ident.value.clone(),
        _ => norm(engine, ident),
    }
}

/// Deepest nesting of expressions the guard walks: a longer chain (`1+1+…`) is refused before it
/// can exhaust a stack.
pub const MAX_EXPRESSION_DEPTH: usize = 500;

fn unsupported(what: impl std::fmt::Display) -> Refusal {
    Refusal::new(format!(
        "{what} is not supported by the query guard; write the query in plain SELECT form"
    ))
}

/// Most walk steps the analysis of one statement may take: nested recursive CTEs are re-read
/// until their masks settle, which grows exponentially with their depth.
pub const STEP_BUDGET: usize = 200_000;

/// The stricter rule: cheaper than modelling how each engine reads positions and sorts.
fn masked_output_ordered(column: &str, how: &str) -> Refusal {
    Refusal::new(format!(
        "the masked column {column} is in this query's output, so the query may not {how}: \
         an order, grouping or de-duplication that follows a masked value reveals it. Order and group by named columns \
         (not a position in parentheses or with a sign, not a constant), and combine results with UNION ALL"
    ))
}

fn masked_use(column: &str) -> Refusal {
    Refusal::new(format!(
        "the masked column {column} may only be selected as it is (it is then masked), compared with = or IN to literals, \
         tested with IS NULL, or counted; to find a row, look it up by its key"
    ))
}

/// The variant name of an AST node, for refusal messages.
pub(super) fn kind_name(node: &impl std::fmt::Debug) -> String {
    let text = format!("{node:?}");
    text.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("this form").to_string()
}

pub struct Analyzer<'a> {
    pub schema: &'a Schema,
    pub masks: &'a [String],
    pub allowed: &'a Allowed,
    /// Off while reading a view's own definition: its owner chose what it calls.
    pub check_calls: bool,
    /// CTEs in scope, innermost last; `None` while a WITH RECURSIVE names one not yet defined.
    ctes: Vec<(String, Option<Vec<Col>>)>,
    depth: usize,
    /// Walk steps taken so far, against [`STEP_BUDGET`]; name lookups charge it too.
    steps: std::cell::Cell<usize>,
    /// How deep the expression walk is now, against [`MAX_EXPRESSION_DEPTH`].
    expression_depth: usize,
    /// PostgreSQL tables named without a schema, by where their name starts: the schema the guard
    /// found them in, which the canonical printer writes (PostgreSQL would look in pg_catalog first).
    schemas: std::cell::RefCell<std::collections::HashMap<(u64, u64), String>>,
    /// Column references resolved to exactly one named relation, by where they start; `None`
    /// where two walks disagreed. The canonical printer qualifies them.
    qualifiers: std::cell::RefCell<std::collections::HashMap<(u64, u64), Option<Ident>>>,
    /// Masked columns tested by existence checks, for the audit.
    pub probed: Vec<String>,
}

impl<'a> Analyzer<'a> {
    pub fn new(schema: &'a Schema, masks: &'a [String], allowed: &'a Allowed) -> Self {
        Analyzer {
            schema,
            masks,
            allowed,
            check_calls: true,
            ctes: Vec::new(),
            depth: 0,
            steps: Default::default(),
            expression_depth: 0,
            schemas: Default::default(),
            qualifiers: Default::default(),
            probed: Vec::new(),
        }
    }

    /// What the canonical printer writes beyond the statement (see [`crate::query::guard::canonical`]).
    pub fn resolutions(&self) -> Resolutions {
        Resolutions {
            columns: self
                .qualifiers
                .borrow()
                .iter()
                .filter_map(|(at, q)| q.clone().map(|q| (*at, q)))
                .collect(),
            schemas: self.schemas.borrow().clone(),
        }
    }

    fn col(&self, ident: &Ident) -> String {
        norm(self.engine(), ident)
    }

    fn rel(&self, ident: &Ident) -> String {
        norm_rel(self.engine(), ident)
    }

    /// Charges `n` steps of work (name lookups, scope copies); the next step refuses past the budget.
    fn charge(&self, n: usize) {
        self.steps.set(self.steps.get().saturating_add(n));
    }

    fn step(&mut self) -> R<()> {
        self.charge(1);
        if self.steps.get() > STEP_BUDGET {
            return Err(Refusal::new(format!(
                "the query is too complex for the guard to check within its budget of {STEP_BUDGET} steps; split it or nest fewer recursive CTEs"
            )));
        }
        Ok(())
    }

    fn engine(&self) -> Engine {
        self.allowed.engine()
    }
}

fn find_rel<'s>(scope: &'s Scope, name: &str) -> Option<&'s Rel> {
    let mut current = Some(scope);
    while let Some(s) = current {
        if let Some(r) = s.rels.iter().find(|r| r.name == name) {
            return Some(r);
        }
        current = s.outer;
    }
    None
}

/// Adds a FROM item; two of one name in one FROM would leave each engine to pick one its own way.
fn push_rel(analyzer: &mut Analyzer, scope: &mut Scope, rel: Rel) -> R<()> {
    analyzer.charge(scope.rels.len());
    analyzer.step()?;
    let folded = rel.name.to_lowercase();
    if !rel.name.is_empty()
        && scope
            .rels
            .iter()
            .any(|r| r.name.len() == rel.name.len() && r.name.to_lowercase() == folded)
    {
        return Err(Refusal::new(format!(
            "two tables of this FROM are called {}; give them different aliases",
            rel.name
        )));
    }
    scope.rels.push(rel);
    Ok(())
}

/// A relation called `name` in a scope nearer than `found`: a qualifier would name it instead.
fn shadowed_inside(scope: &Scope, found: &Scope, name: &str) -> bool {
    let mut current = Some(scope);
    while let Some(s) = current {
        if std::ptr::eq(s, found) {
            return false;
        }
        if s.rels.iter().any(|r| r.name == name) {
            return true;
        }
        current = s.outer;
    }
    false
}

/// The PARTITION BY and ORDER BY expressions of every window in `items`.
fn window_keys(items: &[SelectItem]) -> Vec<Expr> {
    use std::ops::ControlFlow;
    struct Finder(Vec<Expr>);
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if let Expr::Function(Function { over: Some(WindowType::WindowSpec(spec)), .. }) = e {
                self.0.extend(spec.partition_by.iter().cloned());
                self.0.extend(spec.order_by.iter().map(|o| o.expr.clone()));
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(Vec::new());
    for item in items {
        let _ = item.visit(&mut finder);
    }
    finder.0
}

/// An `ARRAY[…]` of literals: unnest of it has one column, whatever the engine.
fn scalar_array(e: &Expr) -> bool {
    let literal = |e: &Expr| match e {
        Expr::Value(_) | Expr::TypedString(_) => true,
        Expr::UnaryOp { op: UnaryOperator::Minus, expr } => matches!(**expr, Expr::Value(_)),
        _ => false,
    };
    matches!(e, Expr::Array(a) if a.elem.iter().all(literal))
}

fn scalar_array_argument(arg: &FunctionArg) -> bool {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => scalar_array(e),
        _ => false,
    }
}

/// Whether `e` holds a query of its own.
fn has_subquery(e: &Expr) -> bool {
    use std::ops::ControlFlow;
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
    }
    e.visit(&mut Finder).is_break()
}

/// Whether `e` names a column anywhere (a sort key that does not is a constant, or a position).
fn mentions_column(e: &Expr) -> bool {
    use std::ops::ControlFlow;
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if is_column_ref(e) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    e.visit(&mut Finder).is_break()
}

fn is_column_ref(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

fn no_wildcard_options(options: &WildcardAdditionalOptions) -> R<()> {
    if options.opt_ilike.is_some()
        || options.opt_exclude.is_some()
        || options.opt_except.is_some()
        || options.opt_replace.is_some()
        || options.opt_rename.is_some()
    {
        return Err(unsupported("* with EXCLUDE/EXCEPT/REPLACE/RENAME"));
    }
    Ok(())
}

/// A column name no reference can spell: where the guard is not sure what an engine calls a
/// column, a reference must not find it (it would find what the engine finds instead).
const UNNAMED: &str = "\0unnamed";

/// The name an engine gives an unnamed output column, as far as outer queries refer to it: a
/// column reference is named after its column everywhere; PostgreSQL also names a call after
/// its function, a cast or parentheses after what they hold, and a scalar subquery after its
/// column. MariaDB and SQLite name everything else after its text, which the canonical form
/// rewrites: [`UNNAMED`], as is every other form whose name the guard does not model.
fn output_name(engine: Engine, e: &Expr) -> String {
    let postgres = engine == Engine::Postgres;
    match e {
        Expr::Identifier(i) => norm(engine, i),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| norm(engine, i)).unwrap_or_default()
        }
        Expr::Function(f) if postgres => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_lowercase())
            .unwrap_or_default(),
        Expr::Cast { expr, .. } | Expr::Nested(expr) if postgres => output_name(engine, expr),
        Expr::Subquery(q) if postgres => query_output_name(engine, q),
        _ => UNNAMED.into(),
    }
}

fn query_output_name(engine: Engine, q: &Query) -> String {
    let mut body = &*q.body;
    loop {
        match body {
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(q) => body = &q.body,
            SetExpr::Select(s) => {
                return match s.projection.first() {
                    Some(SelectItem::UnnamedExpr(e)) => output_name(engine, e),
                    Some(SelectItem::ExprWithAlias { alias, .. }) => norm(engine, alias),
                    _ => UNNAMED.into(),
                }
            }
            _ => return UNNAMED.into(),
        }
    }
}

/// Column aliases (`AS t(a, b)`) rename positionally and keep the lineage.
/// An alias list names every column or none: a shorter list would leave the engine's columns
/// past it (where the engine counts more than the guard, a masked one) under names the guard
/// did not give. Hidden columns take no alias.
fn rename(engine: Engine, mut cols: Vec<Col>, aliases: &[TableAliasColumnDef]) -> R<Vec<Col>> {
    let visible = cols.iter().filter(|c| !c.hidden).count();
    if !aliases.is_empty() && aliases.len() != visible {
        return Err(Refusal::new(format!(
            "the alias list names {} columns; there are {visible}: name every column",
            aliases.len()
        )));
    }
    for (col, alias) in cols.iter_mut().filter(|c| !c.hidden).zip(aliases) {
        col.name = norm(engine, &alias.name);
    }
    Ok(cols)
}

/// Branches of a UNION (or a recursive CTE's parts): a column is masked if any branch's is.
fn merge(mut left: Vec<Col>, right: &[Col]) -> R<Vec<Col>> {
    if left.len() != right.len() {
        return Err(Refusal::new(
            "the parts of the set operation have different numbers of columns",
        ));
    }
    for (l, r) in left.iter_mut().zip(right) {
        if l.mask.is_none() {
            l.mask = r.mask.clone();
        }
    }
    Ok(left)
}
