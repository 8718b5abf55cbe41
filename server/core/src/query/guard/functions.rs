//! What a query may call: an allow-list per engine, compared after the engine's own unescaping
//! (quoted names are taken as written, unquoted ones lower-cased; anything else, such as
//! PostgreSQL's `U&"…"`, never matches and is refused). SREs may add names per replica.
//!
//! Left out on purpose: functions that sleep, lock, signal, read files or settings, run SQL
//! given as text (`query_to_xml`, `ts_stat`), export whole tables (`table_to_xml`), touch
//! sequences, or build huge values from small input (`repeat`, `lpad`, `printf` and SQLite's `format`;
//! SQLite's `json_group_array`/`json_group_object`, which grow without its length limit): a developer
//! debugging data has no need of them, and each is a way to hurt the replica or leak data.

use super::super::Engine;

/// Scalar, aggregate and window functions common to every engine.
const COMMON: &[&str] = &[
    // numbers
    "abs",
    "ceil",
    "ceiling",
    "floor",
    "round",
    "mod",
    "power",
    "pow",
    "sqrt",
    "exp",
    "ln",
    "log",
    "log10",
    "log2",
    "sign",
    "pi",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "degrees",
    "radians",
    "random",
    "greatest",
    "least",
    "coalesce",
    "nullif",
    // text
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "bit_length",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "btrim",
    "replace",
    "concat",
    "concat_ws",
    "left",
    "right",
    "reverse",
    "position",
    "instr",
    "strpos",
    "split_part",
    "initcap",
    "ascii",
    "chr",
    "char",
    "hex",
    "md5",
    "sha1",
    "sha2",
    "translate",
    "quote_literal",
    "quote_ident",
    "starts_with",
    "regexp_replace",
    "regexp_like",
    "regexp_substr",
    "regexp_instr",
    "regexp_match",
    "regexp_count",
    "soundex",
    "to_hex",
    // dates
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "date_trunc",
    "date_part",
    "extract",
    "age",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "to_char",
    "to_date",
    "to_timestamp",
    "to_number",
    "date_add",
    "date_sub",
    "datediff",
    "date_format",
    "str_to_date",
    "year",
    "month",
    "day",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "hour",
    "minute",
    "second",
    "week",
    "weekday",
    "quarter",
    "last_day",
    "unix_timestamp",
    "from_unixtime",
    "timestampdiff",
    "timestampadd",
    "date",
    "time",
    "datetime",
    "julianday",
    "strftime",
    "unixepoch",
    "isfinite",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "date_bin",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "utc_timestamp",
    "utc_date",
    "curdate",
    "curtime",
    "sysdate",
    "timezone",
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "bool_and",
    "bool_or",
    "every",
    "array_agg",
    "string_agg",
    "group_concat",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "json_arrayagg",
    "json_objectagg",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "std",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "bit_and",
    "bit_or",
    "bit_xor",
    "total",
    // windows
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // json
    "json_build_object",
    "jsonb_build_object",
    "row_to_json",
    "json_build_array",
    "jsonb_build_array",
    "to_json",
    "to_jsonb",
    "json_extract_path",
    "jsonb_extract_path",
    "json_extract_path_text",
    "jsonb_extract_path_text",
    "json_array_length",
    "jsonb_array_length",
    "json_typeof",
    "jsonb_typeof",
    "jsonb_pretty",
    "jsonb_strip_nulls",
    "json_strip_nulls",
    "jsonb_set",
    "jsonb_insert",
    "jsonb_path_exists",
    "jsonb_path_query_first",
    "json_extract",
    "json_unquote",
    "json_object",
    "json_array",
    "json_length",
    "json_valid",
    "json_type",
    "json_keys",
    "json_contains",
    "json_contains_path",
    "json_value",
    "json_query",
    "json_quote",
    "json",
    "json_remove",
    "json_set",
    "json_insert",
    "json_replace",
    // arrays, types, identity
    "array_length",
    "cardinality",
    "array_to_string",
    "string_to_array",
    "array_position",
    "array_remove",
    "array_append",
    "array_prepend",
    "array_cat",
    "array_lower",
    "array_upper",
    "array_dims",
    "pg_typeof",
    "typeof",
    "cast",
    "convert",
    "current_user",
    "session_user",
    "current_schema",
    "current_database",
    "database",
    "version",
    "user",
    "gen_random_uuid",
    "uuid",
    "if",
    "ifnull",
    "nvl",
    "iif",
    "isnull",
    "uuid_to_bin",
    "bin_to_uuid",
    "encode",
    "decode",
    "inet_aton",
    "inet_ntoa",
    "host",
    "masklen",
    "family",
    "network",
];

/// Functions that return rows, called in FROM.
fn table_functions(engine: Engine) -> &'static [&'static str] {
    match engine {
        Engine::Postgres => &[
            "generate_series",
            "unnest",
            "json_each",
            "jsonb_each",
            "json_each_text",
            "jsonb_each_text",
            "json_array_elements",
            "jsonb_array_elements",
            "json_array_elements_text",
            "jsonb_array_elements_text",
            "json_to_recordset",
            "jsonb_to_recordset",
            "json_object_keys",
            "jsonb_object_keys",
            "regexp_matches",
            "string_to_table",
            "regexp_split_to_table",
            "jsonb_path_query",
        ],
        Engine::Mysql => &[],
        Engine::Sqlite => &["json_each", "json_tree"],
    }
}

/// Which list a name is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callable {
    Scalar,
    Table,
}

/// The names a query may call on one replica.
#[derive(Debug, Clone)]
pub struct Allowed {
    engine: Engine,
    extra: Vec<String>,
}

impl Allowed {
    /// The engine's list plus the replica's `extra` names (lower-cased).
    pub fn new(engine: Engine, extra: &[String]) -> Self {
        Allowed { engine, extra: extra.iter().map(|n| n.trim().to_lowercase()).collect() }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// `name` is already unescaped and lower-cased.
    pub fn allows(&self, name: &str, callable: Callable) -> bool {
        let listed = match callable {
            Callable::Scalar => COMMON.contains(&name),
            Callable::Table => table_functions(self.engine).contains(&name),
        };
        listed || self.extra.iter().any(|e| e == name)
    }
}

/// Type names a value may be cast to (the base name, lower-case, without length or array marks).
pub fn cast_allowed(type_name: &str) -> bool {
    let base = type_name
        .split('(')
        .next()
        .unwrap_or_default()
        .trim_end_matches("[]")
        .trim()
        .to_lowercase();
    const TYPES: &[&str] = &[
        "int",
        "integer",
        "smallint",
        "bigint",
        "int2",
        "int4",
        "int8",
        "tinyint",
        "mediumint",
        "real",
        "float",
        "float4",
        "float8",
        "double",
        "double precision",
        "numeric",
        "decimal",
        "dec",
        "text",
        "varchar",
        "character varying",
        "char",
        "character",
        "bpchar",
        "nchar",
        "boolean",
        "bool",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "timestamp with time zone",
        "timestamp without time zone",
        "time with time zone",
        "time without time zone",
        "timetz",
        "interval",
        "uuid",
        "json",
        "jsonb",
        "bytea",
        "inet",
        "cidr",
        "macaddr",
        "signed",
        "unsigned",
        "signed integer",
        "unsigned integer",
        "binary",
        "datetime",
        "year",
        "blob",
        "name",
        "money",
        "bit",
        "varbit",
        "bit varying",
    ];
    TYPES.contains(&base.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_names_are_not_on_any_list() {
        for engine in [Engine::Postgres, Engine::Mysql, Engine::Sqlite] {
            let allowed = Allowed::new(engine, &[]);
            for name in [
                "pg_sleep",
                "pg_terminate_backend",
                "pg_advisory_lock",
                "set_config",
                "query_to_xml",
                "table_to_xml",
                "ts_stat",
                "dblink",
                "lo_import",
                "pg_read_file",
                "nextval",
                "sleep",
                "benchmark",
                "get_lock",
                "load_file",
                "load_extension",
                "readfile",
                "repeat",
                "lpad",
                "printf",
                "format",
                "current_setting",
                "json_group_array",
                "json_group_object",
            ] {
                assert!(
                    !allowed.allows(name, Callable::Scalar)
                        && !allowed.allows(name, Callable::Table),
                    "{name}"
                );
            }
        }
        assert!(Allowed::new(Engine::Postgres, &["my_fn".into()]).allows("my_fn", Callable::Scalar));
        assert!(cast_allowed("VARCHAR(10)") && cast_allowed("int[]") && !cast_allowed("regclass"));
    }
}
