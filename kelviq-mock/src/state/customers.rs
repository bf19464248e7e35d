//! Customers.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::State;

/// A customer record.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    /// Kelviq's own id (a UUID).
    pub(crate) id: String,
    /// The caller's id for the customer.
    pub(crate) customer_id: String,
    pub(crate) email: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) metadata: Option<Map<String, Value>>,
    pub(crate) created_on: Timestamp,
    pub(crate) modified_on: Timestamp,
    /// Archived customers are gone for every read; their id stays taken.
    pub(crate) archived: bool,
}

impl State {
    /// Inserts a new customer; the caller checked that the id is free.
    pub(crate) fn insert_customer(
        &mut self,
        customer_id: String,
        email: Option<String>,
        name: Option<String>,
        metadata: Option<Map<String, Value>>,
    ) -> &Customer {
        let now = self.now();
        let id = self.new_uuid();
        self.customers.push(Customer {
            id,
            customer_id,
            email,
            name,
            metadata,
            created_on: now,
            modified_on: now,
            archived: false,
        });
        let index = self.customers.len() - 1;
        &self.customers[index]
    }

    /// The live (not archived) customer with this id.
    pub(crate) fn customer(&self, customer_id: &str) -> Option<&Customer> {
        self.customers
            .iter()
            .find(|customer| customer.customer_id == customer_id && !customer.archived)
    }

    /// The live customer with this id, mutably.
    pub(crate) fn customer_mut(&mut self, customer_id: &str) -> Option<&mut Customer> {
        self.customers
            .iter_mut()
            .find(|customer| customer.customer_id == customer_id && !customer.archived)
    }

    /// Whether any customer, archived or not, has this id.
    pub(crate) fn customer_id_taken(&self, customer_id: &str) -> bool {
        self.customers
            .iter()
            .any(|customer| customer.customer_id == customer_id)
    }
}
