"""ASGI entry point of the web process (``uvicorn portal.asgi:application``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Under ASGI a request's synchronous parts run in threads that come and go, so a connection kept
# for the next request would stay open on a thread that may never serve one: Django's advice is
# no persistent connections here. The bridge and the workers keep theirs (DB_CONN_MAX_AGE).
os.environ.setdefault("DB_CONN_MAX_AGE_WEB", "0")
os.environ["DB_CONN_MAX_AGE"] = os.environ["DB_CONN_MAX_AGE_WEB"]

application = get_asgi_application()
