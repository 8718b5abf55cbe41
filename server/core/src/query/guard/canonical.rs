//! The text the replica runs: the statement the guard understood, printed back by a printer of
//! our own, one form per engine. The user's text never reaches the replica.
//!
//! The printed form holds only tokens the guard modelled:
//! - every identifier quoted one way (`"x"` on PostgreSQL and SQLite, `` `x` `` on MariaDB),
//!   PostgreSQL's unquoted names folded to lower case as PostgreSQL folds them;
//! - every string literal single-quoted, the quote doubled, and on MariaDB the backslash doubled
//!   too (so the string ends at the same place whether or not the session reads backslash escapes);
//! - function names unquoted, lower case, from the allow-list's alphabet;
//! - no placeholder, no comment, no dollar quote, no non-ASCII character outside string literals
//!   and quoted identifiers, and a space around every operator (so `- -1` never becomes `--1`);
//! - a column reference the guard resolved to one named relation is qualified with it, so the
//!   engine reads the column the guard checked whatever its own scoping rules are; a PostgreSQL
//!   table is named with the schema the guard found it in (PostgreSQL reads pg_catalog first).
//!
//! Anything this printer does not know is refused, as the guard refuses what it does not know.
//! [`verify`] then re-reads the printed text: its tokens must be of the kinds above and it must
//! parse to a statement that prints to the same text.

use super::Refusal;
use crate::query::Engine;
use sqlparser::ast::*;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use super::lineage::Resolutions;

type P = Result<(), Refusal>;

fn unprintable(what: impl std::fmt::Display) -> Refusal {
    Refusal::new(format!(
        "{what} is not supported by the query guard; write the query in plain SELECT form"
    ))
}

/// `statement` in the canonical form of `engine`.
pub fn print(
    statement: &Statement,
    engine: Engine,
    resolved: &Resolutions,
) -> Result<String, Refusal> {
    let mut p = Printer { engine, resolved, out: String::with_capacity(256) };
    p.statement(statement)?;
    Ok(p.out)
}

/// Re-reads `text` as the engine's dialect: only modelled tokens, and a parse that prints back
/// to the same text. A failure is a printer defect; the query is refused (fail closed).
pub fn verify(text: &str, engine: Engine) -> P {
    let defect = |why: &str| {
        tracing::error!(why, text, "the canonical form of a query did not re-read as printed");
        Refusal::new(
            "the guard could not restate this query in a form it can vouch for; simplify it",
        )
    };
    let dialect = super::dialect(engine);
    let tokens =
        Tokenizer::new(dialect.as_ref(), text).tokenize().map_err(|_| defect("tokenize"))?;
    for token in &tokens {
        let modelled = match token {
            Token::Whitespace(w) => *w == Whitespace::Space,
            Token::Word(w) => w.value.is_ascii() || w.quote_style.is_some(),
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_) => true,
            // Every other quoting form, and whatever the tokenizer could not classify.
            Token::Char(_)
            | Token::Placeholder(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_) => false,
            // Punctuation and operators.
            other => other.to_string().is_ascii(),
        };
        if !modelled {
            return Err(defect("token"));
        }
    }
    let reparsed = Parser::new(dialect.as_ref())
        .with_tokens(tokens)
        .parse_statements()
        .map_err(|_| defect("parse"))?;
    match reparsed.as_slice() {
        [one] if print(one, engine, &Resolutions::default()).as_deref() == Ok(text) => Ok(()),
        _ => Err(defect("fixpoint")),
    }
}

struct Printer<'a> {
    engine: Engine,
    resolved: &'a Resolutions,
    out: String,
}

impl Printer<'_> {
    fn w(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T) -> P) -> P {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.w(", ");
            }
            each(self, item)?;
        }
        Ok(())
    }

    fn ident(&mut self, ident: &Ident) -> P {
        let value = match ident.quote_style {
            None if !ident.value.is_ascii() => {
                return Err(Refusal::new(format!(
                    "the unquoted name {} has non-ASCII characters; quote it",
                    ident.value
                )))
            }
            // PostgreSQL folds unquoted names to lower case; the others compare them as written.
            None if self.engine == Engine::Postgres => ident.value.to_ascii_lowercase(),
            None | Some('"') | Some('`') | Some('[') => ident.value.clone(),
            Some(q) => return Err(unprintable(format!("the quote {q}"))),
        };
        if value.is_empty() {
            return Err(Refusal::new("an empty quoted name is not allowed"));
        }
        let q = if self.engine == Engine::Mysql { '`' } else { '"' };
        self.out.push(q);
        self.out.push_str(&value.replace(q, &format!("{q}{q}")));
        self.out.push(q);
        Ok(())
    }

    fn object_name(&mut self, name: &ObjectName) -> P {
        for (i, part) in name.0.iter().enumerate() {
            if i > 0 {
                self.w(".");
            }
            let Some(ident) = part.as_ident() else {
                return Err(unprintable(format!("the name {name}")));
            };
            self.ident(ident)?;
        }
        Ok(())
    }

    /// A function or collation name: the allow-list's alphabet, unquoted, lower case.
    fn bare_name(&mut self, name: &ObjectName) -> P {
        for (i, part) in name.0.iter().enumerate() {
            let Some(ident) = part.as_ident() else {
                return Err(unprintable(format!("the name {name}")));
            };
            let v = ident.value.to_ascii_lowercase();
            if v.is_empty()
                || !v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(Refusal::new(format!("the name {name} is not a plain name")));
            }
            if i > 0 {
                self.w(".");
            }
            self.w(&v);
        }
        Ok(())
    }

    fn string(&mut self, s: &str) {
        self.out.push('\'');
        for c in s.chars() {
            match c {
                '\'' => self.out.push_str("''"),
                // MariaDB reads `\` as an escape; doubled, it is one backslash there, and the
                // string still ends at the same quote where a session reads no escapes.
                '\\' if self.engine == Engine::Mysql => self.out.push_str("\\\\"),
                c => self.out.push(c),
            }
        }
        self.out.push('\'');
    }

    fn value(&mut self, v: &Value) -> P {
        match v {
            Value::Number(n, false) if is_plain_number(n) => self.w(n),
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => self.string(s),
            Value::DollarQuotedString(d) => self.string(&d.value),
            // MariaDB reads "…" as a string in its default mode, which the console pins.
            Value::DoubleQuotedString(s) if self.engine == Engine::Mysql => self.string(s),
            Value::NationalStringLiteral(s) => {
                self.w("N");
                self.string(s)
            }
            Value::HexStringLiteral(h)
                if !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()) =>
            {
                self.w("X'");
                self.w(h);
                self.w("'")
            }
            Value::Boolean(b) => self.w(if *b { "TRUE" } else { "FALSE" }),
            Value::Null => self.w("NULL"),
            Value::Placeholder(_) => {
                return Err(Refusal::new(
                    "parameters ($1, ?) are not supported; write the value in the query",
                ))
            }
            other => return Err(unprintable(format!("the literal {other}"))),
        }
        Ok(())
    }

    /// Types, operators and keywords print through sqlparser: fixed words, checked to be plain.
    fn keywords(&mut self, text: String) -> P {
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || " _(),[]".contains(c)) {
            return Err(unprintable(format!("the form {text}")));
        }
        self.w(&text);
        Ok(())
    }

    fn operator(&mut self, text: String) -> P {
        if text.is_empty()
            || !text.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            || text.contains("--")
            || text.contains("/*")
        {
            return Err(unprintable(format!("the operator {text}")));
        }
        self.w(&text);
        Ok(())
    }

    fn statement(&mut self, s: &Statement) -> P {
        match s {
            Statement::Query(q) => self.query(q),
            Statement::Explain {
                statement,
                analyze: false,
                verbose: false,
                query_plan: false,
                estimate: false,
                format: None,
                options: None,
                ..
            } => {
                let Statement::Query(q) = &**statement else {
                    return Err(unprintable("EXPLAIN of this statement"));
                };
                self.w("EXPLAIN ");
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
            other => Err(unprintable(format!("the statement {}", super::kind_of(other)))),
        }
    }

    fn show_options(&mut self, o: &ShowStatementOptions) -> P {
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

    fn query(&mut self, q: &Query) -> P {
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

    fn order_by(&mut self, order_by: &OrderBy) -> P {
        match &order_by.kind {
            OrderByKind::Expressions(exprs) if order_by.interpolate.is_none() => {
                self.w(" ORDER BY ");
                self.order_by_exprs(exprs)
            }
            _ => Err(unprintable("this ORDER BY")),
        }
    }

    fn order_by_exprs(&mut self, exprs: &[OrderByExpr]) -> P {
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

    fn set_expr(&mut self, body: &SetExpr) -> P {
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

    fn select(&mut self, s: &Select) -> P {
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

    fn table_with_joins(&mut self, t: &TableWithJoins) -> P {
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

    fn table_factor(&mut self, f: &TableFactor) -> P {
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

    fn alias_columns(&mut self, columns: &[TableAliasColumnDef]) -> P {
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

    fn function_args(&mut self, args: &[FunctionArg]) -> P {
        self.list(args, |p, arg| {
            let value = match arg {
                FunctionArg::Unnamed(v) => v,
                FunctionArg::Named { name, arg, operator: FunctionArgOperator::RightArrow } => {
                    p.ident(name)?;
                    p.w(" => ");
                    arg
                }
                _ => return Err(unprintable("this named argument")),
            };
            match value {
                FunctionArgExpr::Expr(e) => p.expr(e),
                FunctionArgExpr::Wildcard => {
                    p.w("*");
                    Ok(())
                }
                FunctionArgExpr::QualifiedWildcard(name) => {
                    p.object_name(name)?;
                    p.w(".*");
                    Ok(())
                }
                other => Err(unprintable(format!("the argument {other}"))),
            }
        })
    }

    fn function(&mut self, f: &Function) -> P {
        if f.uses_odbc_syntax || !matches!(f.parameters, FunctionArguments::None) {
            return Err(unprintable(format!("the call {}", f.name)));
        }
        self.bare_name(&f.name)?;
        match &f.args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(q) => {
                self.w("(");
                self.query(q)?;
                self.w(")");
            }
            FunctionArguments::List(list) => {
                self.w("(");
                match list.duplicate_treatment {
                    None => {}
                    Some(DuplicateTreatment::Distinct) => self.w("DISTINCT "),
                    Some(DuplicateTreatment::All) => self.w("ALL "),
                }
                self.function_args(&list.args)?;
                for clause in &list.clauses {
                    if !list.args.is_empty() {
                        self.w(" ");
                    }
                    match clause {
                        FunctionArgumentClause::OrderBy(exprs) => {
                            self.w("ORDER BY ");
                            self.order_by_exprs(exprs)?;
                        }
                        FunctionArgumentClause::Limit(e) => {
                            self.w("LIMIT ");
                            self.expr(e)?;
                        }
                        FunctionArgumentClause::Separator(v) => {
                            self.w("SEPARATOR ");
                            self.value(&v.value)?;
                        }
                        FunctionArgumentClause::IgnoreOrRespectNulls(n) => {
                            self.keywords(n.to_string())?
                        }
                        other => return Err(unprintable(format!("the clause {other}"))),
                    }
                }
                self.w(")");
            }
        }
        if !f.within_group.is_empty() {
            self.w(" WITHIN GROUP (ORDER BY ");
            self.order_by_exprs(&f.within_group)?;
            self.w(")");
        }
        if let Some(filter) = &f.filter {
            self.w(" FILTER (WHERE ");
            self.expr(filter)?;
            self.w(")");
        }
        if let Some(n) = &f.null_treatment {
            self.w(" ");
            self.keywords(n.to_string())?;
        }
        match &f.over {
            None => Ok(()),
            Some(WindowType::WindowSpec(spec)) if spec.window_name.is_none() => {
                self.w(" OVER (");
                let mut first = true;
                let mut gap = |p: &mut Self| {
                    if !std::mem::take(&mut first) {
                        p.w(" ");
                    }
                };
                if !spec.partition_by.is_empty() {
                    gap(self);
                    self.w("PARTITION BY ");
                    self.list(&spec.partition_by, |p, e| p.expr(e))?;
                }
                if !spec.order_by.is_empty() {
                    gap(self);
                    self.w("ORDER BY ");
                    self.order_by_exprs(&spec.order_by)?;
                }
                if let Some(frame) = &spec.window_frame {
                    gap(self);
                    self.keywords(frame.units.to_string())?;
                    match &frame.end_bound {
                        Some(end) => {
                            self.w(" BETWEEN ");
                            self.frame_bound(&frame.start_bound)?;
                            self.w(" AND ");
                            self.frame_bound(end)?;
                        }
                        None => {
                            self.w(" ");
                            self.frame_bound(&frame.start_bound)?;
                        }
                    }
                }
                self.w(")");
                Ok(())
            }
            Some(_) => Err(unprintable("named windows")),
        }
    }

    fn frame_bound(&mut self, b: &WindowFrameBound) -> P {
        let (n, side) = match b {
            WindowFrameBound::CurrentRow => {
                self.w("CURRENT ROW");
                return Ok(());
            }
            WindowFrameBound::Preceding(n) => (n, " PRECEDING"),
            WindowFrameBound::Following(n) => (n, " FOLLOWING"),
        };
        match n {
            None => self.w("UNBOUNDED"),
            Some(e) => self.expr(e)?,
        }
        self.w(side);
        Ok(())
    }

    fn not(&mut self, negated: bool) {
        if negated {
            self.w("NOT ");
        }
    }

    fn escape(&mut self, escape_char: &Option<Box<Expr>>) -> P {
        if let Some(e) = escape_char {
            self.w(" ESCAPE ");
            self.expr(e)?;
        }
        Ok(())
    }

    fn paren_query(&mut self, q: &Query) -> P {
        self.w("(");
        self.query(q)?;
        self.w(")");
        Ok(())
    }

    fn expr(&mut self, e: &Expr) -> P {
        match e {
            Expr::Identifier(ident) => {
                let at = (ident.span.start.line, ident.span.start.column);
                if let Some(relation) = self.resolved.columns.get(&at) {
                    self.ident(relation)?;
                    self.w(".");
                }
                self.ident(ident)
            }
            Expr::CompoundIdentifier(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        self.w(".");
                    }
                    self.ident(part)?;
                }
                Ok(())
            }
            Expr::Value(v) => self.value(&v.value),
            Expr::TypedString(t) if !t.uses_odbc_syntax => {
                self.keywords(t.data_type.to_string())?;
                self.w(" ");
                self.value(&t.value.value)
            }
            Expr::BinaryOp { left, op, right } => {
                self.expr(left)?;
                self.w(" ");
                self.operator(op.to_string())?;
                self.w(" ");
                self.expr(right)
            }
            Expr::AnyOp { left, compare_op, right, is_some } => {
                self.expr(left)?;
                self.w(" ");
                self.operator(compare_op.to_string())?;
                self.w(if *is_some { " SOME" } else { " ANY" });
                self.any_all_operand(right)
            }
            Expr::AllOp { left, compare_op, right } => {
                self.expr(left)?;
                self.w(" ");
                self.operator(compare_op.to_string())?;
                self.w(" ALL");
                self.any_all_operand(right)
            }
            Expr::UnaryOp { op, expr } => {
                self.w(match op {
                    UnaryOperator::Not => "NOT ",
                    UnaryOperator::Minus => "- ",
                    UnaryOperator::Plus => "+ ",
                    UnaryOperator::BitwiseNot => "~ ",
                    other => return Err(unprintable(format!("the operator {other}"))),
                });
                self.expr(expr)
            }
            Expr::Nested(inner) => {
                self.w("(");
                self.expr(inner)?;
                self.w(")");
                Ok(())
            }
            Expr::IsNull(x) => self.postfix(x, " IS NULL"),
            Expr::IsNotNull(x) => self.postfix(x, " IS NOT NULL"),
            Expr::IsTrue(x) => self.postfix(x, " IS TRUE"),
            Expr::IsNotTrue(x) => self.postfix(x, " IS NOT TRUE"),
            Expr::IsFalse(x) => self.postfix(x, " IS FALSE"),
            Expr::IsNotFalse(x) => self.postfix(x, " IS NOT FALSE"),
            Expr::IsUnknown(x) => self.postfix(x, " IS UNKNOWN"),
            Expr::IsNotUnknown(x) => self.postfix(x, " IS NOT UNKNOWN"),
            Expr::IsDistinctFrom(a, b) => self.infix(a, " IS DISTINCT FROM ", b),
            Expr::IsNotDistinctFrom(a, b) => self.infix(a, " IS NOT DISTINCT FROM ", b),
            Expr::AtTimeZone { timestamp, time_zone } => {
                self.infix(timestamp, " AT TIME ZONE ", time_zone)
            }
            Expr::Ceil { expr, field } | Expr::Floor { expr, field } => {
                self.w(if matches!(e, Expr::Ceil { .. }) { "CEIL(" } else { "FLOOR(" });
                self.expr(expr)?;
                match field {
                    CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) => {}
                    CeilFloorKind::Scale(v) => {
                        self.w(", ");
                        self.value(&v.value)?;
                    }
                    CeilFloorKind::DateTimeField(_) => return Err(unprintable("CEIL/FLOOR … TO")),
                }
                self.w(")");
                Ok(())
            }
            Expr::Extract { field, syntax: ExtractSyntax::From, expr } => {
                if matches!(field, DateTimeField::Custom(_)) {
                    return Err(unprintable(format!("EXTRACT({field} …)")));
                }
                self.w("EXTRACT(");
                self.keywords(field.to_string())?;
                self.w(" FROM ");
                self.expr(expr)?;
                self.w(")");
                Ok(())
            }
            Expr::Position { expr, r#in } => {
                self.w("POSITION(");
                self.infix(expr, " IN ", r#in)?;
                self.w(")");
                Ok(())
            }
            Expr::Collate { expr, collation } => {
                self.expr(expr)?;
                self.w(" COLLATE ");
                self.object_name(collation)
            }
            Expr::InList { expr, list, negated } => {
                self.expr(expr)?;
                self.w(" ");
                self.not(*negated);
                self.w("IN (");
                self.list(list, |p, x| p.expr(x))?;
                self.w(")");
                Ok(())
            }
            Expr::InSubquery { expr, subquery, negated } => {
                self.expr(expr)?;
                self.w(" ");
                self.not(*negated);
                self.w("IN ");
                self.paren_query(subquery)
            }
            Expr::Between { expr, negated, low, high } => {
                self.expr(expr)?;
                self.w(" ");
                self.not(*negated);
                self.w("BETWEEN ");
                self.infix(low, " AND ", high)
            }
            Expr::Like { negated, any: false, expr, pattern, escape_char }
            | Expr::ILike { negated, any: false, expr, pattern, escape_char } => {
                self.expr(expr)?;
                self.w(" ");
                self.not(*negated);
                self.w(if matches!(e, Expr::Like { .. }) { "LIKE " } else { "ILIKE " });
                self.expr(pattern)?;
                self.escape(escape_char)
            }
            Expr::SimilarTo { negated, expr, pattern, escape_char } => {
                self.expr(expr)?;
                self.w(" ");
                self.not(*negated);
                self.w("SIMILAR TO ");
                self.expr(pattern)?;
                self.escape(escape_char)
            }
            Expr::RLike { negated, expr, pattern, regexp } => {
                self.expr(expr)?;
                self.w(" ");
                self.not(*negated);
                self.w(if *regexp { "REGEXP " } else { "RLIKE " });
                self.expr(pattern)
            }
            Expr::Cast { kind, expr, data_type, format: None } => match kind {
                CastKind::Cast => {
                    self.w("CAST(");
                    self.expr(expr)?;
                    self.w(" AS ");
                    self.keywords(data_type.to_string())?;
                    self.w(")");
                    Ok(())
                }
                CastKind::DoubleColon => {
                    self.expr(expr)?;
                    self.w("::");
                    self.keywords(data_type.to_string())
                }
                _ => Err(unprintable("TRY_CAST")),
            },
            Expr::Substring { expr, substring_from, substring_for, special, shorthand } => {
                self.w(if *shorthand { "SUBSTR(" } else { "SUBSTRING(" });
                self.expr(expr)?;
                if let Some(from) = substring_from {
                    self.w(if *special { ", " } else { " FROM " });
                    self.expr(from)?;
                }
                if let Some(len) = substring_for {
                    self.w(if *special { ", " } else { " FOR " });
                    self.expr(len)?;
                }
                self.w(")");
                Ok(())
            }
            Expr::Trim { expr, trim_where, trim_what, trim_characters } => {
                self.w("TRIM(");
                if let Some(w) = trim_where {
                    self.keywords(w.to_string())?;
                    self.w(" ");
                }
                if let Some(what) = trim_what {
                    self.expr(what)?;
                    self.w(" FROM ");
                }
                self.expr(expr)?;
                if let Some(chars) = trim_characters {
                    self.w(", ");
                    self.list(chars, |p, x| p.expr(x))?;
                }
                self.w(")");
                Ok(())
            }
            Expr::Overlay { expr, overlay_what, overlay_from, overlay_for } => {
                self.w("OVERLAY(");
                self.expr(expr)?;
                self.w(" PLACING ");
                self.expr(overlay_what)?;
                self.w(" FROM ");
                self.expr(overlay_from)?;
                if let Some(len) = overlay_for {
                    self.w(" FOR ");
                    self.expr(len)?;
                }
                self.w(")");
                Ok(())
            }
            Expr::Function(f) => self.function(f),
            Expr::Case { operand, conditions, else_result, .. } => {
                self.w("CASE");
                if let Some(op) = operand {
                    self.w(" ");
                    self.expr(op)?;
                }
                for when in conditions {
                    self.w(" WHEN ");
                    self.expr(&when.condition)?;
                    self.w(" THEN ");
                    self.expr(&when.result)?;
                }
                if let Some(x) = else_result {
                    self.w(" ELSE ");
                    self.expr(x)?;
                }
                self.w(" END");
                Ok(())
            }
            Expr::Exists { subquery, negated } => {
                self.not(*negated);
                self.w("EXISTS ");
                self.paren_query(subquery)
            }
            Expr::Subquery(q) => self.paren_query(q),
            Expr::Tuple(items) => {
                self.w("(");
                self.list(items, |p, x| p.expr(x))?;
                self.w(")");
                Ok(())
            }
            Expr::Array(array) => {
                self.w(if array.named { "ARRAY[" } else { "[" });
                self.list(&array.elem, |p, x| p.expr(x))?;
                self.w("]");
                Ok(())
            }
            Expr::Interval(i)
                if i.leading_precision.is_none() && i.fractional_seconds_precision.is_none() =>
            {
                self.w("INTERVAL ");
                self.expr(&i.value)?;
                if let Some(f) = &i.leading_field {
                    self.w(" ");
                    self.keywords(f.to_string())?;
                }
                if let Some(f) = &i.last_field {
                    self.w(" TO ");
                    self.keywords(f.to_string())?;
                }
                Ok(())
            }
            other => Err(unprintable(format!(
                "the expression form {}",
                super::lineage::kind_name(other)
            ))),
        }
    }

    fn any_all_operand(&mut self, right: &Expr) -> P {
        match right {
            Expr::Subquery(q) => {
                self.w(" ");
                self.paren_query(q)
            }
            other => {
                self.w(" (");
                self.expr(other)?;
                self.w(")");
                Ok(())
            }
        }
    }

    fn postfix(&mut self, x: &Expr, suffix: &str) -> P {
        self.expr(x)?;
        self.w(suffix);
        Ok(())
    }

    fn infix(&mut self, a: &Expr, middle: &str, b: &Expr) -> P {
        self.expr(a)?;
        self.w(middle);
        self.expr(b)
    }
}

/// Digits, one optional point, one optional exponent: the number forms every engine reads alike.
fn is_plain_number(n: &str) -> bool {
    let (mantissa, exponent) = match n.find(['e', 'E']) {
        Some(i) => (&n[..i], Some(&n[i + 1..])),
        None => (n, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(whole)
        && fraction.is_none_or(digits)
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|x| {
        let x = x.strip_prefix(['+', '-']).unwrap_or(x);
        !x.is_empty() && digits(x)
    });
    mantissa_ok && exponent_ok
}
