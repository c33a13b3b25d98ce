"""Admin for shops and the catalog, scoped to the staff member's own shops."""
