//! The walk of queries: WITH, set operations, SELECT lists, GROUP BY, ORDER BY.

use super::*;

impl<'a> Analyzer<'a> {
    /// The output columns of `query`, each with its lineage.
    pub fn query(&mut self, q: &Query) -> R<Vec<Col>> {
        self.query_in(q, None)
    }

    pub(super) fn query_in(&mut self, q: &Query, outer: Option<&Scope>) -> R<Vec<Col>> {
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

    pub(super) fn query_body(&mut self, q: &Query, outer: Option<&Scope>) -> R<Vec<Col>> {
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
    pub(super) fn recursive_cte(
        &mut self,
        cte: &Cte,
        slot: usize,
        outer: Option<&Scope>,
    ) -> R<Vec<Col>> {
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

    pub(super) fn set_expr(&mut self, body: &SetExpr, outer: Option<&Scope>) -> R<Vec<Col>> {
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

    pub(super) fn select(
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
    pub(super) fn order_by(&mut self, order_by: &OrderBy, named: &Scope, outputs: &[Col]) -> R<()> {
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
    pub(super) fn sort_key(&mut self, e: &Expr, named: &Scope, outputs: &[Col]) -> R<()> {
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
}
