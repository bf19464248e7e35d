//! `/license/`.
use axum::extract::State;
use super::AppState;
use crate::wire::ApiError;
pub(super) async fn activate(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn deactivate(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn validate(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
