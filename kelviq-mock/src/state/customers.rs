//! Customers, found by id through an index kept in step with the list.

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
        let position = self.customers.len();
        self.customer_index.insert(customer_id.clone(), position);
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
        &self.customers[position]
    }

    /// The customer with this id, archived or not.
    pub(crate) fn any_customer(&self, customer_id: &str) -> Option<&Customer> {
        let position = *self.customer_index.get(customer_id)?;
        self.customers.get(position)
    }

    /// The live (not archived) customer with this id.
    pub(crate) fn customer(&self, customer_id: &str) -> Option<&Customer> {
        self.any_customer(customer_id)
            .filter(|customer| !customer.archived)
    }

    /// The live customer with this id, mutably.
    pub(crate) fn customer_mut(&mut self, customer_id: &str) -> Option<&mut Customer> {
        let position = *self.customer_index.get(customer_id)?;
        self.customers
            .get_mut(position)
            .filter(|customer| !customer.archived)
    }

    /// Whether any customer, archived or not, has this id.
    pub(crate) fn customer_id_taken(&self, customer_id: &str) -> bool {
        self.customer_index.contains_key(customer_id)
    }
}
