//! Masks by lineage, and an allow-list of query shapes.
//!
//! Every column reference is resolved against the replica's schema (tables, views, derived
//! tables, CTEs, `*`), so each output column knows whether it carries a masked base column.
//! A masked column may leave the query only projected bare (it is then masked, whatever it is
//! called); in a predicate it may be compared with `=` or `IN` to literals or tested `IS NULL`,
//! and it may be counted. Any other use is refused with the column's name. Shapes of SQL this
//! walk does not know are refused too, so a new syntax cannot carry data past it.

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

    /// What the canonical printer writes beyond the statement (see [`super::canonical`]).
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

    /// The output columns of `query`, each with its lineage.
    pub fn query(&mut self, q: &Query) -> R<Vec<Col>> {
        self.query_in(q, None)
    }

    fn query_in(&mut self, q: &Query, outer: Option<&Scope>) -> R<Vec<Col>> {
        if !q.locks.is_empty() {
            return Err(Refusal::new("locking clauses (FOR UPDATE / FOR SHARE) are not allowed"));
        }
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return Err(unsupported("this query clause"));
        }
        self.step()?;
        self.depth += 1;
        if self.depth > 64 {
            return Err(Refusal::new("the query nests too deeply to be checked"));
        }
        let base = self.ctes.len();
        let result = self.query_body(q, outer);
        self.ctes.truncate(base);
        self.depth -= 1;
        result
    }

    fn query_body(&mut self, q: &Query, outer: Option<&Scope>) -> R<Vec<Col>> {
        if let Some(with) = &q.with {
            let base = self.ctes.len();
            // WITH RECURSIVE lets each CTE see all the others, and SQLite's plain WITH does too,
            // so a name that reads as a table may be a later CTE: every name is registered
            // before any is read, on every engine, and a CTE read before it is defined is refused.
            for cte in &with.cte_tables {
                self.ctes.push((self.rel(&cte.alias.name), None));
            }
            for (i, cte) in with.cte_tables.iter().enumerate() {
                if cte.from.is_some() {
                    return Err(unsupported("CTE ... FROM"));
                }
                let cols = if with.recursive {
                    self.recursive_cte(cte, base + i, outer)?
                } else {
                    self.query_in(&cte.query, outer)?
                };
                self.ctes[base + i].1 = Some(rename(self.engine(), cols, &cte.alias.columns)?);
            }
        }
        let cols = match &*q.body {
            SetExpr::Select(select) => self.select(select, outer, q.order_by.as_ref())?,
            other => {
                let cols = self.set_expr(other, outer)?;
                if let Some(order_by) = &q.order_by {
                    self.order_by(
                        order_by,
                        &Scope { outer, ..Scope::default() }.with_outputs(&cols),
                        &cols,
                    )?;
                }
                cols
            }
        };
        let empty = Scope { outer, ..Scope::default() };
        match &q.limit_clause {
            None => {}
            Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
                if !limit_by.is_empty() {
                    return Err(unsupported("LIMIT BY"));
                }
                for e in limit.iter().chain(offset.as_ref().map(|o| &o.value)) {
                    self.clean(e, &empty)?;
                }
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                self.clean(offset, &empty)?;
                self.clean(limit, &empty)?;
            }
        }
        if let Some(fetch) = &q.fetch {
            if let Some(e) = &fetch.quantity {
                self.clean(e, &empty)?;
            }
        }
        Ok(cols)
    }

    /// A recursive CTE's columns: seeded from its first branch, then read again with what it
    /// carries so far until no more columns turn masked (each round masks one more, or stops).
    fn recursive_cte(&mut self, cte: &Cte, slot: usize, outer: Option<&Scope>) -> R<Vec<Col>> {
        if !matches!(&*cte.query.body, SetExpr::SetOperation { .. }) {
            return self.query_in(&cte.query, outer);
        }
        let mut seed_body = &*cte.query.body;
        while let SetExpr::SetOperation { left, .. } = seed_body {
            seed_body = left;
        }
        let seed = self.set_expr(seed_body, outer)?;
        let mut current = rename(self.engine(), seed, &cte.alias.columns)?;
        for _ in 0..=current.len() {
            self.ctes[slot].1 = Some(current.clone());
            let full =
                rename(self.engine(), self.query_in(&cte.query, outer)?, &cte.alias.columns)?;
            let next = merge(full, &current)?;
            let stable =
                next.iter().zip(&current).all(|(a, b)| a.mask.is_some() == b.mask.is_some());
            current = next;
            if stable {
                return Ok(current);
            }
        }
        Err(Refusal::new("the recursive CTE could not be checked"))
    }

    fn set_expr(&mut self, body: &SetExpr, outer: Option<&Scope>) -> R<Vec<Col>> {
        match body {
            SetExpr::Select(select) => self.select(select, outer, None),
            SetExpr::Query(q) => self.query_in(q, outer),
            SetExpr::SetOperation { left, right, op, set_quantifier } => {
                let left = self.set_expr(left, outer)?;
                let right = self.set_expr(right, outer)?;
                let merged = merge(left, &right)?;
                // Only UNION ALL appends; the others compare, and SQLite sorts a UNION by all its columns.
                let appends = matches!(op, SetOperator::Union)
                    && matches!(set_quantifier, SetQuantifier::All);
                if let (Some(m), false) = (merged.iter().find_map(|c| c.mask.as_deref()), appends) {
                    return Err(masked_output_ordered(
                        m,
                        format!("combine results with {op} {set_quantifier}").trim(),
                    ));
                }
                Ok(merged)
            }
            SetExpr::Values(values) => {
                let scope = Scope { outer, ..Scope::default() };
                let mut width = 0;
                for row in &values.rows {
                    width = width.max(row.len());
                    for e in row.iter() {
                        self.clean(e, &scope)?;
                    }
                }
                // PostgreSQL and SQLite call them column1, column2, …; MariaDB after the first row.
                let name = |i: usize| {
                    if self.engine() == Engine::Mysql {
                        UNNAMED.to_string()
                    } else {
                        format!("column{i}")
                    }
                };
                Ok((1..=width).map(|i| Col::named(name(i), None)).collect())
            }
            SetExpr::Table(_) => {
                Err(Refusal::new("TABLE t is not supported; write SELECT * FROM t"))
            }
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                Err(Refusal::new("a data-modifying part is not allowed, even inside WITH"))
            }
        }
    }

    fn select(
        &mut self,
        s: &Select,
        outer: Option<&Scope>,
        order_by: Option<&OrderBy>,
    ) -> R<Vec<Col>> {
        if !s.optimizer_hints.is_empty() {
            return Err(Refusal::new(
                "optimizer hints (/*+ … */) are not allowed: they can lift the statement timeout",
            ));
        }
        if s.into.is_some() {
            return Err(Refusal::new("SELECT INTO creates a table and is not allowed"));
        }
        if s.top.is_some()
            || s.select_modifiers.is_some()
            || s.exclude.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || !s.connect_by.is_empty()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
            || !s.named_window.is_empty()
            || s.qualify.is_some()
            || s.value_table_mode.is_some()
        {
            return Err(unsupported("this SELECT clause"));
        }
        self.step()?;
        let mut scope = Scope { outer, ..Scope::default() };
        // ON conditions are read once the output names are known: SQLite lets them see those.
        let mut ons = Vec::new();
        for from in &s.from {
            self.table_with_joins(from, &mut scope, &mut ons)?;
        }
        // A MariaDB select-list subquery reads an earlier item's alias (SQLite is treated alike):
        // an item with a subquery sees the FROM columns and the earlier outputs as one level, so
        // a name that is masked on either side counts as masked.
        let earlier_outputs = matches!(self.engine(), Engine::Mysql | Engine::Sqlite);
        let mut cols = Vec::new();
        for item in &s.projection {
            let item_scope;
            let expr = match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
                _ => None,
            };
            let visible = if earlier_outputs && !cols.is_empty() && expr.is_some_and(has_subquery) {
                self.charge(cols.len() + scope.rels.iter().map(|r| r.cols.len()).sum::<usize>());
                self.step()?;
                item_scope = scope.with_outputs(&cols);
                &item_scope
            } else {
                &scope
            };
            match item {
                SelectItem::UnnamedExpr(e) => cols
                    .push(Col::named(output_name(self.engine(), e), self.projected(e, visible)?)),
                SelectItem::ExprWithAlias { expr, alias } => {
                    cols.push(Col::named(self.col(alias), self.projected(expr, visible)?))
                }
                SelectItem::Wildcard(options) => {
                    no_wildcard_options(options)?;
                    if scope.merged_columns {
                        return Err(Refusal::new("SELECT * over JOIN … USING or NATURAL JOIN cannot be checked; name the columns"));
                    }
                    if scope.rels.is_empty() {
                        return Err(Refusal::new("SELECT * needs a FROM clause"));
                    }
                    self.charge(scope.rels.iter().map(|r| r.cols.len()).sum());
                    self.step()?;
                    if scope.rels.iter().any(|r| r.opaque) {
                        return Err(Refusal::new("SELECT * over unnest cannot be counted (an array of rows has the row's columns); name the columns"));
                    }
                    cols.extend(
                        scope
                            .rels
                            .iter()
                            .flat_map(|r| r.cols.iter().filter(|c| !c.hidden).cloned()),
                    );
                }
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(name),
                    options,
                ) => {
                    no_wildcard_options(options)?;
                    let rel = name
                        .0
                        .last()
                        .and_then(|p| p.as_ident())
                        .map(|i| self.rel(i))
                        .unwrap_or_default();
                    if name.0.len() != 1 {
                        return Err(unsupported(format!(
                            "{name}.*; write the table's name or alias alone"
                        )));
                    }
                    match scope.rels.iter().find(|r| r.name == rel && !r.is_output()) {
                        Some(r) if r.opaque => {
                            return Err(Refusal::new(format!("{name}.* over unnest cannot be counted (an array of rows has the row's columns); name the columns")))
                        }
                        Some(r) => {
                            self.charge(r.cols.len());
                            cols.extend(r.cols.iter().filter(|c| !c.hidden).cloned());
                        }
                        None => return Err(Refusal::unknown(format!("{name}.* names no table of this query"))),
                    }
                }
                other => return Err(unsupported(format!("the select item {other}"))),
            }
        }
        // DISTINCT ON, GROUP BY, HAVING and ORDER BY may also name output columns.
        self.charge(cols.len() + scope.rels.iter().map(|r| r.cols.len()).sum::<usize>());
        self.step()?;
        let named = scope.with_outputs(&cols);
        // MariaDB's window PARTITION BY and ORDER BY read output names before input columns.
        if self.engine() == Engine::Mysql {
            for e in window_keys(&s.projection) {
                self.clean(&e, &named)?;
            }
        }
        match &s.distinct {
            Some(Distinct::On(exprs)) => {
                for e in exprs {
                    self.sort_key(e, &named, &cols)?;
                }
            }
            Some(Distinct::Distinct) => {
                if let Some(m) = cols.iter().find_map(|c| c.mask.as_deref()) {
                    return Err(masked_output_ordered(m, "be DISTINCT"));
                }
            }
            Some(Distinct::All) | None => {}
        }
        // SQLite's WHERE and ON read the same SELECT's output names after its FROM columns and
        // before outer ones; elsewhere they see the FROM columns only.
        let sqlite = self.engine() == Engine::Sqlite;
        for (on, visible) in ons {
            self.charge(
                scope.rels[visible.clone()].iter().map(|r| r.cols.len()).sum::<usize>()
                    + cols.len(),
            );
            let mut at_join = Scope {
                rels: scope.rels[visible].to_vec(),
                merged_columns: scope.merged_columns,
                merged: scope.merged.clone(),
                outer: scope.outer,
            };
            if sqlite {
                at_join = at_join.with_outputs(&cols);
            }
            self.predicate(on, &at_join)?;
        }
        if let Some(w) = &s.selection {
            self.predicate(w, if sqlite { &named } else { &scope })?;
        }
        match &s.group_by {
            GroupByExpr::All(modifiers) => {
                if !modifiers.is_empty() || cols.iter().any(|c| c.mask.is_some()) {
                    return Err(unsupported("GROUP BY ALL over masked columns"));
                }
            }
            GroupByExpr::Expressions(exprs, modifiers) => {
                if !modifiers.is_empty() {
                    return Err(unsupported("GROUP BY … WITH ROLLUP/CUBE"));
                }
                for e in exprs {
                    self.sort_key(e, &named, &cols)?;
                }
            }
        }
        if let Some(h) = &s.having {
            // MariaDB and SQLite let HAVING read output names as well.
            self.predicate(h, &named)?;
        }
        if let Some(order_by) = order_by {
            self.order_by(order_by, &named, &cols)?;
        }
        Ok(cols)
    }

    /// `named`: the query's scope with its output columns added (see [`Scope::with_outputs`]).
    fn order_by(&mut self, order_by: &OrderBy, named: &Scope, outputs: &[Col]) -> R<()> {
        if order_by.interpolate.is_some() {
            return Err(unsupported("ORDER BY … INTERPOLATE"));
        }
        match &order_by.kind {
            OrderByKind::All(_) => Err(unsupported("ORDER BY ALL")),
            OrderByKind::Expressions(exprs) => {
                for e in exprs {
                    if e.with_fill.is_some() {
                        return Err(unsupported("ORDER BY … WITH FILL"));
                    }
                    self.sort_key(&e.expr, named, outputs)?;
                }
                Ok(())
            }
        }
    }

    /// A GROUP BY, ORDER BY or DISTINCT ON key: an output position, an output name, or an
    /// expression over the FROM columns; never a masked column (its order would leak it).
    /// `named` holds the output columns too: engines read output names here (PostgreSQL before
    /// input columns, MariaDB and SQLite inside expressions as well), so a name masked on either
    /// side is refused.
    fn sort_key(&mut self, e: &Expr, named: &Scope, outputs: &[Col]) -> R<()> {
        // Engines read `(1)`, `+1`, `1 COLLATE x` or a constant expression as a position, or
        // not, each its own way: with a masked output, a key must name a column.
        let position = matches!(e, Expr::Value(ValueWithSpan { value: Value::Number(n, _), .. }) if n.bytes().all(|b| b.is_ascii_digit()));
        if let (Some(m), false) =
            (outputs.iter().find_map(|c| c.mask.as_deref()), position || mentions_column(e))
        {
            return Err(masked_output_ordered(
                m,
                &format!("order, group or pick DISTINCT ON by {e}"),
            ));
        }
        if let Expr::Value(ValueWithSpan { value: Value::Number(n, _), .. }) = e {
            // A position past the output is an error on most engines; MariaDB reads it modulo 2^32.
            return match n
                .parse::<usize>()
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| outputs.get(i))
            {
                Some(Col { mask: Some(m), .. }) => Err(masked_use(m)),
                Some(_) => Ok(()),
                None if position => Err(Refusal::new(format!(
                    "the position {n} is not a column of the output (1 to {})",
                    outputs.len()
                ))),
                None => self.clean(e, named),
            };
        }
        self.clean(e, named)
    }

    /// `ons`: each ON condition with the relations it sees (a range of `scope.rels`), read after
    /// the projection. PostgreSQL and MariaDB let an ON see only the relations of its own join
    /// tree, not the FROM items before a comma; SQLite lets it see every relation to its left.
    fn table_with_joins<'q>(
        &mut self,
        twj: &'q TableWithJoins,
        scope: &mut Scope,
        ons: &mut Vec<(&'q Expr, std::ops::Range<usize>)>,
    ) -> R<()> {
        let first = if self.engine() == Engine::Sqlite { 0 } else { scope.rels.len() };
        self.table_factor(&twj.relation, scope, ons)?;
        for join in &twj.joins {
            let before = scope.rels.len();
            self.table_factor(&join.relation, scope, ons)?;
            let constraint = match &join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c)
                | JoinOperator::CrossJoin(c)
                | JoinOperator::StraightJoin(c) => c,
                other => return Err(unsupported(format!("the join {}", kind_name(other)))),
            };
            match constraint {
                JoinConstraint::On(e) => ons.push((e, first..scope.rels.len())),
                JoinConstraint::None => {}
                // A merged column compares its sides: every column of that name, on either side,
                // must be clean (not only the first one found).
                JoinConstraint::Using(names) => {
                    scope.merged_columns = true;
                    for name in names {
                        let col = name
                            .0
                            .last()
                            .and_then(|p| p.as_ident())
                            .map(|i| self.col(i))
                            .unwrap_or_default();
                        self.charge(scope.rels.iter().map(|r| r.cols.len() + 1).sum());
                        if let Some(m) = scope
                            .rels
                            .iter()
                            .flat_map(|r| &r.cols)
                            .filter(|c| c.name == col)
                            .find_map(|c| c.mask.clone())
                        {
                            return Err(masked_use(&m));
                        }
                        scope.merged.push(col);
                    }
                }
                JoinConstraint::Natural => {
                    scope.merged_columns = true;
                    let (left, right) = scope.rels.split_at(before);
                    let mut shared = Vec::new();
                    for col in right.iter().flat_map(|r| &r.cols) {
                        self.charge(left.iter().map(|r| r.cols.len() + 1).sum());
                        let same: Vec<&Col> = left
                            .iter()
                            .flat_map(|r| &r.cols)
                            .filter(|c| c.name == col.name)
                            .collect();
                        if same.is_empty() {
                            continue;
                        }
                        if let Some(m) =
                            same.iter().find_map(|c| c.mask.clone()).or_else(|| col.mask.clone())
                        {
                            return Err(masked_use(&m));
                        }
                        shared.push(col.name.clone());
                    }
                    scope.merged.extend(shared);
                }
            }
        }
        Ok(())
    }

    fn table_factor<'q>(
        &mut self,
        factor: &'q TableFactor,
        scope: &mut Scope,
        ons: &mut Vec<(&'q Expr, std::ops::Range<usize>)>,
    ) -> R<()> {
        self.step()?;
        let (ident, cols, alias) = match factor {
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                ..
            } => {
                if !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                {
                    return Err(unsupported(format!("this form of table reference ({name})")));
                }
                match args {
                    Some(args) => {
                        if args.settings.is_some() {
                            return Err(unsupported("table function settings"));
                        }
                        let fname = self.callable(name, Callable::Table)?;
                        self.arguments(&args.args, scope, false)?;
                        let rows = !args.args.iter().all(scalar_array_argument);
                        return self.push_function(scope, fname, alias, rows);
                    }
                    None => {
                        let cols = self.relation(name)?;
                        (name.0.last().and_then(|p| p.as_ident()).cloned(), cols, alias)
                    }
                }
            }
            TableFactor::Derived { lateral, subquery, alias, sample } => {
                if sample.is_some() {
                    return Err(unsupported("TABLESAMPLE"));
                }
                // Without LATERAL a derived table sees the enclosing query, not its siblings:
                // a sibling's name must not hide the outer relation the engine will read.
                let visible = if *lateral { Some(&*scope) } else { scope.outer };
                let cols = self.query_in(subquery, visible)?;
                (None, cols, alias)
            }
            TableFactor::Function { name, args, alias, with_ordinality, .. } => {
                if *with_ordinality {
                    return Err(unsupported("WITH ORDINALITY"));
                }
                let fname = self.callable(name, Callable::Table)?;
                self.arguments(args, scope, false)?;
                let rows = !args.iter().all(scalar_array_argument);
                return self.push_function(scope, fname, alias, rows);
            }
            TableFactor::UNNEST { alias, array_exprs, with_offset, with_ordinality, .. } => {
                if *with_offset || *with_ordinality || array_exprs.len() != 1 {
                    return Err(unsupported(
                        "UNNEST of several arrays, WITH OFFSET or WITH ORDINALITY",
                    ));
                }
                for e in array_exprs {
                    self.clean(e, scope)?;
                }
                let rows = !array_exprs.iter().all(scalar_array);
                return self.push_function(scope, "unnest".into(), alias, rows);
            }
            TableFactor::NestedJoin { table_with_joins, alias: None } => {
                return self.table_with_joins(table_with_joins, scope, ons)
            }
            other => return Err(unsupported(format!("the FROM item {}", kind_name(other)))),
        };
        let (ident, cols) = match alias {
            Some(alias) => (Some(alias.name.clone()), rename(self.engine(), cols, &alias.columns)?),
            None => (ident, cols),
        };
        let name = ident.as_ref().map(|i| self.rel(i)).unwrap_or_default();
        push_rel(self, scope, Rel { name, ident, cols, opaque: false })
    }

    /// A function in FROM: its columns are named by the alias list, else as the engine names them.
    /// An alias list longer than the function's columns is refused: it would name columns the
    /// engine does not have, and hide outer columns of the same name.
    /// `rows`: its arguments may be arrays of rows (anything but an ARRAY[…] of literals).
    fn push_function(
        &mut self,
        scope: &mut Scope,
        fname: String,
        alias: &Option<TableAlias>,
        rows: bool,
    ) -> R<()> {
        let known: &[&str] = match (self.engine(), fname.as_str()) {
            // With the hidden columns a reference may name too.
            (Engine::Sqlite, "json_each" | "json_tree") => {
                &["key", "value", "type", "atom", "id", "parent", "fullkey", "path", "json", "root"]
            }
            (_, "json_each" | "jsonb_each" | "json_each_text" | "jsonb_each_text") => {
                &["key", "value"]
            }
            // Named after their output parameter, whatever the alias.
            (
                Engine::Postgres,
                "json_array_elements"
                | "jsonb_array_elements"
                | "json_array_elements_text"
                | "jsonb_array_elements_text",
            ) => &["value"],
            _ => &[],
        };
        let rel = alias.as_ref().map(|a| self.rel(&a.name)).unwrap_or_else(|| fname.clone());
        let ident =
            Some(alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| Ident::new(&fname)));
        let aliases = alias.as_ref().map(|a| a.columns.as_slice()).unwrap_or_default();
        // Record functions return the columns their definition list declares, all from the argument.
        let record = matches!(fname.as_str(), "json_to_recordset" | "jsonb_to_recordset");
        let cols: Vec<Col> = if record {
            if aliases.is_empty() {
                return Err(Refusal::new(format!(
                    "{fname} needs a column definition list: AS r(a int, b text)"
                )));
            }
            aliases.iter().map(|a| Col::named(self.col(&a.name), None)).collect()
        } else if known.is_empty() {
            // A one-column function takes the alias as its column's name (PostgreSQL), or its own.
            vec![Col::named(rel.clone(), None)]
        } else {
            // SQLite's json_each/json_tree: `json` and `root` are hidden columns.
            known
                .iter()
                .map(|n| Col {
                    name: n.to_string(),
                    mask: None,
                    hidden: matches!(*n, "json" | "root"),
                })
                .collect()
        };
        if aliases.len() > cols.len() {
            return Err(Refusal::new(format!(
                "{fname} returns {} column(s); the alias list names {}",
                cols.len(),
                aliases.len()
            )));
        }
        let cols = rename(self.engine(), cols, aliases)?;
        // PostgreSQL's unnest of an array of rows returns the row's columns, whatever the guard counts.
        let opaque = self.engine() == Engine::Postgres && fname == "unnest" && rows;
        push_rel(self, scope, Rel { name: rel, ident, cols, opaque })?;
        Ok(())
    }

    /// A table, view or CTE named in FROM, with the lineage of its columns.
    fn relation(&mut self, name: &ObjectName) -> R<Vec<Col>> {
        let idents: Vec<&Ident> = name
            .0
            .iter()
            .map(|p| p.as_ident().ok_or_else(|| unsupported(format!("the table name {name}"))))
            .collect::<R<_>>()?;
        // The snapshot's keys are lower case; the engine's own comparison decides CTEs and aliases.
        let lower: Vec<String> = idents.iter().map(|i| i.value.to_lowercase()).collect();
        let (schema_name, table) = match (idents.as_slice(), lower.as_slice()) {
            ([t], [table]) => {
                let wanted = self.rel(t);
                match self.ctes.iter().rev().find(|(n, _)| *n == wanted) {
                    Some((_, Some(cols))) => return Ok(cols.clone()),
                    Some((_, None)) => return Err(Refusal::new(format!("the CTE {t} is read before it is defined; a CTE may read only itself and those before it"))),
                    None => {}
                }
                // MariaDB's case rule for names depends on the server's settings: a table named
                // like a CTE but for case is refused, whichever the server would read.
                if self.ctes.iter().any(|(n, _)| n.to_lowercase() == *table) {
                    return Err(Refusal::new(format!("{t} differs only in case from a CTE of this query; spell it as the CTE is spelt, or rename the CTE")));
                }
                (None, table.as_str())
            }
            ([_, _], [s, t]) => (Some(s.as_str()), t.as_str()),
            _ => return Err(unsupported(format!("the table name {name}"))),
        };
        let Some((found_in, relation)) = self.schema.locate(schema_name, table) else {
            return Err(Refusal::unknown(format!(
                "the table {name} is not known on this replica, or its schema is not among the allowed schemas ({})",
                self.schema.search_path.join(", ")
            )));
        };
        // PostgreSQL reads pg_catalog before the search path: the printed name says the schema.
        if schema_name.is_none() && self.engine() == Engine::Postgres && self.check_calls {
            let at = (idents[0].span.start.line, idents[0].span.start.column);
            if at.0 > 0 {
                self.schemas.borrow_mut().insert(at, found_in.to_string());
            }
        }
        let engine = self.engine();
        let base: Vec<Col> = relation
            .columns
            .iter()
            .map(|c| Col {
                name: norm(engine, &Ident::with_quote('"', c.as_str())),
                mask: is_masked(c, self.masks).then(|| format!("{table}.{c}")),
                hidden: relation.hidden.contains(c),
            })
            .collect();
        let Some(definition) = &relation.view_definition else { return Ok(base) };
        if self.masks.is_empty() {
            return Ok(base);
        }
        // A view is read through its own definition, so a masked column it renames stays masked.
        let through = self.view(definition).map_err(|why| {
            Refusal::new(format!(
                "the view {name} reads a masked column in a way the guard cannot mask ({})",
                why.reason
            ))
        })?;
        if through.len() != base.len() {
            return Err(Refusal::new(format!(
                "the view {name} could not be checked: its columns do not match its definition"
            )));
        }
        Ok(base
            .into_iter()
            .zip(through)
            .map(|(b, t)| Col { name: b.name, mask: b.mask.or(t.mask), hidden: b.hidden })
            .collect())
    }

    fn view(&mut self, definition: &str) -> R<Vec<Col>> {
        if self.depth > 16 {
            return Err(Refusal::new("views nest too deeply"));
        }
        let statements = sqlparser::parser::Parser::parse_sql(
            super::dialect(self.engine()).as_ref(),
            definition,
        )
        .map_err(|e| Refusal::new(format!("its definition could not be parsed: {e}")))?;
        let query = match statements.first() {
            Some(Statement::Query(q)) => q.clone(),
            Some(Statement::CreateView(create)) => create.query.clone(),
            _ => return Err(Refusal::new("its definition is not a query")),
        };
        let mut inner = Analyzer::new(self.schema, self.masks, self.allowed);
        (inner.check_calls, inner.depth) = (false, self.depth + 1);
        inner.steps.set(self.steps.get());
        let cols = inner.query(&query);
        self.steps.set(inner.steps.get());
        cols
    }

    /// A function name checked against the allow-list; returns it unescaped and lower-case.
    fn callable(&self, name: &ObjectName, callable: Callable) -> R<String> {
        let parts: Vec<&Ident> = name
            .0
            .iter()
            .map(|p| p.as_ident().ok_or_else(|| unsupported(format!("the function name {name}"))))
            .collect::<R<_>>()?;
        let last = match parts.as_slice() {
            [only] => only.value.to_lowercase(),
            [schema, f]
                if self.engine() == Engine::Postgres
                    && schema.value.to_lowercase() == "pg_catalog" =>
            {
                f.value.to_lowercase()
            }
            _ => {
                return Err(Refusal::new(format!(
                    "only built-in functions may be called; {name} is qualified"
                )))
            }
        };
        if !self.check_calls {
            return Ok(last);
        }
        if !self.allowed.allows(&last, callable) {
            return Err(Refusal::new(format!(
                "the function {name} is not on this replica's allow-list"
            )));
        }
        if self.schema.shadowing_functions.contains(&last) {
            return Err(Refusal::new(format!(
                "a function named {last} is also defined outside pg_catalog on this replica, so the call cannot be trusted"
            )));
        }
        Ok(last)
    }

    /// Arguments of a function; `counting` lets `count(col)` read a masked column.
    fn arguments(&mut self, args: &[FunctionArg], scope: &Scope, counting: bool) -> R<()> {
        for arg in args {
            let value = match arg {
                FunctionArg::Unnamed(a) | FunctionArg::Named { arg: a, .. } => a,
                FunctionArg::ExprNamed { name, arg, .. } => {
                    self.clean(name, scope)?;
                    arg
                }
            };
            match value {
                FunctionArgExpr::Expr(e) if counting && is_column_ref(e) => {
                    if let Resolved::Unknown = self.resolve_ref(e, scope) {
                        return Err(self.unknown_ref(e));
                    }
                }
                FunctionArgExpr::Expr(e) => self.clean(e, scope)?,
                FunctionArgExpr::Wildcard => {}
                FunctionArgExpr::QualifiedWildcard(name) => {
                    let rel = name
                        .0
                        .last()
                        .and_then(|p| p.as_ident())
                        .map(|i| self.rel(i))
                        .unwrap_or_default();
                    match find_rel(scope, &rel) {
                        Some(r) => {
                            if let (Some(m), false) = (r.first_masked(), counting) {
                                return Err(Refusal::new(format!("{name}.* is a whole-row reference to a row with the masked column {m}")));
                            }
                        }
                        None => {
                            return Err(Refusal::unknown(format!(
                                "{name}.* names no table of this query"
                            )))
                        }
                    }
                }
                other => return Err(unsupported(format!("the argument {other}"))),
            }
        }
        Ok(())
    }

    fn function(&mut self, f: &Function, scope: &Scope, counting_allowed: bool) -> R<()> {
        let name = self.callable(&f.name, Callable::Scalar)?;
        if !matches!(f.parameters, FunctionArguments::None) || f.uses_odbc_syntax {
            return Err(unsupported(format!("the call {}", f.name)));
        }
        let counting =
            counting_allowed && name == "count" && f.filter.is_none() && f.over.is_none();
        match &f.args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(q) => self.value_subquery(q, scope)?,
            FunctionArguments::List(list) => {
                let distinct =
                    matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
                self.arguments(&list.args, scope, counting && !distinct)?;
                for clause in &list.clauses {
                    match clause {
                        FunctionArgumentClause::OrderBy(exprs) => {
                            for e in exprs {
                                self.clean(&e.expr, scope)?;
                            }
                        }
                        FunctionArgumentClause::Where(e) | FunctionArgumentClause::Limit(e) => {
                            self.clean(e, scope)?
                        }
                        FunctionArgumentClause::Separator(_)
                        | FunctionArgumentClause::IgnoreOrRespectNulls(_) => {}
                        other => return Err(unsupported(format!("the clause {other}"))),
                    }
                }
            }
        }
        for e in &f.within_group {
            self.clean(&e.expr, scope)?;
        }
        if let Some(filter) = &f.filter {
            self.clean(filter, scope)?;
        }
        match &f.over {
            None => {}
            Some(WindowType::WindowSpec(spec)) => {
                if spec.window_name.is_some() {
                    return Err(unsupported("named windows"));
                }
                for e in &spec.partition_by {
                    self.clean(e, scope)?;
                }
                for e in &spec.order_by {
                    self.clean(&e.expr, scope)?;
                }
                if let Some(frame) = &spec.window_frame {
                    for bound in std::iter::once(&frame.start_bound).chain(&frame.end_bound) {
                        if let WindowFrameBound::Preceding(Some(e))
                        | WindowFrameBound::Following(Some(e)) = bound
                        {
                            self.clean(e, scope)?;
                        }
                    }
                }
            }
            Some(WindowType::NamedWindow(_)) => return Err(unsupported("named windows")),
        }
        Ok(())
    }

    /// A projected expression: a bare column keeps its lineage (and will be masked); anything
    /// else must not touch a masked column.
    fn projected(&mut self, e: &Expr, scope: &Scope) -> R<Option<String>> {
        match e {
            Expr::Nested(inner) => self.projected(inner, scope),
            e if is_column_ref(e) => match self.resolve_ref(e, scope) {
                Resolved::Column(mask) => Ok(mask),
                Resolved::WholeRow(Some(m)) => Err(Refusal::new(format!(
                    "{e} is a whole-row reference to a row with the masked column {m}"
                ))),
                Resolved::WholeRow(None) => Ok(None),
                Resolved::Unknown => Err(self.unknown_ref(e)),
            },
            Expr::Subquery(q) => {
                let cols = self.query_in(q, Some(scope))?;
                Ok(cols.into_iter().find_map(|c| c.mask))
            }
            Expr::Function(f) => {
                self.function(f, scope, true)?;
                Ok(None)
            }
            other => {
                self.clean(other, scope)?;
                Ok(None)
            }
        }
    }

    /// A WHERE, HAVING or ON condition: masked columns may appear only as existence checks.
    fn predicate(&mut self, e: &Expr, scope: &Scope) -> R<()> {
        self.one_level_deeper("conditions", "use IN (…) for long lists", |this| {
            this.predicate_inner(e, scope)
        })
    }

    /// Runs `walk` one level deeper into the expression tree, within [`MAX_EXPRESSION_DEPTH`].
    fn one_level_deeper(
        &mut self,
        what: &str,
        advice: &str,
        walk: impl FnOnce(&mut Self) -> R<()>,
    ) -> R<()> {
        self.step()?;
        if self.expression_depth >= MAX_EXPRESSION_DEPTH {
            return Err(Refusal::new(format!(
                "the query nests {what} more than {MAX_EXPRESSION_DEPTH} deep; {advice}"
            )));
        }
        self.expression_depth += 1;
        let result = walk(self);
        self.expression_depth -= 1;
        result
    }

    fn predicate_inner(&mut self, e: &Expr, scope: &Scope) -> R<()> {
        let probe = match e {
            Expr::BinaryOp { left, op: BinaryOperator::And | BinaryOperator::Or, right } => {
                self.predicate(left, scope)?;
                return self.predicate(right, scope);
            }
            Expr::UnaryOp { op: UnaryOperator::Not, expr } | Expr::Nested(expr) => {
                return self.predicate(expr, scope)
            }
            Expr::BinaryOp { left, op: BinaryOperator::Eq, right } if self.is_literal(right) => {
                self.masked_ref(left, scope)
            }
            Expr::BinaryOp { left, op: BinaryOperator::Eq, right } if self.is_literal(left) => {
                self.masked_ref(right, scope)
            }
            Expr::InList { expr, list, .. } if list.iter().all(|x| self.is_literal(x)) => {
                self.masked_ref(expr, scope)
            }
            Expr::IsNull(expr) | Expr::IsNotNull(expr) => self.masked_ref(expr, scope),
            _ => None,
        };
        match probe {
            Some(column) => {
                if !self.probed.contains(&column) {
                    self.probed.push(column);
                }
                Ok(())
            }
            None => self.clean(e, scope),
        }
    }

    /// The masked column `e` names, if it is a bare reference to one.
    fn masked_ref(&self, e: &Expr, scope: &Scope) -> Option<String> {
        if !is_column_ref(e) {
            return None;
        }
        match self.resolve_ref(e, scope) {
            Resolved::Column(mask) => mask,
            _ => None,
        }
    }

    /// A literal a masked column may be compared with. MariaDB compares a string with a number
    /// (or a date) by converting the string, so `email = 0` would test its prefix: strings only there.
    fn is_literal(&self, e: &Expr) -> bool {
        let mysql = self.engine() == Engine::Mysql;
        match e {
            Expr::Value(v) => match &v.value {
                Value::Placeholder(_) => false,
                Value::SingleQuotedString(_)
                | Value::DoubleQuotedString(_)
                | Value::NationalStringLiteral(_)
                | Value::Null => true,
                _ => !mysql,
            },
            Expr::UnaryOp { op: UnaryOperator::Minus, expr } => {
                !mysql
                    && matches!(**expr, Expr::Value(ValueWithSpan { value: Value::Number(..), .. }))
            }
            Expr::TypedString(t) => !mysql && cast_allowed(&t.data_type.to_string()),
            _ => false,
        }
    }

    /// A subquery used as a value: its result must not carry a masked column.
    fn value_subquery(&mut self, q: &Query, scope: &Scope) -> R<()> {
        match self.query_in(q, Some(scope))?.into_iter().find_map(|c| c.mask) {
            Some(m) => Err(masked_use(&m)),
            None => Ok(()),
        }
    }

    /// An expression that must not touch a masked column at all.
    fn clean(&mut self, e: &Expr, scope: &Scope) -> R<()> {
        self.one_level_deeper(
            "expressions",
            "each operator of a + b + … is a level: compute long chains in steps, through a CTE",
            |this| this.clean_inner(e, scope),
        )
    }

    fn clean_inner(&mut self, e: &Expr, scope: &Scope) -> R<()> {
        match e {
            Expr::Identifier(ident) if ident.value.starts_with('@') => {
                Err(Refusal::new("user variables (@name) are not allowed"))
            }
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => match self.resolve_ref(e, scope) {
                Resolved::Column(None) | Resolved::WholeRow(None) => Ok(()),
                Resolved::Column(Some(m)) => Err(masked_use(&m)),
                Resolved::WholeRow(Some(m)) => Err(Refusal::new(format!(
                    "{e} is a whole-row reference to a row with the masked column {m}"
                ))),
                Resolved::Unknown => Err(self.unknown_ref(e)),
            },
            Expr::Value(v) => match &v.value {
                Value::Placeholder(_) => Err(Refusal::new(
                    "parameters ($1, ?) are not supported; write the value in the query",
                )),
                _ => Ok(()),
            },
            Expr::TypedString(t) => self.cast_type(&t.data_type),
            Expr::BinaryOp { left, op, right } => {
                self.operator(op)?;
                self.clean(left, scope)?;
                self.clean(right, scope)
            }
            Expr::AnyOp { left, compare_op, right, .. }
            | Expr::AllOp { left, compare_op, right } => {
                self.operator(compare_op)?;
                self.clean(left, scope)?;
                self.clean(right, scope)
            }
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Plus
                | UnaryOperator::Minus
                | UnaryOperator::Not
                | UnaryOperator::BitwiseNot => self.clean(expr, scope),
                other => Err(unsupported(format!("the operator {other}"))),
            },
            Expr::Nested(x)
            | Expr::IsNull(x)
            | Expr::IsNotNull(x)
            | Expr::IsTrue(x)
            | Expr::IsNotTrue(x)
            | Expr::IsFalse(x)
            | Expr::IsNotFalse(x)
            | Expr::IsUnknown(x)
            | Expr::IsNotUnknown(x)
            | Expr::Ceil { expr: x, .. }
            | Expr::Floor { expr: x, .. }
            | Expr::Extract { expr: x, .. } => self.clean(x, scope),
            Expr::IsDistinctFrom(a, b)
            | Expr::IsNotDistinctFrom(a, b)
            | Expr::Position { expr: a, r#in: b }
            | Expr::AtTimeZone { timestamp: a, time_zone: b } => {
                self.clean(a, scope)?;
                self.clean(b, scope)
            }
            Expr::Collate { expr, .. } => self.clean(expr, scope),
            Expr::InList { expr, list, .. } => {
                self.clean(expr, scope)?;
                list.iter().try_for_each(|x| self.clean(x, scope))
            }
            Expr::InSubquery { expr, subquery, .. } => {
                self.clean(expr, scope)?;
                self.value_subquery(subquery, scope)
            }
            Expr::Between { expr, low, high, .. } => {
                self.clean(expr, scope)?;
                self.clean(low, scope)?;
                self.clean(high, scope)
            }
            Expr::Like { expr, pattern, escape_char, .. }
            | Expr::ILike { expr, pattern, escape_char, .. }
            | Expr::SimilarTo { expr, pattern, escape_char, .. } => {
                self.clean(expr, scope)?;
                self.clean(pattern, scope)?;
                escape_char.iter().try_for_each(|x| self.clean(x, scope))
            }
            Expr::RLike { expr, pattern, .. } => {
                self.clean(expr, scope)?;
                self.clean(pattern, scope)
            }
            Expr::Cast { expr, data_type, format, .. } => {
                if format.is_some() {
                    return Err(unsupported("CAST … FORMAT"));
                }
                self.cast_type(data_type)?;
                self.clean(expr, scope)
            }
            Expr::Substring { expr, substring_from, substring_for, .. } => {
                self.clean(expr, scope)?;
                substring_from.iter().chain(substring_for).try_for_each(|x| self.clean(x, scope))
            }
            Expr::Trim { expr, trim_what, trim_characters, .. } => {
                self.clean(expr, scope)?;
                trim_what.iter().try_for_each(|x| self.clean(x, scope))?;
                trim_characters.iter().flatten().try_for_each(|x| self.clean(x, scope))
            }
            Expr::Overlay { expr, overlay_what, overlay_from, overlay_for } => {
                self.clean(expr, scope)?;
                self.clean(overlay_what, scope)?;
                self.clean(overlay_from, scope)?;
                overlay_for.iter().try_for_each(|x| self.clean(x, scope))
            }
            Expr::Function(f) => self.function(f, scope, false),
            Expr::Case { operand, conditions, else_result, .. } => {
                operand.iter().try_for_each(|x| self.clean(x, scope))?;
                for when in conditions {
                    self.clean(&when.condition, scope)?;
                    self.clean(&when.result, scope)?;
                }
                else_result.iter().try_for_each(|x| self.clean(x, scope))
            }
            // EXISTS tells only whether a row exists, like the equality checks predicates allow.
            Expr::Exists { subquery, .. } => self.query_in(subquery, Some(scope)).map(|_| ()),
            Expr::Subquery(q) => self.value_subquery(q, scope),
            Expr::Tuple(items) => items.iter().try_for_each(|x| self.clean(x, scope)),
            Expr::Array(array) => array.elem.iter().try_for_each(|x| self.clean(x, scope)),
            Expr::Interval(interval) => self.clean(&interval.value, scope),
            other => Err(unsupported(format!("the expression form {}", kind_name(other)))),
        }
    }

    fn cast_type(&self, data_type: &DataType) -> R<()> {
        let name = data_type.to_string();
        if cast_allowed(&name) {
            Ok(())
        } else {
            Err(Refusal::new(format!("values may not be cast to {name} here")))
        }
    }

    fn operator(&self, op: &BinaryOperator) -> R<()> {
        use BinaryOperator::*;
        let known = matches!(
            op,
            Plus | Minus
                | Multiply
                | Divide
                | Modulo
                | StringConcat
                | Gt
                | Lt
                | GtEq
                | LtEq
                | Spaceship
                | Eq
                | NotEq
                | And
                | Or
                | Xor
                | BitwiseOr
                | BitwiseAnd
                | BitwiseXor
                | MyIntegerDivide
                | PGBitwiseXor
                | PGBitwiseShiftLeft
                | PGBitwiseShiftRight
                | PGExp
                | PGOverlap
                | PGRegexMatch
                | PGRegexIMatch
                | PGRegexNotMatch
                | PGRegexNotIMatch
                | PGLikeMatch
                | PGILikeMatch
                | PGNotLikeMatch
                | PGNotILikeMatch
                | PGStartsWith
                | Arrow
                | LongArrow
                | HashArrow
                | HashLongArrow
                | AtArrow
                | ArrowAt
                | HashMinus
                | AtQuestion
                | AtAt
                | Question
                | QuestionAnd
                | QuestionPipe
        );
        if !known {
            return Err(unsupported(format!("the operator {op}")));
        }
        if self.check_calls && self.schema.shadowing_operators.contains(&op.to_string()) {
            return Err(Refusal::new(format!("an operator {op} is also defined outside pg_catalog on this replica, so it cannot be trusted")));
        }
        Ok(())
    }

    fn resolve_ref(&self, e: &Expr, scope: &Scope) -> Resolved {
        match e {
            Expr::Identifier(i) => self.resolve(std::slice::from_ref(i), scope),
            Expr::CompoundIdentifier(parts) => self.resolve(parts, scope),
            _ => Resolved::Unknown,
        }
    }

    fn unknown_ref(&self, e: &Expr) -> Refusal {
        Refusal::unknown(format!("{e} is not a column of the tables this query reads"))
    }

    /// Records how the reference starting at `ident` is to be printed; two walks that disagree
    /// (a recursive CTE is read more than once) leave it unqualified.
    fn qualify(&self, ident: &Ident, qualifier: Option<Ident>) {
        let at = (ident.span.start.line, ident.span.start.column);
        if at.0 == 0 {
            return;
        }
        let mut qualifiers = self.qualifiers.borrow_mut();
        match qualifiers.get(&at) {
            Some(seen) if *seen != qualifier => {
                qualifiers.insert(at, None);
            }
            Some(_) => {}
            None => {
                qualifiers.insert(at, qualifier);
            }
        }
    }

    /// What a column reference names, as the engine reads it. A bare name is looked for as a
    /// column at every level, innermost first, before it is read as a whole row (PostgreSQL only).
    /// A name that only output names hold at a level may still be read past them (PostgreSQL
    /// reads no output name in HAVING or inside an ORDER BY expression): it carries the masks of
    /// both. Qualified: `rel.col` only, the relation compared as the engine compares it.
    fn resolve(&self, names: &[Ident], scope: &Scope) -> Resolved {
        match names {
            [ident] => {
                let col = self.col(ident);
                let mut outputs: Option<Option<String>> = None;
                let mut current = Some(scope);
                while let Some(s) = current {
                    self.charge(s.rels.iter().map(|r| r.cols.len() + 1).sum());
                    let holders: Vec<&Rel> =
                        s.rels.iter().filter(|r| r.cols.iter().any(|c| c.name == col)).collect();
                    let mask = holders
                        .iter()
                        .flat_map(|r| &r.cols)
                        .filter(|c| c.name == col)
                        .find_map(|c| c.mask.clone());
                    let inputs: Vec<&&Rel> = holders.iter().filter(|r| !r.is_output()).collect();
                    if inputs.is_empty() {
                        if !holders.is_empty() {
                            outputs = Some(outputs.flatten().or(mask));
                        }
                        current = s.outer;
                        continue;
                    }
                    // One named relation holds it: the replica is told which, whatever its own
                    // scoping rules. Over USING/NATURAL the merged column stays unqualified.
                    let qualifier = match holders.as_slice() {
                        [one]
                            if outputs.is_none()
                                && !s.merged.contains(&col)
                                && !shadowed_inside(scope, s, &one.name) =>
                        {
                            one.ident.clone()
                        }
                        _ => None,
                    };
                    self.qualify(ident, qualifier);
                    return Resolved::Column(mask.or(outputs.flatten()));
                }
                if let Some(mask) = outputs {
                    self.qualify(ident, None);
                    return Resolved::Column(mask);
                }
                match find_rel(scope, &self.rel(ident)) {
                    Some(rel) if self.engine() == Engine::Postgres => {
                        Resolved::WholeRow(rel.first_masked().map(String::from))
                    }
                    _ => Resolved::Unknown,
                }
            }
            // A view's stored definition (MariaDB writes `db`.`t`.`c`): the engine resolved it already.
            [.., rel_ident, col_ident]
                if names.len() == 2 || (names.len() == 3 && !self.check_calls) =>
            {
                let (rel, col) = (self.rel(rel_ident), self.col(col_ident));
                let mut current = Some(scope);
                while let Some(s) = current {
                    self.charge(s.rels.len());
                    if let Some(r) = s.rels.iter().find(|r| r.name == rel && !r.is_output()) {
                        return match r.cols.iter().find(|c| c.name == col) {
                            Some(c) => Resolved::Column(c.mask.clone()),
                            None => Resolved::Unknown,
                        };
                    }
                    // MariaDB compares aliases by case on some servers and not on others.
                    if self.engine() == Engine::Mysql
                        && s.rels
                            .iter()
                            .any(|r| r.name.to_lowercase() == rel.to_lowercase() && !r.is_output())
                    {
                        return Resolved::Unknown;
                    }
                    current = s.outer;
                }
                Resolved::Unknown
            }
            // In a query, schema.table.column could name a table an alias of the same name hides.
            _ => Resolved::Unknown,
        }
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
