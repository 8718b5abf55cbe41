//! Printing statements, queries, SELECTs and FROM clauses.

use super::*;

impl Printer<'_> {
    pub(super) fn statement(&mut self, s: &Statement) -> P {
        match s {
            Statement::Query(q) => self.query(q),
            Statement::Explain {
                statement,
                analyze: false,
                verbose: false,
                query_plan,
                estimate: false,
                format: None,
                options: None,
                ..
            } => {
                let Statement::Query(q) = &**statement else {
                    return Err(unprintable("EXPLAIN of this statement"));
                };
                // SQLite's plain EXPLAIN lists virtual-machine bytecode; its query plan is
                // what a person asking EXPLAIN wants to read.
                if self.engine == Engine::Sqlite {
                    self.w("EXPLAIN QUERY PLAN ");
                } else if *query_plan {
                    return Err(unprintable("EXPLAIN QUERY PLAN outside SQLite"));
                } else {
                    self.w("EXPLAIN ");
                }
                self.query(q)
            }
            Statement::ExplainTable { table_name, hive_format: None, .. } => {
                self.w("DESCRIBE ");
                self.object_name(table_name)
            }
            Statement::ShowTables { show_options, .. } => {
                self.w("SHOW TABLES");
                self.show_options(show_options)
            }
            Statement::ShowColumns { full, show_options, .. } => {
                self.w(if *full { "SHOW FULL COLUMNS" } else { "SHOW COLUMNS" });
                self.show_options(show_options)
            }
            Statement::ShowCreate { obj_type: ShowCreateObject::Table, obj_name } => {
                self.w("SHOW CREATE TABLE ");
                self.object_name(obj_name)
            }
            Statement::ShowVariable { variable } => {
                self.w("SHOW");
                for word in variable {
                    self.w(" ");
                    self.bare_name(&ObjectName::from(vec![word.clone()]))?;
                }
                Ok(())
            }
            other => {
                Err(unprintable(format!("the statement {}", crate::query::guard::kind_of(other))))
            }
        }
    }

    pub(super) fn show_options(&mut self, o: &ShowStatementOptions) -> P {
        if let Some(parent) = o.show_in.as_ref().and_then(|i| i.parent_name.as_ref()) {
            self.w(" FROM ");
            self.object_name(parent)?;
        }
        match &o.filter_position {
            None => Ok(()),
            Some(
                ShowStatementFilterPosition::Infix(ShowStatementFilter::Like(p))
                | ShowStatementFilterPosition::Suffix(ShowStatementFilter::Like(p)),
            ) => {
                self.w(" LIKE ");
                self.string(p);
                Ok(())
            }
            Some(_) => Err(unprintable("this SHOW filter")),
        }
    }

    pub(super) fn query(&mut self, q: &Query) -> P {
        if let Some(with) = &q.with {
            self.w(if with.recursive { "WITH RECURSIVE " } else { "WITH " });
            self.list(&with.cte_tables, |p, cte| {
                if cte.from.is_some() {
                    return Err(unprintable("CTE … FROM"));
                }
                p.ident(&cte.alias.name)?;
                p.alias_columns(&cte.alias.columns)?;
                p.w(" AS ");
                match cte.materialized {
                    Some(CteAsMaterialized::Materialized) => p.w("MATERIALIZED "),
                    Some(CteAsMaterialized::NotMaterialized) => p.w("NOT MATERIALIZED "),
                    None => {}
                }
                p.w("(");
                p.query(&cte.query)?;
                p.w(")");
                Ok(())
            })?;
            self.w(" ");
        }
        self.set_expr(&q.body)?;
        if let Some(order_by) = &q.order_by {
            self.order_by(order_by)?;
        }
        match &q.limit_clause {
            None => {}
            Some(LimitClause::LimitOffset { limit, offset, limit_by }) => {
                if !limit_by.is_empty() {
                    return Err(unprintable("LIMIT BY"));
                }
                if let Some(limit) = limit {
                    self.w(" LIMIT ");
                    self.expr(limit)?;
                }
                if let Some(offset) = offset {
                    self.w(" OFFSET ");
                    self.expr(&offset.value)?;
                    self.w(match offset.rows {
                        OffsetRows::None => "",
                        OffsetRows::Row => " ROW",
                        OffsetRows::Rows => " ROWS",
                    });
                }
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                self.w(" LIMIT ");
                self.expr(offset)?;
                self.w(", ");
                self.expr(limit)?;
            }
        }
        if let Some(fetch) = &q.fetch {
            if fetch.percent {
                return Err(unprintable("FETCH … PERCENT"));
            }
            self.w(" FETCH FIRST ");
            if let Some(n) = &fetch.quantity {
                self.expr(n)?;
                self.w(" ");
            }
            self.w(if fetch.with_ties { "ROWS WITH TIES" } else { "ROWS ONLY" });
        }
        if !q.locks.is_empty()
            || q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return Err(unprintable("this query clause"));
        }
        Ok(())
    }

    pub(super) fn order_by(&mut self, order_by: &OrderBy) -> P {
        match &order_by.kind {
            OrderByKind::Expressions(exprs) if order_by.interpolate.is_none() => {
                self.w(" ORDER BY ");
                self.order_by_exprs(exprs)
            }
            _ => Err(unprintable("this ORDER BY")),
        }
    }

    pub(super) fn order_by_exprs(&mut self, exprs: &[OrderByExpr]) -> P {
        self.list(exprs, |p, e| {
            if e.with_fill.is_some() {
                return Err(unprintable("ORDER BY … WITH FILL"));
            }
            p.expr(&e.expr)?;
            match e.options.sort {
                None => {}
                Some(OrderBySort::Asc) => p.w(" ASC"),
                Some(OrderBySort::Desc) => p.w(" DESC"),
                Some(_) => return Err(unprintable("ORDER BY … USING")),
            }
            match e.options.nulls_first {
                None => {}
                Some(true) => p.w(" NULLS FIRST"),
                Some(false) => p.w(" NULLS LAST"),
            }
            Ok(())
        })
    }

    pub(super) fn set_expr(&mut self, body: &SetExpr) -> P {
        match body {
            SetExpr::Select(s) => self.select(s),
            SetExpr::Query(q) => {
                self.w("(");
                self.query(q)?;
                self.w(")");
                Ok(())
            }
            SetExpr::SetOperation { left, op, set_quantifier, right } => {
                self.set_expr(left)?;
                self.w(match op {
                    SetOperator::Union => " UNION ",
                    SetOperator::Except => " EXCEPT ",
                    SetOperator::Intersect => " INTERSECT ",
                    SetOperator::Minus => return Err(unprintable("MINUS")),
                });
                match set_quantifier {
                    SetQuantifier::None => {}
                    SetQuantifier::All => self.w("ALL "),
                    SetQuantifier::Distinct => self.w("DISTINCT "),
                    _ => return Err(unprintable("UNION BY NAME")),
                }
                self.set_expr(right)
            }
            SetExpr::Values(values) => {
                if values.value_keyword {
                    return Err(unprintable("VALUE"));
                }
                self.w("VALUES ");
                let row = if values.explicit_row { "ROW(" } else { "(" };
                self.list(&values.rows, |p, r| {
                    p.w(row);
                    p.list(&r.content, |p, e| p.expr(e))?;
                    p.w(")");
                    Ok(())
                })
            }
            _ => Err(unprintable("this query body")),
        }
    }

    pub(super) fn select(&mut self, s: &Select) -> P {
        if !matches!(s.flavor, SelectFlavor::Standard) {
            return Err(unprintable("FROM-first SELECT"));
        }
        self.w("SELECT ");
        match &s.distinct {
            None => {}
            Some(Distinct::All) => self.w("ALL "),
            Some(Distinct::Distinct) => self.w("DISTINCT "),
            Some(Distinct::On(exprs)) => {
                self.w("DISTINCT ON (");
                self.list(exprs, |p, e| p.expr(e))?;
                self.w(") ");
            }
        }
        self.list(&s.projection, |p, item| match item {
            SelectItem::UnnamedExpr(e) => p.expr(e),
            SelectItem::ExprWithAlias { expr, alias } => {
                p.expr(expr)?;
                p.w(" AS ");
                p.ident(alias)
            }
            SelectItem::Wildcard(_) => {
                p.w("*");
                Ok(())
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(name), _) => {
                p.object_name(name)?;
                p.w(".*");
                Ok(())
            }
            other => Err(unprintable(format!("the select item {other}"))),
        })?;
        if !s.from.is_empty() {
            self.w(" FROM ");
            self.list(&s.from, |p, t| p.table_with_joins(t))?;
        }
        if let Some(w) = &s.selection {
            self.w(" WHERE ");
            self.expr(w)?;
        }
        match &s.group_by {
            GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
                if !exprs.is_empty() {
                    self.w(" GROUP BY ");
                    self.list(exprs, |p, e| p.expr(e))?;
                }
            }
            _ => return Err(unprintable("this GROUP BY")),
        }
        if let Some(h) = &s.having {
            self.w(" HAVING ");
            self.expr(h)?;
        }
        Ok(())
    }

    pub(super) fn table_with_joins(&mut self, t: &TableWithJoins) -> P {
        self.table_factor(&t.relation)?;
        for join in &t.joins {
            if join.global {
                return Err(unprintable("GLOBAL JOIN"));
            }
            let (keyword, constraint) = match &join.join_operator {
                JoinOperator::Join(c) => ("JOIN", c),
                JoinOperator::Inner(c) => ("INNER JOIN", c),
                JoinOperator::Left(c) => ("LEFT JOIN", c),
                JoinOperator::LeftOuter(c) => ("LEFT OUTER JOIN", c),
                JoinOperator::Right(c) => ("RIGHT JOIN", c),
                JoinOperator::RightOuter(c) => ("RIGHT OUTER JOIN", c),
                JoinOperator::FullOuter(c) => ("FULL JOIN", c),
                JoinOperator::CrossJoin(c) => ("CROSS JOIN", c),
                JoinOperator::StraightJoin(c) => ("STRAIGHT_JOIN", c),
                _ => return Err(unprintable("this join")),
            };
            self.w(if matches!(constraint, JoinConstraint::Natural) { " NATURAL " } else { " " });
            self.w(keyword);
            self.w(" ");
            self.table_factor(&join.relation)?;
            match constraint {
                JoinConstraint::On(e) => {
                    self.w(" ON ");
                    self.expr(e)?;
                }
                JoinConstraint::Using(names) => {
                    self.w(" USING (");
                    self.list(names, |p, n| p.object_name(n))?;
                    self.w(")");
                }
                JoinConstraint::Natural | JoinConstraint::None => {}
            }
        }
        Ok(())
    }

    pub(super) fn table_factor(&mut self, f: &TableFactor) -> P {
        let alias = match f {
            TableFactor::Table { name, alias, args, .. } => {
                match args {
                    Some(args) => {
                        self.bare_name(name)?;
                        self.w("(");
                        self.function_args(&args.args)?;
                        self.w(")");
                    }
                    None => {
                        let first = name
                            .0
                            .first()
                            .and_then(|p| p.as_ident())
                            .map(|i| (i.span.start.line, i.span.start.column));
                        if let Some(schema) = first.and_then(|at| self.resolved.schemas.get(&at)) {
                            self.ident(&Ident::with_quote('"', schema.as_str()))?;
                            self.w(".");
                        }
                        self.object_name(name)?
                    }
                }
                alias
            }
            TableFactor::Derived { lateral, subquery, alias, sample: None } => {
                self.w(if *lateral { "LATERAL (" } else { "(" });
                self.query(subquery)?;
                self.w(")");
                alias
            }
            TableFactor::Function { lateral, name, args, alias, with_ordinality: false } => {
                if *lateral {
                    self.w("LATERAL ");
                }
                self.bare_name(name)?;
                self.w("(");
                self.function_args(args)?;
                self.w(")");
                alias
            }
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_offset_alias: None,
                with_ordinality: false,
            } => {
                self.w("UNNEST(");
                self.list(array_exprs, |p, e| p.expr(e))?;
                self.w(")");
                alias
            }
            TableFactor::NestedJoin { table_with_joins, alias: None } => {
                self.w("(");
                self.table_with_joins(table_with_joins)?;
                self.w(")");
                &None
            }
            other => return Err(unprintable(format!("the FROM item {other}"))),
        };
        if let Some(alias) = alias {
            if alias.at.is_some() {
                return Err(unprintable("AT in an alias"));
            }
            self.w(" AS ");
            self.ident(&alias.name)?;
            self.alias_columns(&alias.columns)?;
        }
        Ok(())
    }

    pub(super) fn alias_columns(&mut self, columns: &[TableAliasColumnDef]) -> P {
        if columns.is_empty() {
            return Ok(());
        }
        self.w(" (");
        self.list(columns, |p, c| {
            p.ident(&c.name)?;
            if let Some(t) = &c.data_type {
                p.w(" ");
                p.keywords(t.to_string())?;
            }
            Ok(())
        })?;
        self.w(")");
        Ok(())
    }
}
