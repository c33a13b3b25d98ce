"""Models arrive with the gifting issue; see ../shared/DESIGN.md."""
