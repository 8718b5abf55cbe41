//! Catalog search: filters and words to one SQL query, a page of summaries.

use super::*;

/// Escapes LIKE wildcards so user text only ever matches itself.
pub(super) fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(super) const SUMMARY_COLUMNS: &str =
    "s.name, COALESCE(s.squad, ''), s.tier, s.lifecycle, s.description, s.runbook, s.readiness_met, s.readiness_required";

pub(super) type SummaryRow = (String, String, i64, String, String, String, i64, i64);

pub(super) fn summary(
    (name, squad, tier, lifecycle, description, runbook, met, required): SummaryRow,
) -> ServiceSummary {
    ServiceSummary {
        name,
        squad,
        tier: Tier::new(tier).unwrap_or(Tier::ALL[3]),
        lifecycle: Lifecycle::parse(&lifecycle).unwrap_or(Lifecycle::Experimental),
        description,
        runbook,
        readiness: Score { met: met as u32, required: required as u32 },
    }
}

/// A bind value of the search: text or number.
pub(super) enum Param {
    Text(String),
    Int(i64),
}

/// The WHERE clause for the filters that are set (only those, so the planner can use indexes),
/// with its parameters in order.
pub(super) fn filters(query: &CatalogQuery) -> (String, Vec<Param>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut add = |clause: &str, param: Param| {
        params.push(param);
        clauses.push(clause.replace('?', &format!("${}", params.len())));
    };
    let text: String =
        query.text.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string();
    if !text.is_empty() {
        add("s.search_text LIKE ? ESCAPE '\\'", Param::Text(like_pattern(&text)));
    }
    if let Some(squad) = &query.squad {
        add("s.squad = ?", Param::Text(squad.clone()));
    }
    if let Some(tier) = query.tier {
        add("s.tier = ?", Param::Int(tier.number() as i64));
    }
    if let Some(lifecycle) = query.lifecycle {
        add("s.lifecycle = ?", Param::Text(lifecycle.as_str().to_string()));
    }
    match query.readiness {
        Some(ReadinessFilter::Ready) => {
            clauses.push("s.readiness_met >= s.readiness_required".into())
        }
        Some(ReadinessFilter::NotReady) => {
            clauses.push("s.readiness_met < s.readiness_required".into())
        }
        None => {}
    }
    let clause =
        if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    (clause, params)
}

pub(super) fn bind_all<'q, O>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    params: &[Param],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for p in params {
        query = match p {
            Param::Text(t) => query.bind(t.clone()),
            Param::Int(i) => query.bind(*i),
        };
    }
    query
}

/// One page of a catalog search, sorted by name.
pub async fn search(store: &Store, query: &CatalogQuery) -> Result<CatalogPage, StoreError> {
    let page_size = CatalogQuery::PAGE_SIZE;
    let offset = (query.page.max(1) as i64 - 1) * page_size as i64;
    let (clause, params) = filters(query);
    let n = params.len();
    // Two statements on purpose: ORDER BY name LIMIT walks the primary key and stops early,
    // which a COUNT(*) OVER () in the same statement would prevent.
    let page_sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM services s {clause} ORDER BY s.name LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let rows: Vec<SummaryRow> = bind_all(sqlx::query_as(&page_sql), &params)
        .bind(page_size as i64)
        .bind(offset)
        .fetch_all(store.pool())
        .await?;
    let count_sql = format!("SELECT COUNT(*) FROM services s {clause}");
    let (total,): (i64,) =
        bind_all(sqlx::query_as(&count_sql), &params).fetch_one(store.pool()).await?;
    Ok(CatalogPage {
        query: query.clone(),
        services: rows.into_iter().map(summary).collect(),
        total: total as u64,
        page_size,
    })
}
