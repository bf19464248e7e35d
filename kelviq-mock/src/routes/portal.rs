//! `POST /portal/session/`.
use axum::extract::State;
use super::AppState;
use crate::wire::ApiError;
pub(super) async fn create_session(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
