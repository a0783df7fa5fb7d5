//! Valid sample inputs (a sink repair in Springfield; a plumber at 35.00 USD an hour).

use crate::homeheroes::input::{BudgetInput, HeroProfileInput, LocationInput, ServiceRequestInput};
use rust_decimal::Decimal;

/// A hero profile that passes validation.
pub fn hero_input() -> HeroProfileInput {
    HeroProfileInput {
        skills: Some(vec!["Plumbing".into(), "Electrical".into()]),
        hourly_rate: Some(Decimal::new(3500, 2)),
        ..HeroProfileInput::default()
    }
}

/// A service request that passes validation at any time before 2026-06-03T09:00:00Z.
pub fn request_input() -> ServiceRequestInput {
    ServiceRequestInput {
        title: Some("Fix the kitchen sink".into()),
        description: Some("The kitchen sink leaks under the cabinet.".into()),
        category: Some("repairs".into()),
        location: Some(LocationInput {
            address: Some("12 Elm Street".into()),
            city: Some("Springfield".into()),
            state: Some("IL".into()),
            zip_code: Some("62701".into()),
            latitude: Some(39.7817),
            longitude: Some(-89.6501),
        }),
        scheduled_date: Some("2026-06-03T09:00:00Z".into()),
        estimated_duration: Some(2),
        budget_range: Some(BudgetInput {
            min: Some(Decimal::new(5000, 2)),
            max: Some(Decimal::new(12000, 2)),
            currency: Some("USD".into()),
        }),
    }
}
