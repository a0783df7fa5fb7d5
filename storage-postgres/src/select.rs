//! SQL for the generic reads: a [`Query`] over one entity's table becomes one `SELECT`, with names
//! only from static declarations (checked by [`ident`]) and every value bound.

use crate::codec::{ident, Param, Sql};
use hearth_core::kernel::query::{Dir, Filter, Query};
use hearth_core::kernel::value::Value;
use hearth_core::kernel::{EntityKind, StoreError, StoreResult};
use uuid::Uuid;

/// The alias of the queried table (`NotExists` sub-queries refer to it).
const OUTER: &str = "o";

/// `SELECT * FROM <table> WHERE <key> = $1`.
pub(crate) fn by_key(kind: EntityKind, id: Uuid) -> StoreResult<Sql> {
    let decl = kind.decl();
    let mut sql = Sql::default();
    let key = sql.param(Param::Uuid(Some(id)));
    sql.text = format!("SELECT * FROM {} WHERE {} = {key}", ident(decl.table)?, ident(decl.key)?);
    Ok(sql)
}

/// The marker column between a row and its parent in [`with_parent`]'s result.
pub(crate) const PARENT_MARKER: &str = "__parent__";

/// `SELECT c.*, NULL AS __parent__, p.* FROM child c LEFT JOIN parent p ON p.<key> = c.<via>
/// WHERE c.<key> = $1`: a row and the row it names, in one statement (one snapshot).
pub(crate) fn with_parent(kind: EntityKind, id: Uuid, via: &str, parent: EntityKind) -> StoreResult<Sql> {
    let (child, parent) = (kind.decl(), parent.decl());
    let mut sql = Sql::default();
    let key = sql.param(Param::Uuid(Some(id)));
    sql.text = format!(
        "SELECT c.*, NULL::int AS {PARENT_MARKER}, p.* FROM {} c LEFT JOIN {} p ON p.{} = c.{} WHERE c.{} = {key}",
        ident(child.table)?,
        ident(parent.table)?,
        ident(parent.key)?,
        ident(via)?,
        ident(child.key)?
    );
    Ok(sql)
}

/// The rows matching `query`, in its order, after its keyset position, within its offset and limit.
pub(crate) fn select(query: &Query) -> StoreResult<Sql> {
    let mut sql = Sql::default();
    let table = ident(query.kind.decl().table)?;
    let mut filter = conjunction(&mut sql, OUTER, 0, &query.filter)?;
    if let Some(after) = &query.after {
        filter = format!("{filter} AND {}", keyset(&mut sql, query, after)?);
    }
    let mut text = format!("SELECT {OUTER}.* FROM {table} {OUTER} WHERE {filter} ORDER BY {}", order(query)?);
    if let Some(limit) = query.limit {
        text.push_str(&format!(" LIMIT {}", sql.param(Param::Int(Some(i64::from(limit))))));
    }
    if query.offset > 0 {
        let offset = i64::try_from(query.offset)
            .map_err(|_| StoreError::Backend { message: format!("offset {} is out of range", query.offset) })?;
        text.push_str(&format!(" OFFSET {}", sql.param(Param::Int(Some(offset)))));
    }
    sql.text = text;
    Ok(sql)
}

/// The sort keys, then the key ascending (unless it is a sort key already): rows that tie come in
/// key order, as in every store, so results never depend on a plan.
fn order(query: &Query) -> StoreResult<String> {
    let key = query.kind.decl().key;
    let mut keys = query
        .order
        .iter()
        .map(|(c, d)| Ok(format!("{OUTER}.{} {}", ident(c)?, if *d == Dir::Asc { "ASC" } else { "DESC" })))
        .collect::<StoreResult<Vec<_>>>()?;
    if !query.order.iter().any(|(c, _)| *c == key) {
        keys.push(format!("{OUTER}.{} ASC", ident(key)?));
    }
    Ok(keys.join(", "))
}

/// How many rows match `query`'s filter (its order, position and limit are ignored).
pub(crate) fn count(query: &Query) -> StoreResult<Sql> {
    let mut sql = Sql::default();
    let table = ident(query.kind.decl().table)?;
    let filter = conjunction(&mut sql, OUTER, 0, &query.filter)?;
    sql.text = format!("SELECT count(*) FROM {table} {OUTER} WHERE {filter}");
    Ok(sql)
}

/// `(o.a, o.b) > ($1, $2)` (or `<` when descending): strictly after the position.
fn keyset(sql: &mut Sql, query: &Query, after: &[Value]) -> StoreResult<String> {
    let dir = query
        .keyset_dir()
        .ok_or_else(|| StoreError::Backend { message: "a keyset position needs sort keys of one direction".into() })?;
    if after.len() != query.order.len() {
        return Err(StoreError::Backend {
            message: format!("a keyset position of {} values for {} sort keys", after.len(), query.order.len()),
        });
    }
    let cols =
        query.order.iter().map(|(c, _)| Ok(format!("{OUTER}.{}", ident(c)?))).collect::<StoreResult<Vec<_>>>()?;
    let vals = after.iter().map(|v| sql.value(v)).collect::<StoreResult<Vec<_>>>()?;
    let op = if dir == Dir::Asc { ">" } else { "<" };
    Ok(format!("({}) {op} ({})", cols.join(", "), vals.join(", ")))
}

/// Every filter, joined by `AND` (`TRUE` when there is none).
fn conjunction(sql: &mut Sql, alias: &str, depth: usize, filters: &[Filter]) -> StoreResult<String> {
    if filters.is_empty() {
        return Ok("TRUE".into());
    }
    let parts = filters.iter().map(|f| condition(sql, alias, depth, f)).collect::<StoreResult<Vec<_>>>()?;
    Ok(parts.join(" AND "))
}

/// One filter on the row aliased `alias`; `depth` counts enclosing `NOT EXISTS` sub-queries.
fn condition(sql: &mut Sql, alias: &str, depth: usize, f: &Filter) -> StoreResult<String> {
    let col = |c: &str| -> StoreResult<String> { Ok(format!("{alias}.{}", ident(c)?)) };
    Ok(match f {
        // SQL semantics, as in every store: a comparison with NULL holds for no row (`IsNull` asks).
        Filter::Eq(c, v) => format!("{} = {}", col(c)?, sql.value(v)?),
        Filter::Ne(c, v) => format!("{} <> {}", col(c)?, sql.value(v)?),
        Filter::Lt(c, v) => format!("{} < {}", col(c)?, sql.value(v)?),
        Filter::Le(c, v) => format!("{} <= {}", col(c)?, sql.value(v)?),
        Filter::Gt(c, v) => format!("{} > {}", col(c)?, sql.value(v)?),
        Filter::Ge(c, v) => format!("{} >= {}", col(c)?, sql.value(v)?),
        Filter::In(c, values) => in_list(sql, &col(c)?, values, false)?,
        Filter::NotIn(c, values) => in_list(sql, &col(c)?, values, true)?,
        Filter::IsNull(c) => format!("{} IS NULL", col(c)?),
        Filter::NotNull(c) => format!("{} IS NOT NULL", col(c)?),
        Filter::Any(alternatives) if alternatives.is_empty() => "FALSE".into(),
        Filter::Any(alternatives) => {
            let parts = alternatives
                .iter()
                .map(|conj| Ok(format!("({})", conjunction(sql, alias, depth, conj)?)))
                .collect::<StoreResult<Vec<_>>>()?;
            format!("({})", parts.join(" OR "))
        }
        Filter::NotExists { kind, inner, outer, filter } => {
            let inner_alias = if depth == 0 { "i".to_owned() } else { format!("i{}", depth + 1) };
            let table = ident(kind.decl().table)?;
            let link = format!("{inner_alias}.{} = {}", ident(inner)?, col(outer)?);
            let rest = conjunction(sql, &inner_alias, depth + 1, filter)?;
            format!("NOT EXISTS (SELECT 1 FROM {table} {inner_alias} WHERE {link} AND {rest})")
        }
        other => return Err(StoreError::Backend { message: format!("filter {other:?} has no postgres form") }),
    })
}

/// `IN` / `NOT IN`: one typed array (`= ANY($n)`, `<> ALL($n)`: one statement whatever the length)
/// when the values allow it, else one placeholder each. An empty `IN` matches nothing, an empty
/// `NOT IN` everything.
fn in_list(sql: &mut Sql, col: &str, values: &[Value], negated: bool) -> StoreResult<String> {
    if values.is_empty() {
        return Ok(if negated { "TRUE" } else { "FALSE" }.into());
    }
    if let Some(array) = Param::array(values) {
        let p = sql.param(array);
        return Ok(if negated { format!("{col} <> ALL({p})") } else { format!("{col} = ANY({p})") });
    }
    let marks = values.iter().map(|v| sql.value(v)).collect::<StoreResult<Vec<_>>>()?;
    Ok(format!("{col} {}IN ({})", if negated { "NOT " } else { "" }, marks.join(", ")))
}
