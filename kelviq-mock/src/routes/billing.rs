//! Charges, refunds, transactions, payment methods.
use axum::extract::State;
use super::AppState;
use crate::wire::ApiError;
pub(super) async fn create_charge(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn list_refunds(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn create_refund(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn retrieve_refund(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn list_transactions(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
pub(super) async fn list_payment_methods(State(_shared): State<AppState>) -> Result<(), ApiError> { Err(ApiError::not_found()) }
