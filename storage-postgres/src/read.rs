//! The reads, written once over anything that runs a statement ([`Fetch`]): the pool (each read
//! its own snapshot) or a read-only repeatable-read transaction (one snapshot for many reads).

use crate::codec::{version_u64, Param, PgRead, Sql};
use crate::error::map_err;
use crate::select;
use async_trait::async_trait;
use hearth_core::id::{AuditId, ClientId, EventId, UserId};
use hearth_core::kernel::entity::Readers;
use hearth_core::kernel::feed::{cursor_expired, FeedCursor, FeedEvent, FeedPage, FEED_PAGE_MAX};
use hearth_core::kernel::query::Query;
use hearth_core::kernel::store::{
    AuditRecord, ClientActionRecord, ClientCursor, IdempotencyRecord, OutboxEvent, StoredRow,
};
use hearth_core::kernel::value::RowRead;
use hearth_core::kernel::{EntityKind, EntityRef, StoreError, StoreResult};
use hearth_core::time::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::Row;
use uuid::Uuid;

/// Runs one read statement.
#[async_trait]
pub(crate) trait Fetch: Send + Sync {
    /// Every row the statement returns.
    async fn fetch(&self, sql: Sql) -> StoreResult<Vec<PgRow>>;
}

/// The row of `kind` with key `id`.
pub(crate) async fn get_row<F: Fetch + ?Sized>(f: &F, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>> {
    let rows = f.fetch(select::by_key(kind, id)?).await?;
    rows.into_iter().next().map(|r| stored(kind, r)).transpose()
}

/// The row of `kind` with key `id` and the `parent` row its column `via` names, in one statement.
pub(crate) async fn get_with_parent<F: Fetch + ?Sized>(
    f: &F,
    kind: EntityKind,
    id: Uuid,
    via: &'static str,
    parent: EntityKind,
) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
    let rows = f.fetch(select::with_parent(kind, id, via, parent)?).await?;
    let Some(row) = rows.into_iter().next() else { return Ok(None) };
    let (child, parent_part) = PgRead::split(row, select::PARENT_MARKER)
        .ok_or_else(|| StoreError::Corrupt { message: "joined row without its marker".into() })?;
    let version_of = |r: &PgRead, kind: EntityKind| -> StoreResult<u64> {
        if kind.decl().is_versioned() {
            let v: i64 = r.int("version").map_err(|e| StoreError::Corrupt { message: e.to_string() })?;
            version_u64(v, "version")
        } else {
            Ok(1)
        }
    };
    let child_version = version_of(&child, kind)?;
    let parent_row = if parent_part.is_all_null() {
        None
    } else {
        let version = version_of(&parent_part, parent)?;
        Some(StoredRow { row: Box::new(parent_part), version })
    };
    Ok(Some((StoredRow { row: Box::new(child), version: child_version }, parent_row)))
}

/// The rows matching `query`.
pub(crate) async fn query_rows<F: Fetch + ?Sized>(f: &F, query: &Query) -> StoreResult<Vec<StoredRow>> {
    let rows = f.fetch(select::select(query)?).await?;
    rows.into_iter().map(|r| stored(query.kind, r)).collect()
}

/// How many rows match `query`.
pub(crate) async fn count_rows<F: Fetch + ?Sized>(f: &F, query: &Query) -> StoreResult<u64> {
    let rows = f.fetch(select::count(query)?).await?;
    let row = rows.first().ok_or_else(|| StoreError::Backend { message: "count returned no row".into() })?;
    version_u64(get(row, "count")?, "count")
}

/// A stored row with its version: the `version` column of a versioned entity, 1 for append-only.
fn stored(kind: EntityKind, row: PgRow) -> StoreResult<StoredRow> {
    let version = if kind.decl().is_versioned() { version_u64(get(&row, "version")?, "version")? } else { 1 };
    Ok(StoredRow { row: Box::new(PgRead::new(row)), version })
}

fn get<'r, T>(r: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    r.try_get(column).map_err(|e| StoreError::Corrupt { message: format!("column `{column}`: {e}") })
}

fn ts(r: &PgRow, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_datetime(get(r, column)?))
}

/// An entity reference as the kernel tables store it. A kind no domain registers (under its name or
/// an alias) is corrupt: it is never read as some other kind.
fn entity(r: &PgRow) -> StoreResult<EntityRef> {
    let name: String = get(r, "entity_kind")?;
    let kind = EntityKind::parse(&name)
        .ok_or_else(|| StoreError::Corrupt { message: format!("unknown entity kind `{name}`") })?;
    Ok(EntityRef { kind, id: get(r, "entity_id")? })
}

fn sql(text: &str, params: Vec<Param>) -> Sql {
    Sql { text: text.to_owned(), params }
}

fn seq_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The idempotency record for `(scope, key)`.
pub(crate) async fn idempotency_record<F: Fetch + ?Sized>(
    f: &F,
    scope: &str,
    key: &str,
) -> StoreResult<Option<IdempotencyRecord>> {
    let rows = f
        .fetch(sql(
            "SELECT scope, key, command, fingerprint, response, at FROM idempotency_keys WHERE scope = $1 AND key = $2",
            vec![Param::Text(Some(scope.to_owned())), Param::Text(Some(key.to_owned()))],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(IdempotencyRecord {
                scope: get(r, "scope")?,
                key: get(r, "key")?,
                command: get(r, "command")?,
                fingerprint: get(r, "fingerprint")?,
                response: get(r, "response")?,
                at: ts(r, "at")?,
            })
        })
        .next()
        .transpose()
}

/// The audit trail of one entity, oldest first, under its kind and every earlier name of it.
pub(crate) async fn audit_trail<F: Fetch + ?Sized>(f: &F, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
    let decl = entity.kind.decl();
    let names: Vec<String> =
        std::iter::once(decl.kind).chain(decl.aliases.iter().copied()).map(str::to_owned).collect();
    let rows = f
        .fetch(sql(
            "SELECT id, entity_kind, entity_id, action, actor, before, after, version, at FROM audit_log
             WHERE entity_kind = ANY($1) AND entity_id = $2 ORDER BY seq",
            vec![Param::TextList(Some(names)), Param::Uuid(Some(entity.id))],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRecord {
                id: AuditId::from_uuid(get(r, "id")?),
                entity: self::entity(r)?,
                action: get(r, "action")?,
                actor: get(r, "actor")?,
                before: get(r, "before")?,
                after: get(r, "after")?,
                version: version_u64(get(r, "version")?, "version")?,
                at: ts(r, "at")?,
            })
        })
        .collect()
}

/// Outbox events after position `after`, in position order.
pub(crate) async fn outbox_after<F: Fetch + ?Sized>(
    f: &F,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<(i64, OutboxEvent)>> {
    let rows = f
        .fetch(sql(
            "SELECT position, id, topic, entity_kind, entity_id, payload, audience, at, readers FROM outbox
             WHERE position > $1 ORDER BY position LIMIT $2",
            vec![Param::Int(Some(after)), Param::Int(Some(i64::from(limit)))],
        ))
        .await?;
    rows.iter().map(|r| Ok((get(r, "position")?, outbox_event(r)?))).collect()
}

/// An outbox row as an event (events stored before the change feed carry their users only).
fn outbox_event(r: &PgRow) -> StoreResult<OutboxEvent> {
    let audience: Vec<UserId> = get::<Vec<Uuid>>(r, "audience")?.into_iter().map(UserId::from_uuid).collect();
    let readers = match get::<Option<serde_json::Value>>(r, "readers")? {
        Some(json) => serde_json::from_value(json)
            .map_err(|e| StoreError::Corrupt { message: format!("column `readers`: {e}") })?,
        None => Readers::users(audience.iter().copied()),
    };
    Ok(OutboxEvent {
        id: EventId::from_uuid(get(r, "id")?),
        topic: get(r, "topic")?,
        entity: entity(r)?,
        payload: get(r, "payload")?,
        audience,
        at: ts(r, "at")?,
        readers,
    })
}

fn feed_cursor(tx: i64, position: i64) -> StoreResult<FeedCursor> {
    u64::try_from(tx)
        .ok()
        .and_then(|tx| FeedCursor::new(tx, position))
        .ok_or_else(|| StoreError::Corrupt { message: format!("feed cursor {tx}.{position}") })
}

fn tx_param(c: FeedCursor) -> Param {
    Param::Int(Some(i64::try_from(c.tx()).unwrap_or(i64::MAX)))
}

/// The change feed after `after` (`hearth_core::kernel::feed`), in one statement (one snapshot):
/// the released events — those whose transaction is older than the oldest still running — in
/// `(tx, position)` order, the horizon, and whether committed events wait behind a running one.
pub(crate) async fn feed_after<F: Fetch + ?Sized>(f: &F, after: FeedCursor, limit: u32) -> StoreResult<FeedPage> {
    let rows = f
        .fetch(sql(
            "WITH s AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
             SELECT (SELECT tx FROM feed_horizon WHERE id = 1) AS horizon_tx,
                    (SELECT position FROM feed_horizon WHERE id = 1) AS horizon_position,
                    EXISTS (SELECT 1 FROM outbox WHERE tx >= (SELECT xmin FROM s)) AS held_back,
                    e.*
             FROM (SELECT 1) AS one LEFT JOIN LATERAL (
                 SELECT o.tx, o.position, o.id, o.topic, o.entity_kind, o.entity_id, o.payload, o.audience,
                        o.at, o.readers
                 FROM outbox o
                 WHERE (o.tx, o.position) > ($1, $2) AND o.tx < (SELECT xmin FROM s)
                 ORDER BY o.tx, o.position LIMIT $3
             ) AS e ON true",
            vec![
                tx_param(after),
                Param::Int(Some(after.position())),
                Param::Int(Some(i64::from(limit.min(FEED_PAGE_MAX)))),
            ],
        ))
        .await?;
    let first = rows.first().ok_or_else(|| StoreError::Backend { message: "feed read returned no row".into() })?;
    let horizon = match (get::<Option<i64>>(first, "horizon_tx")?, get::<Option<i64>>(first, "horizon_position")?) {
        (Some(tx), Some(position)) => feed_cursor(tx, position)?,
        _ => FeedCursor::START,
    };
    if after != FeedCursor::START && after < horizon {
        return Err(cursor_expired(after, horizon));
    }
    let held_back: bool = get(first, "held_back")?;
    let mut events = Vec::with_capacity(rows.len());
    for r in &rows {
        let Some(tx) = get::<Option<i64>>(r, "tx")? else { continue };
        events.push(FeedEvent { cursor: feed_cursor(tx, get(r, "position")?)?, event: outbox_event(r)? });
    }
    Ok(FeedPage { events, held_back })
}

/// The last released event's cursor, or the horizon when it is later (or `START`).
pub(crate) async fn feed_head<F: Fetch + ?Sized>(f: &F) -> StoreResult<FeedCursor> {
    let rows = f
        .fetch(sql(
            "WITH s AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin)
             SELECT l.tx, l.position, h.tx AS horizon_tx, h.position AS horizon_position
             FROM (SELECT 1) AS one
             LEFT JOIN LATERAL (SELECT tx, position FROM outbox WHERE tx < (SELECT xmin FROM s)
                                ORDER BY tx DESC, position DESC LIMIT 1) AS l ON true
             LEFT JOIN feed_horizon h ON h.id = 1",
            Vec::new(),
        ))
        .await?;
    let r = rows.first().ok_or_else(|| StoreError::Backend { message: "feed head returned no row".into() })?;
    let at = |tx: &str, position: &str| -> StoreResult<FeedCursor> {
        match (get::<Option<i64>>(r, tx)?, get::<Option<i64>>(r, position)?) {
            (Some(tx), Some(position)) => feed_cursor(tx, position),
            _ => Ok(FeedCursor::START),
        }
    };
    Ok(at("tx", "position")?.max(at("horizon_tx", "horizon_position")?))
}

/// The owner (its `client_streams` row) and highest recorded `seq` of a client stream.
pub(crate) async fn client_cursor<F: Fetch + ?Sized>(f: &F, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
    let rows = f
        .fetch(sql(
            "SELECT s.principal, COALESCE((SELECT max(a.seq) FROM client_actions a WHERE a.client_id = s.client_id), 0) AS seq
             FROM client_streams s WHERE s.client_id = $1",
            vec![Param::Uuid(Some(client_id.as_uuid()))],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok(ClientCursor { principal: get(r, "principal")?, last_seq: version_u64(get(r, "seq")?, "seq")? }))
        .next()
        .transpose()
}

/// The recorded actions of a client with `from <= seq <= to`, in `seq` order.
pub(crate) async fn client_actions<F: Fetch + ?Sized>(
    f: &F,
    client_id: ClientId,
    from: u64,
    to: u64,
) -> StoreResult<Vec<ClientActionRecord>> {
    let rows = f
        .fetch(sql(
            "SELECT client_id, seq, principal, action, fingerprint, outcome, at FROM client_actions
             WHERE client_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
            vec![
                Param::Uuid(Some(client_id.as_uuid())),
                Param::Int(Some(seq_i64(from))),
                Param::Int(Some(seq_i64(to))),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ClientActionRecord {
                client_id: ClientId::from_uuid(get(r, "client_id")?),
                seq: version_u64(get(r, "seq")?, "seq")?,
                principal: get(r, "principal")?,
                action: get(r, "action")?,
                fingerprint: get(r, "fingerprint")?,
                outcome: get(r, "outcome")?,
                at: ts(r, "at")?,
            })
        })
        .collect()
}

/// Runs a read on the pool: one statement, its own snapshot.
pub(crate) async fn fetch_on<'c, E: sqlx::PgExecutor<'c>>(e: E, sql: Sql) -> StoreResult<Vec<PgRow>> {
    sql.query().fetch_all(e).await.map_err(map_err)
}
