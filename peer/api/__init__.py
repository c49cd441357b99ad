"""The REST API every peer serves (aiohttp). See docs/api.md.

``build_app(ctx)`` builds the application; routes are declared with ``Routes``
(peer/api/routes.py) and raise ``ApiError`` subclasses (peer/api/errors.py).
"""
