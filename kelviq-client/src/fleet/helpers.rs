//! What the fleet's parts share: Redis's units (milliseconds, integers Lua holds exactly),
//! which features share a limit, random tokens, and starting a background task once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::runtime::Handle;

use crate::models::{Entitlement, FeatureType};

/// Lua numbers are doubles: integers beyond ±2^53 are pinned there on the way in.
const LUA_EXACT: i64 = 1 << 53;

/// `value` as a Lua script reads it exactly: pinned to ±2^53.
pub(super) fn lua_safe(value: i64) -> i64 {
    value.clamp(-LUA_EXACT, LUA_EXACT)
}

/// A duration in whole milliseconds, at least 1 (`PX 0` is an error).
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The wall-clock time now, in Unix milliseconds.
pub(super) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The hard limit a feature is shared under, and its usage period (Kelviq's `resetAt`,
/// empty when none): only metered features with a hard limit are.
pub(super) fn shared_limit(entitlement: &Entitlement) -> Option<(i64, &str)> {
    if entitlement.feature_type() != Some(&FeatureType::Meter) || !entitlement.hard_limit() {
        return None;
    }
    let limit = entitlement.limit()?;
    let period = entitlement
        .items()
        .iter()
        .find_map(|item| item.reset_at.as_deref())
        .unwrap_or("");
    Some((limit, period))
}

/// Random enough to tell two holders of a lease apart.
pub(super) fn token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The current runtime, the first time `started` is asked inside one (and `None` ever
/// after): what starts a background task once.
pub(super) fn first_start(started: &AtomicBool) -> Option<Handle> {
    if started.load(Ordering::Acquire) {
        return None;
    }
    let runtime = Handle::try_current().ok()?;
    (!started.swap(true, Ordering::AcqRel)).then_some(runtime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Entitlements, RawEntitlements};

    #[test]
    fn only_hard_limited_meters_are_shared_with_their_period() {
        let raw: RawEntitlements = serde_json::from_value(serde_json::json!({
            "customerId": "c",
            "entitlements": [
                {"featureId": "hard", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 10, "currentUsage": 7,
                 "resetAt": "2026-02-01 00:00:00"},
                {"featureId": "soft", "featureType": "METER", "hasAccess": true,
                 "hardLimit": false, "usageLimit": 10, "currentUsage": 7},
                {"featureId": "unlimited", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": null},
                {"featureId": "no-period", "featureType": "METER", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 3},
                {"featureId": "seats", "featureType": "CUSTOMIZABLE", "hasAccess": true,
                 "hardLimit": true, "usageLimit": 10}
            ]
        }))
        .unwrap();
        let all = Entitlements::from_raw(raw);
        let shared = |id| all.get(id).and_then(shared_limit);
        assert_eq!(shared("hard"), Some((10, "2026-02-01 00:00:00")));
        assert_eq!(shared("no-period"), Some((3, "")));
        assert_eq!(shared("soft"), None);
        assert_eq!(shared("unlimited"), None);
        assert_eq!(shared("seats"), None);
    }

    #[test]
    fn lua_numbers_stay_exact() {
        assert_eq!(lua_safe(i64::MAX), 1 << 53);
        assert_eq!(lua_safe(i64::MIN), -(1 << 53));
        assert_eq!(lua_safe(1000), 1000);
    }
}
