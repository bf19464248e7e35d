//! `/subscriptions/`.
use axum::extract::State;
use super::AppState;
use crate::wire::ApiError;
pub(super) async fn list(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn retrieve(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn create(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn cancel(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn update(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn preview_update(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
