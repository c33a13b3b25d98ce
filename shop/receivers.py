"""Receivers inside the shop app for its own domain signals (see shop/signals.py)."""
