import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Tracked-link clicks (/t/<code>) are answered before Django's handler: affiliates/middleware.py.
from affiliates.middleware import ClickDispatch  # noqa: E402  (needs the apps loaded above)

application = ClickDispatch(django_application)
