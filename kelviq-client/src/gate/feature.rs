//! Features named by types, so that a handler's signature states the feature it needs
//! (`Entitled<Reports>` in kelviq-axum and kelviq-actix).

/// A feature identified at compile time. Declare one with [`feature!`](crate::feature).
pub trait Feature: Send + Sync + 'static {
    /// The feature identifier, as in Kelviq.
    const ID: &'static str;
}

/// Declares zero-sized types naming features.
///
/// Each type converts into the feature id (`String` and `Cow<'static, str>`), so it can be
/// given wherever a feature id is taken: `kelviq.gate().require(Reports)`,
/// `.meter(ApiCalls, 1)`. The id is written once.
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
/// assert_eq!(String::from(ApiCalls), "api-calls");
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

            impl ::core::convert::From<$name> for ::std::string::String {
                fn from(_: $name) -> Self {
                    ::std::string::String::from($id)
                }
            }

            impl ::core::convert::From<$name> for ::std::borrow::Cow<'static, str> {
                fn from(_: $name) -> Self {
                    ::std::borrow::Cow::Borrowed($id)
                }
            }
        )+
    };
}
