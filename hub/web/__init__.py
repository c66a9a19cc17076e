"""The web layer: server-rendered pages (no JavaScript) where data protection leads sign in, read
agreements in plain words and approve, suspend or revoke them. Build it with
``hub.web.app.create_app(settings)``."""
