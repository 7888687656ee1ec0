"""The Confluence emulator: the Cloud REST API's runbook pages and their versions.

``app`` builds the app (``create_app``, the v1 endpoints); ``v2`` answers the v2 bulk page
read; ``state`` documents the state file's format. Nothing is imported here, so reading one
module does not build the app.
"""
