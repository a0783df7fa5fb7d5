//! The canteen's entities (declared here, next to the model) and their reads over any [`Reader`].

use super::{MenuItem, Order, OrderStatus, RefundState, ResidentRoom};
use crate::actor::Role;
use crate::id::{MenuItemId, OrderId, UserId};
use crate::kernel::entity::{Domain, Entity, EntityDecl, Readers, Shape};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{json_as, Decoded, Row, RowRead, Value, ValueType};
use chrono::NaiveDate;
use uuid::Uuid;

/// The canteen domain.
pub static DOMAIN: Domain = Domain { name: "canteen", entities: &[&MENU_ITEM, &ORDER, &RESIDENT_ROOM] };

static MENU_ITEM: EntityDecl = EntityDecl {
    kind: "canteen.menu_item",
    aliases: &["menu_item"],
    human: "menu item",
    table: "canteen_menu_items",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

static ORDER: EntityDecl = EntityDecl {
    kind: "canteen.order",
    aliases: &["order"],
    human: "order",
    table: "canteen_orders",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

static RESIDENT_ROOM: EntityDecl = EntityDecl {
    kind: "canteen.resident_room",
    aliases: &[],
    human: "resident room",
    table: "resident_rooms",
    key: "user_id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

impl Entity for MenuItem {
    const DECL: &'static EntityDecl = &MENU_ITEM;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("date", self.date)
            .with("name", self.name.as_str())
            .with("price", self.price)
            .with("currency", self.price.currency())
            .with("available", self.available)
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        Ok(MenuItem {
            id: MenuItemId::from_uuid(r.uuid("id")?),
            date: r.date("date")?,
            name: r.text("name")?,
            price: r.money("price", currency)?,
            available: r.bool("available")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// The menu is open to every signed-in user.
    fn readers(&self) -> Readers {
        Readers::nobody().and_signed_in()
    }
}

impl Entity for Order {
    const DECL: &'static EntityDecl = &ORDER;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        // Serialising plain lines cannot fail; were it to, JSON `null` fails the table's
        // `canteen_orders_lines` CHECK at commit rather than storing a wrong order.
        let lines = serde_json::to_value(&self.lines).unwrap_or(serde_json::Value::Null);
        Row::new()
            .with("id", self.id.as_uuid())
            .with("user_id", self.user_id.as_uuid())
            .with("room", self.room.as_str())
            .with("date", self.date)
            .with("lines", Value::Json(lines))
            .with("total", self.total)
            .with("currency", self.total.currency())
            .with("status", self.status.as_str())
            .with_opt("refund", ValueType::Text, self.refund.map(|r| r.as_str()))
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        Ok(Order {
            id: OrderId::from_uuid(r.uuid("id")?),
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            room: r.text("room")?,
            date: r.date("date")?,
            lines: json_as(r, "lines")?,
            total: r.money("total", currency)?,
            status: r.wire("status", OrderStatus::parse)?,
            refund: r.opt_wire("refund", RefundState::parse)?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// An order is its resident's and the kitchen's (admins read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id]).and_roles([Role::CanteenStaff])
    }
}

impl Entity for ResidentRoom {
    const DECL: &'static EntityDecl = &RESIDENT_ROOM;
    fn id(&self) -> Uuid {
        self.user_id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new().with("user_id", self.user_id.as_uuid()).with("room", self.room.as_str())
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(ResidentRoom { user_id: UserId::from_uuid(r.uuid("user_id")?), room: r.text("room")? })
    }
    /// A delivery room is its resident's and the kitchen's, who deliver to it.
    fn readers(&self) -> Readers {
        Readers::users([self.user_id]).and_roles([Role::CanteenStaff])
    }
}

/// The canteen's reads, written once over any [`Reader`] (a store, or one command's snapshot).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait CanteenStore: Reader {
    /// A menu item.
    async fn menu_item(&self, id: MenuItemId) -> StoreResult<Option<Versioned<MenuItem>>> {
        self.get(id.as_uuid()).await
    }
    /// Menu items by id (missing ones left out).
    async fn menu_items(&self, ids: &[MenuItemId]) -> StoreResult<Vec<Versioned<MenuItem>>> {
        let ids: Vec<Value> = ids.iter().map(|i| Value::Uuid(i.as_uuid())).collect();
        self.find(Query::of::<MenuItem>().filter(Filter::In("id", ids))).await
    }
    /// The menu of a date, by name.
    async fn menu_of(&self, date: NaiveDate) -> StoreResult<Vec<MenuItem>> {
        let rows = self
            .find::<MenuItem>(
                Query::of::<MenuItem>().eq("date", date).order_by("name", Dir::Asc).order_by("id", Dir::Asc),
            )
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    /// An order.
    async fn order(&self, id: OrderId) -> StoreResult<Option<Versioned<Order>>> {
        self.get(id.as_uuid()).await
    }
    /// `user`'s delivery room record, with its version (what assigning a room updates).
    async fn assigned_room(&self, user: UserId) -> StoreResult<Option<Versioned<ResidentRoom>>> {
        self.get(user.as_uuid()).await
    }
    /// `user`'s room for deliveries, once assigned.
    async fn resident_room(&self, user: UserId) -> StoreResult<Option<String>> {
        Ok(self.assigned_room(user).await?.map(|r| r.value.room))
    }
    /// Orders of a date not yet completed or cancelled, by room then time (the kitchen's view).
    async fn open_orders(&self, date: NaiveDate) -> StoreResult<Vec<Order>> {
        let closed = vec![Value::from(OrderStatus::Completed.as_str()), Value::from(OrderStatus::Cancelled.as_str())];
        let rows = self
            .find::<Order>(
                Query::of::<Order>()
                    .eq("date", date)
                    .filter(Filter::NotIn("status", closed))
                    .order_by("room", Dir::Asc)
                    .order_by("created_at", Dir::Asc)
                    .order_by("id", Dir::Asc),
            )
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
}

impl<R: Reader + ?Sized> CanteenStore for R {}
