//! Printing expressions and function calls, a space around every operator.

use super::*;

impl Printer<'_> {
    pub(super) fn function_args(&mut self, args: &[FunctionArg]) -> P {
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

    pub(super) fn function(&mut self, f: &Function) -> P {
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

    pub(super) fn frame_bound(&mut self, b: &WindowFrameBound) -> P {
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

    pub(super) fn not(&mut self, negated: bool) {
        if negated {
            self.w("NOT ");
        }
    }

    pub(super) fn escape(&mut self, escape_char: &Option<Box<Expr>>) -> P {
        if let Some(e) = escape_char {
            self.w(" ESCAPE ");
            self.expr(e)?;
        }
        Ok(())
    }

    pub(super) fn paren_query(&mut self, q: &Query) -> P {
        self.w("(");
        self.query(q)?;
        self.w(")");
        Ok(())
    }

    pub(super) fn expr(&mut self, e: &Expr) -> P {
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
                crate::query::guard::lineage::kind_name(other)
            ))),
        }
    }

    pub(super) fn any_all_operand(&mut self, right: &Expr) -> P {
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

    pub(super) fn postfix(&mut self, x: &Expr, suffix: &str) -> P {
        self.expr(x)?;
        self.w(suffix);
        Ok(())
    }

    pub(super) fn infix(&mut self, a: &Expr, middle: &str, b: &Expr) -> P {
        self.expr(a)?;
        self.w(middle);
        self.expr(b)
    }
}
