"""Cart, checkout, payment, order and after-sales pages, and the payment notification endpoints."""

urlpatterns: list = []
