//! FROM clauses: tables, views, joins, derived tables and table functions, each
//! resolved to the columns it brings into scope.

use super::*;

impl<'a> Analyzer<'a> {
    /// `ons`: each ON condition with the relations it sees (a range of `scope.rels`), read after
    /// the projection. PostgreSQL and MariaDB let an ON see only the relations of its own join
    /// tree, not the FROM items before a comma; SQLite lets it see every relation to its left.
    pub(super) fn table_with_joins<'q>(
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

    pub(super) fn table_factor<'q>(
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
    pub(super) fn push_function(
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
    pub(super) fn relation(&mut self, name: &ObjectName) -> R<Vec<Col>> {
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

    pub(super) fn view(&mut self, definition: &str) -> R<Vec<Col>> {
        if self.depth > 16 {
            return Err(Refusal::new("views nest too deeply"));
        }
        let statements = sqlparser::parser::Parser::parse_sql(
            crate::query::guard::dialect(self.engine()).as_ref(),
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
}
