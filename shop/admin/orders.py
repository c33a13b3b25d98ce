"""Admin for orders, shipping and after-sales, scoped to the staff member's own shops."""
