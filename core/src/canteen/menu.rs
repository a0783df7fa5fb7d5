//! The menu: dishes per date, added and marked sold out by canteen staff.

use super::*;

/// Adds a dish to a date's menu (canteen staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMenuItem {
    /// The date.
    pub date: NaiveDate,
    /// Name.
    pub name: Option<String>,
    /// Price in INR.
    pub price: Option<Decimal>,
}

impl AddMenuItem {
    /// Validates the input against `now`, without a store (clients call this offline).
    pub fn check(&self, _now: Timestamp) -> Result<(String, Money), ValidationErrors> {
        let mut v = Validator::new();
        let name = v.text("name", self.name.as_deref(), DISH_NAME);
        let price = match self.price {
            None => {
                v.push("price", Violation::Required);
                None
            }
            Some(p) if p <= Decimal::ZERO => {
                v.push("price", Violation::NotPositive);
                None
            }
            Some(p) => Money::new(p, CANTEEN_CURRENCY)
                .map_err(|_| v.push("price", Violation::TooPrecise { max_decimals: CANTEEN_CURRENCY.minor_units() }))
                .ok(),
        };
        v.finish(|| Some((name?, price?)))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AddMenuItem {
    const NAME: &'static str = "canteen.add_menu_item";
    const READS: Reads = Reads::One;
    type Valid = (String, Money);
    type Loaded = ();
    type Output = MenuItem;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, _store: &dyn Reader, _actor: &Actor, _: &Self::Valid) -> Result<(), Error> {
        Ok(())
    }
    fn decide(
        &self,
        actor: &Actor,
        (name, price): &Self::Valid,
        _: (),
        cx: &mut Decide<'_>,
    ) -> Result<MenuItem, Error> {
        require(actor, Decision::when(is_kitchen(actor), "only canteen staff manage the menu"))?;
        let item = MenuItem {
            id: MenuItemId::generate(cx.ids()),
            date: self.date,
            name: name.clone(),
            price: *price,
            available: true,
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        cx.insert(item.clone())?;
        Ok(item)
    }
}

/// Marks a dish available or sold out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAvailability {
    /// The dish.
    pub item_id: MenuItemId,
    /// Available?
    pub available: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SetAvailability {
    const NAME: &'static str = "canteen.set_availability";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Option<Versioned<MenuItem>>;
    type Output = MenuItem;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok(store.menu_item(self.item_id).await?)
    }
    fn decide(&self, actor: &Actor, _: &(), loaded: Self::Loaded, cx: &mut Decide<'_>) -> Result<MenuItem, Error> {
        require(actor, Decision::when(is_kitchen(actor), "only canteen staff manage the menu"))?;
        let before = loaded.ok_or_else(|| Error::not_found("menu item"))?;
        let mut after = before.value.clone();
        after.available = self.available;
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), if self.available { "available" } else { "sold_out" })?;
        Ok(after)
    }
}
