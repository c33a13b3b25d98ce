"""Payment providers. See base.py for the interface and sandbox/ for the local WeChat Pay stand-in."""
