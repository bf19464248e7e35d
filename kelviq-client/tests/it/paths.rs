//! Property: whatever a caller passes as an id, the request hits the intended route and the
//! server decodes the segment back to the id.

use kelviq_client::Error;
use kelviq_mock::Route;
use proptest::prelude::*;

use crate::support::Setup;

fn ids() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[/?#%. ]{1,6}",
        "\\PC{1,12}",
        "[a-z]{0,3}(\\.\\.|/|\\?|#|%2F|%)[a-z]{0,3}",
        "[\\x00-\\x1f\\x7f]{1,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_id_stays_one_segment(id in ids()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let setup = Setup::start().await;
            let result = setup.kelviq.customers().retrieve(&id).await;
            if id.is_empty() || id == "." || id == ".." {
                let refused = matches!(result, Err(Error::Validation { .. }));
                prop_assert!(refused);
                prop_assert!(setup.mock.journal().is_empty());
                return Ok(());
            }
            let request = setup.mock.journal().pop().unwrap();
            prop_assert_eq!(request.route, Some(Route::CustomersRetrieve));
            prop_assert_eq!(request.path_params(), vec![id.clone()]);
            prop_assert!(request.query.is_none());
            Ok(())
        })?;
    }
}
