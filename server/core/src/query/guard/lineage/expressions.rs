//! Expressions: which functions, casts and operators may touch data, and how a masked
//! column may be used (projected bare, compared to literals, counted).

use super::*;

impl<'a> Analyzer<'a> {
    /// A function name checked against the allow-list; returns it unescaped and lower-case.
    pub(super) fn callable(&self, name: &ObjectName, callable: Callable) -> R<String> {
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
    pub(super) fn arguments(
        &mut self,
        args: &[FunctionArg],
        scope: &Scope,
        counting: bool,
    ) -> R<()> {
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

    pub(super) fn function(
        &mut self,
        f: &Function,
        scope: &Scope,
        counting_allowed: bool,
    ) -> R<()> {
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
    pub(super) fn projected(&mut self, e: &Expr, scope: &Scope) -> R<Option<String>> {
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
    pub(super) fn predicate(&mut self, e: &Expr, scope: &Scope) -> R<()> {
        self.one_level_deeper("conditions", "use IN (…) for long lists", |this| {
            this.predicate_inner(e, scope)
        })
    }

    /// Runs `walk` one level deeper into the expression tree, within [`MAX_EXPRESSION_DEPTH`].
    pub(super) fn one_level_deeper(
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

    pub(super) fn predicate_inner(&mut self, e: &Expr, scope: &Scope) -> R<()> {
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
    pub(super) fn masked_ref(&self, e: &Expr, scope: &Scope) -> Option<String> {
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
    pub(super) fn is_literal(&self, e: &Expr) -> bool {
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
    pub(super) fn value_subquery(&mut self, q: &Query, scope: &Scope) -> R<()> {
        match self.query_in(q, Some(scope))?.into_iter().find_map(|c| c.mask) {
            Some(m) => Err(masked_use(&m)),
            None => Ok(()),
        }
    }

    /// An expression that must not touch a masked column at all.
    pub(super) fn clean(&mut self, e: &Expr, scope: &Scope) -> R<()> {
        self.one_level_deeper(
            "expressions",
            "each operator of a + b + … is a level: compute long chains in steps, through a CTE",
            |this| this.clean_inner(e, scope),
        )
    }

    pub(super) fn clean_inner(&mut self, e: &Expr, scope: &Scope) -> R<()> {
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

    pub(super) fn cast_type(&self, data_type: &DataType) -> R<()> {
        let name = data_type.to_string();
        if cast_allowed(&name) {
            Ok(())
        } else {
            Err(Refusal::new(format!("values may not be cast to {name} here")))
        }
    }

    pub(super) fn operator(&self, op: &BinaryOperator) -> R<()> {
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
}
