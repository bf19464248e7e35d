//! The closed value sets of the API (section 3 of the reference) and the server-owned ones
//! used by several resources.

use super::wire_enum::{closed_enum, open_enum};

closed_enum! {
    /// How often a plan is charged.
    pub enum ChargePeriod {
        /// Once.
        OneTime => "ONE_TIME",
        /// Every month.
        Monthly => "MONTHLY",
        /// Every year.
        Yearly => "YEARLY",
        /// Every week.
        Weekly => "WEEKLY",
        /// Every day.
        Daily => "DAILY",
        /// Every 28 days.
        TwentyEightDays => "TWENTY_EIGHT_DAYS",
        /// Every three months.
        ThreeMonths => "THREE_MONTHS",
        /// Every six months.
        SixMonths => "SIX_MONTHS",
    }
}

closed_enum! {
    /// How a usage report changes the recorded usage.
    pub enum Behaviour {
        /// Replace the recorded usage with the value.
        Set => "SET",
        /// Add the value (which may be negative) to the recorded usage.
        Delta => "DELTA",
    }
}

closed_enum! {
    /// Whether prices include tax.
    pub enum TaxBehavior {
        /// Tax is included in the price.
        Inclusive => "INCLUSIVE",
        /// Tax is added to the price.
        Exclusive => "EXCLUSIVE",
    }
}

open_enum! {
    /// The kind of a feature, as the entitlements endpoint reports it.
    pub enum FeatureType {
        /// Counted usage, optionally against a limit.
        Meter => "METER",
        /// On or off.
        Boolean => "BOOLEAN",
        /// A configured value, such as retention days or seats.
        Customizable => "CUSTOMIZABLE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_enums_round_trip_and_refuse_other_values() {
        for period in ChargePeriod::ALL {
            let json = serde_json::to_string(period).unwrap();
            assert_eq!(
                serde_json::from_str::<ChargePeriod>(&json).unwrap(),
                *period
            );
        }
        assert_eq!(ChargePeriod::TwentyEightDays.as_str(), "TWENTY_EIGHT_DAYS");
        assert!("monthly".parse::<ChargePeriod>().is_err());
        assert!(serde_json::from_str::<Behaviour>("\"delta\"").is_err());
    }

    #[test]
    fn open_enums_keep_unknown_values() {
        let known: FeatureType = serde_json::from_str("\"METER\"").unwrap();
        assert_eq!(known, FeatureType::Meter);
        let new: FeatureType = serde_json::from_str("\"TIERED\"").unwrap();
        assert_eq!(new, FeatureType::Unknown("TIERED".to_owned()));
        assert_eq!(serde_json::to_string(&new).unwrap(), "\"TIERED\"");
    }
}
