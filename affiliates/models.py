"""Models arrive with the affiliates issue; see ../shared/DESIGN.md."""
