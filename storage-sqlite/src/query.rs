//! SQL for the kernel's generic reads and writes, built from entity declarations and [`Query`]s.
//!
//! Table and column names come only from static declarations and queries written in code (never
//! from user input), and are still checked to be plain identifiers; every value is bound.

use crate::codec::{to_sql, SqlValue};
use hearth_core::kernel::entity::EntityDecl;
use hearth_core::kernel::query::{Dir, Filter, Query};
use hearth_core::kernel::store::{StoreError, StoreResult};
use hearth_core::kernel::value::Value;
use std::collections::HashSet;

/// A statement and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) args: Vec<SqlValue>,
}

/// `name` if it is a plain SQL identifier (`[a-z_][a-z0-9_]*`), else an error naming it.
pub(crate) fn ident(name: &str) -> StoreResult<&str> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Backend { message: format!("`{name}` is not a plain identifier") })
    }
}

/// `SELECT * FROM <table> WHERE <key> = ?`.
pub(crate) fn get(decl: &EntityDecl) -> StoreResult<String> {
    Ok(format!("SELECT * FROM {} WHERE {} = ?", ident(decl.table)?, ident(decl.key)?))
}

/// The marker column between a row and its parent in [`get_with_parent`]'s result.
pub(crate) const PARENT_MARKER: &str = "__parent__";

/// `SELECT c.*, NULL AS __parent__, p.* FROM child c LEFT JOIN parent p ON p.<key> = c.<via>
/// WHERE c.<key> = ?`: a row and the row it names, in one statement.
pub(crate) fn get_with_parent(child: &EntityDecl, via: &str, parent: &EntityDecl) -> StoreResult<String> {
    Ok(format!(
        "SELECT c.*, NULL AS {PARENT_MARKER}, p.* FROM {} c LEFT JOIN {} p ON p.{} = c.{} WHERE c.{} = ?",
        ident(child.table)?,
        ident(parent.table)?,
        ident(parent.key)?,
        ident(via)?,
        ident(child.key)?
    ))
}

/// What the query builder knows of the live schema: which columns are `NOT NULL`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    not_null: HashSet<(String, String)>,
}

impl Schema {
    /// Reads the `NOT NULL` columns of every table.
    pub(crate) fn load(conn: &rusqlite::Connection) -> rusqlite::Result<Self> {
        let mut st = conn.prepare(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND p.\"notnull\" = 1",
        )?;
        let not_null = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        Ok(Self { not_null })
    }

    fn may_be_null(&self, table: &str, column: &str) -> bool {
        !self.not_null.contains(&(table.to_owned(), column.to_owned()))
    }
}

/// The rows matching `q`, in its order, after its keyset position, offset and limited.
pub(crate) fn select(q: &Query, schema: &Schema) -> StoreResult<Sql> {
    let decl = q.kind.decl();
    let mut b = Builder::new(format!("SELECT o.* FROM {} o WHERE ", ident(decl.table)?));
    b.conjunction("o", &q.filter)?;
    if let Some(after) = &q.after {
        b.keyset(q, after)?;
    }
    // The query's sort keys, then the key: rows that tie (or an unordered query) come in key
    // order, as in every store.
    let mut keys = q
        .order
        .iter()
        .map(|(c, d)| Ok(format!("o.{} {}", ident(c)?, dir(*d, schema.may_be_null(decl.table, c)))))
        .collect::<StoreResult<Vec<_>>>()?;
    if !q.order.iter().any(|(c, _)| *c == decl.key) {
        keys.push(format!("o.{} ASC", ident(decl.key)?));
    }
    b.text.push_str(" ORDER BY ");
    b.text.push_str(&keys.join(", "));
    if q.limit.is_some() || q.offset > 0 {
        b.text.push_str(" LIMIT ? OFFSET ?");
        // SQLite spells "no limit" as a negative one.
        b.args.push(SqlValue::Integer(q.limit.map_or(-1, i64::from)));
        b.args.push(SqlValue::Integer(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    }
    Ok(Sql { text: b.text, args: b.args })
}

/// How many rows match `q`'s filters (its order, position and limit are ignored).
pub(crate) fn count(q: &Query) -> StoreResult<Sql> {
    let decl = q.kind.decl();
    let mut b = Builder::new(format!("SELECT count(*) FROM {} o WHERE ", ident(decl.table)?));
    b.conjunction("o", &q.filter)?;
    Ok(Sql { text: b.text, args: b.args })
}

/// A sort direction with `NULL`s sorting after every value, as in Postgres and the memory store
/// (SQLite's default sorts them first). A `NOT NULL` column gets the plain direction: SQLite's
/// planner walks an index for at most one sort key with a non-default `NULL` order.
fn dir(d: Dir, nullable: bool) -> &'static str {
    match (d, nullable) {
        (Dir::Asc, true) => "ASC NULLS LAST",
        (Dir::Desc, true) => "DESC NULLS FIRST",
        (Dir::Asc, false) => "ASC",
        (Dir::Desc, false) => "DESC",
    }
}

struct Builder {
    text: String,
    args: Vec<SqlValue>,
    /// Subquery aliases handed out so far (`i1`, `i2`, …).
    aliases: usize,
}

impl Builder {
    fn new(text: String) -> Self {
        Self { text, args: Vec::new(), aliases: 0 }
    }

    fn bind(&mut self, v: &Value) -> StoreResult<()> {
        self.args.push(to_sql(v)?);
        Ok(())
    }

    /// The filters joined by `AND` (`1` when there are none).
    fn conjunction(&mut self, alias: &str, filters: &[Filter]) -> StoreResult<()> {
        if filters.is_empty() {
            self.text.push('1');
            return Ok(());
        }
        for (i, f) in filters.iter().enumerate() {
            if i > 0 {
                self.text.push_str(" AND ");
            }
            self.filter(alias, f)?;
        }
        Ok(())
    }

    fn compare(&mut self, alias: &str, column: &str, op: &str, v: &Value) -> StoreResult<()> {
        self.text.push_str(&format!("{alias}.{} {op} ?", ident(column)?));
        self.bind(v)
    }

    fn list(&mut self, alias: &str, column: &str, op: &str, values: &[Value]) -> StoreResult<()> {
        let marks = vec!["?"; values.len()].join(", ");
        self.text.push_str(&format!("{alias}.{} {op} ({marks})", ident(column)?));
        values.iter().try_for_each(|v| self.bind(v))
    }

    fn filter(&mut self, alias: &str, f: &Filter) -> StoreResult<()> {
        match f {
            Filter::Eq(c, v) => self.compare(alias, c, "=", v),
            Filter::Ne(c, v) => self.compare(alias, c, "<>", v),
            Filter::Lt(c, v) => self.compare(alias, c, "<", v),
            Filter::Le(c, v) => self.compare(alias, c, "<=", v),
            Filter::Gt(c, v) => self.compare(alias, c, ">", v),
            Filter::Ge(c, v) => self.compare(alias, c, ">=", v),
            // An empty list matches nothing (`IN`) or everything (`NOT IN`).
            Filter::In(_, vs) if vs.is_empty() => {
                self.text.push('0');
                Ok(())
            }
            Filter::In(c, vs) => self.list(alias, c, "IN", vs),
            Filter::NotIn(_, vs) if vs.is_empty() => {
                self.text.push('1');
                Ok(())
            }
            Filter::NotIn(c, vs) => self.list(alias, c, "NOT IN", vs),
            Filter::IsNull(c) => {
                self.text.push_str(&format!("{alias}.{} IS NULL", ident(c)?));
                Ok(())
            }
            Filter::NotNull(c) => {
                self.text.push_str(&format!("{alias}.{} IS NOT NULL", ident(c)?));
                Ok(())
            }
            Filter::Any(alternatives) if alternatives.is_empty() => {
                self.text.push('0');
                Ok(())
            }
            Filter::Any(alternatives) => {
                self.text.push('(');
                for (i, conj) in alternatives.iter().enumerate() {
                    if i > 0 {
                        self.text.push_str(" OR ");
                    }
                    self.text.push('(');
                    self.conjunction(alias, conj)?;
                    self.text.push(')');
                }
                self.text.push(')');
                Ok(())
            }
            Filter::NotExists { kind, inner, outer, filter } => {
                self.aliases += 1;
                let sub = format!("i{}", self.aliases);
                self.text.push_str(&format!(
                    "NOT EXISTS (SELECT 1 FROM {table} {sub} WHERE {sub}.{inner} = {alias}.{outer} AND (",
                    table = ident(kind.decl().table)?,
                    inner = ident(inner)?,
                    outer = ident(outer)?,
                ));
                self.conjunction(&sub, filter)?;
                self.text.push_str("))");
                Ok(())
            }
            other => Err(StoreError::Backend { message: format!("unsupported filter {other:?}") }),
        }
    }

    /// ` AND (a, b) < (?, ?)` (descending) or `>` (ascending): strictly after the position.
    fn keyset(&mut self, q: &Query, after: &[Value]) -> StoreResult<()> {
        let Some(d) = q.keyset_dir() else {
            return Err(StoreError::Backend { message: "a keyset position needs sort keys of one direction".into() });
        };
        if after.len() != q.order.len() {
            return Err(StoreError::Backend {
                message: format!("a keyset position of {} values for {} sort keys", after.len(), q.order.len()),
            });
        }
        let cols = q.order.iter().map(|(c, _)| Ok(format!("o.{}", ident(c)?))).collect::<StoreResult<Vec<_>>>()?;
        let op = match d {
            Dir::Asc => ">",
            Dir::Desc => "<",
        };
        let marks = vec!["?"; after.len()].join(", ");
        self.text.push_str(&format!(" AND ({}) {op} ({marks})", cols.join(", ")));
        after.iter().try_for_each(|v| self.bind(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::kernel::entity::{EntityKind, Shape};

    static THING: EntityDecl = EntityDecl {
        kind: "test.thing",
        aliases: &[],
        human: "thing",
        table: "things",
        key: "id",
        shape: Shape::Versioned,
        uniques: &[],
        guards: &[],
    };
    static PART: EntityDecl = EntityDecl {
        kind: "test.part",
        aliases: &[],
        human: "part",
        table: "parts",
        key: "id",
        shape: Shape::AppendOnly { sequence: None },
        uniques: &[],
        guards: &[],
    };

    fn q() -> Query {
        Query::kind(EntityKind::of(&THING))
    }

    #[test]
    fn every_filter_becomes_bound_sql() {
        let query = q()
            .eq("status", "open")
            .filter(Filter::Ne("a", Value::Int(1)))
            .filter(Filter::Lt("b", Value::Int(2)))
            .filter(Filter::Le("b", Value::Int(3)))
            .filter(Filter::Gt("c", Value::Bool(true)))
            .filter(Filter::Ge("c", Value::Float(1.5)))
            .filter(Filter::In("d", vec![Value::Int(1), Value::Int(2)]))
            .filter(Filter::NotIn("e", vec![Value::Text("x".into())]))
            .filter(Filter::IsNull("f"))
            .filter(Filter::NotNull("g"))
            .filter(Filter::Any(vec![
                vec![Filter::Eq("h", Value::Int(1))],
                vec![Filter::Eq("h", Value::Int(2)), Filter::IsNull("i")],
            ]))
            .filter(Filter::NotExists {
                kind: EntityKind::of(&PART),
                inner: "thing_id",
                outer: "id",
                filter: vec![Filter::Eq("ok", Value::Bool(true))],
            })
            .order_by("created_at", Dir::Desc)
            .order_by("id", Dir::Desc)
            .after(vec![Value::Int(10), Value::Int(11)])
            .limit(5);
        let sql = select(&query, &Schema::default()).unwrap();
        assert_eq!(
            sql.text,
            "SELECT o.* FROM things o WHERE o.status = ? AND o.a <> ? AND o.b < ? AND o.b <= ? AND o.c > ? AND o.c >= ? \
             AND o.d IN (?, ?) AND o.e NOT IN (?) AND o.f IS NULL AND o.g IS NOT NULL \
             AND ((o.h = ?) OR (o.h = ? AND o.i IS NULL)) \
             AND NOT EXISTS (SELECT 1 FROM parts i1 WHERE i1.thing_id = o.id AND (i1.ok = ?)) \
             AND (o.created_at, o.id) < (?, ?) ORDER BY o.created_at DESC NULLS FIRST, o.id DESC NULLS FIRST LIMIT ? OFFSET ?"
        );
        assert_eq!(
            sql.args,
            vec![
                SqlValue::Text("open".into()),
                SqlValue::Integer(1),
                SqlValue::Integer(2),
                SqlValue::Integer(3),
                SqlValue::Integer(1),
                SqlValue::Real(1.5),
                SqlValue::Integer(1),
                SqlValue::Integer(2),
                SqlValue::Text("x".into()),
                SqlValue::Integer(1),
                SqlValue::Integer(2),
                SqlValue::Integer(1),
                SqlValue::Integer(10),
                SqlValue::Integer(11),
                SqlValue::Integer(5),
                SqlValue::Integer(0),
            ]
        );
        let count = count(&query).unwrap();
        assert!(count.text.starts_with("SELECT count(*) FROM things o WHERE o.status = ?"));
        assert!(
            !count.text.contains("ORDER BY")
                && !count.text.contains("LIMIT")
                && !count.text.contains("o.created_at, o.id")
        );
    }

    #[test]
    fn empty_lists_and_alternatives_are_constants() {
        let sql = select(
            &q().filter(Filter::In("a", vec![])).filter(Filter::NotIn("b", vec![])).filter(Filter::Any(vec![])),
            &Schema::default(),
        )
        .unwrap();
        assert_eq!(sql.text, "SELECT o.* FROM things o WHERE 0 AND 1 AND 0 ORDER BY o.id ASC");
        assert!(sql.args.is_empty());
        assert_eq!(
            select(&q(), &Schema::default()).unwrap().text,
            "SELECT o.* FROM things o WHERE 1 ORDER BY o.id ASC"
        );
    }

    #[test]
    fn ascending_keysets_and_offsets() {
        let sql =
            select(&q().order_by("n", Dir::Asc).after(vec![Value::Int(3)]).offset(7), &Schema::default()).unwrap();
        assert_eq!(
            sql.text,
            "SELECT o.* FROM things o WHERE 1 AND (o.n) > (?) ORDER BY o.n ASC NULLS LAST, o.id ASC LIMIT ? OFFSET ?"
        );
        assert_eq!(sql.args, vec![SqlValue::Integer(3), SqlValue::Integer(-1), SqlValue::Integer(7)]);
    }

    #[test]
    fn not_null_sort_keys_keep_the_plain_direction() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE things (id TEXT PRIMARY KEY, at INTEGER NOT NULL, n INTEGER) STRICT").unwrap();
        let schema = Schema::load(&conn).unwrap();
        assert!(!schema.may_be_null("things", "at") && !schema.may_be_null("things", "id"));
        assert!(schema.may_be_null("things", "n") && schema.may_be_null("others", "at"));
        let sql =
            select(&q().order_by("at", Dir::Desc).order_by("n", Dir::Desc).order_by("id", Dir::Desc), &schema).unwrap();
        assert_eq!(sql.text, "SELECT o.* FROM things o WHERE 1 ORDER BY o.at DESC, o.n DESC NULLS FIRST, o.id DESC");
    }

    #[test]
    fn bad_keysets_and_names_are_refused() {
        let none = Schema::default();
        assert!(select(
            &q().order_by("a", Dir::Asc).order_by("b", Dir::Desc).after(vec![Value::Int(1), Value::Int(2)]),
            &none
        )
        .is_err());
        assert!(select(&q().order_by("a", Dir::Asc).after(vec![Value::Int(1), Value::Int(2)]), &none).is_err());
        assert!(select(&q().after(vec![Value::Int(1)]), &none).is_err());
        assert!(select(&q().eq("a; DROP TABLE things", 1_i64), &none).is_err());
        assert_eq!(get(&THING).unwrap(), "SELECT * FROM things WHERE id = ?");
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(ident("budget_min").is_ok());
        assert!(ident("_x1").is_ok());
        for bad in ["", "1a", "a b", "a;drop", "A", "a.b", "a\"b"] {
            assert!(ident(bad).is_err(), "{bad}");
        }
    }
}
