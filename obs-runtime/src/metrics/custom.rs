//! The custom statuses a site has seen (`Status::custom("throttled")`): a chain of cells
//! appended once per label with no lock, each node allocated by the first call that ends with
//! its label at that site and never freed. Recording walks the chain (a few labels at most);
//! the built-in statuses never come here, they are an array index in the site.

use std::sync::OnceLock;

use crate::status::Status;

/// A chain of cells for the custom statuses a site has seen, appended once per label.
pub(super) struct Custom<C: 'static> {
    head: OnceLock<Box<Node<C>>>,
}

struct Node<C: 'static> {
    label: &'static str,
    /// Made with [`Status::custom_ok`]: not a failure.
    ok: bool,
    cells: C,
    next: OnceLock<Box<Node<C>>>,
}

impl<C: 'static> Custom<C> {
    pub(super) const fn new() -> Self {
        Custom {
            head: OnceLock::new(),
        }
    }

    /// The cells of `label`, allocated on the first use of that label at this site.
    #[cold]
    pub(super) fn get(&self, status: Status, label: &'static str, make: fn() -> C) -> &C {
        let mut slot = &self.head;
        loop {
            let node = slot.get_or_init(|| {
                Box::new(Node {
                    label,
                    ok: !status.is_failure(),
                    cells: make(),
                    next: OnceLock::new(),
                })
            });
            if node.label == label {
                return &node.cells;
            }
            slot = &node.next;
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&'static str, &C)> {
        let mut slot = self.head.get();
        core::iter::from_fn(move || {
            let node = slot?;
            slot = node.next.get();
            Some((node.label, &node.cells))
        })
    }

    /// The labels seen so far that are not failures.
    pub(super) fn not_failures(&self) -> Vec<&'static str> {
        let mut slot = self.head.get();
        let mut labels = Vec::new();
        while let Some(node) = slot {
            if node.ok {
                labels.push(node.label);
            }
            slot = node.next.get();
        }
        labels
    }
}
