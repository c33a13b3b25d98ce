app_name = "wechatpay-sandbox"
urlpatterns: list = []
