//! Features named by types, so that a handler's signature states the feature it needs
//! (`Entitled<Reports>` in kelviq-axum and kelviq-actix).

/// A feature identified at compile time. Declare one with [`feature!`](crate::feature).
pub trait Feature: Send + Sync + 'static {
    /// The feature identifier, as in Kelviq.
    const ID: &'static str;
}

/// Declares zero-sized types naming features.
///
/// ```
/// use kelviq_client::gate::Feature;
///
/// kelviq_client::feature! {
///     /// Access to the reports pages.
///     pub Reports = "reports";
///     pub ApiCalls = "api-calls";
/// }
///
/// assert_eq!(Reports::ID, "reports");
/// assert_eq!(ApiCalls::ID, "api-calls");
/// ```
#[macro_export]
macro_rules! feature {
    ($( $(#[$meta:meta])* $vis:vis $name:ident = $id:literal; )+) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
            $vis struct $name;

            impl $crate::gate::Feature for $name {
                const ID: &'static str = $id;
            }
        )+
    };
}
