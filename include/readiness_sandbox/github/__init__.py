"""The GitHub emulator: the REST API's commits and contents, and the GraphQL runbook reads.

``app`` builds the app (``create_app``); ``graphql`` answers ``POST /graphql`` (the query
reader in ``graphql_query``, the schema, validation and point costs in ``graphql_schema``);
``render`` shapes commits and contents; ``state`` documents the state file's format.
Nothing is imported here, so reading one module does not build the app.
"""
