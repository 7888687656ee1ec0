"""The Jira emulator: Jira Cloud's REST API v3 JQL search over the action items of the reviews.

``app`` builds the app (``create_app``); ``state`` documents the state file's format. Nothing is
imported here, so reading one module does not build the app.
"""
