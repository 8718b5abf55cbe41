//! Name resolution: a column reference to the relation and base column it reads, through
//! nested scopes, aliases and shadowing.

use super::*;

impl<'a> Analyzer<'a> {
    pub(super) fn resolve_ref(&self, e: &Expr, scope: &Scope) -> Resolved {
        match e {
            Expr::Identifier(i) => self.resolve(std::slice::from_ref(i), scope),
            Expr::CompoundIdentifier(parts) => self.resolve(parts, scope),
            _ => Resolved::Unknown,
        }
    }

    pub(super) fn unknown_ref(&self, e: &Expr) -> Refusal {
        Refusal::unknown(format!("{e} is not a column of the tables this query reads"))
    }

    /// Records how the reference starting at `ident` is to be printed; two walks that disagree
    /// (a recursive CTE is read more than once) leave it unqualified.
    pub(super) fn qualify(&self, ident: &Ident, qualifier: Option<Ident>) {
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
    pub(super) fn resolve(&self, names: &[Ident], scope: &Scope) -> Resolved {
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
