"""The Jira Service Management Operations emulator: teams, schedules and their timelines, escalations,
routing and notification rules, alerts and their logs, and the site's tenant info and Jira users.

``app`` builds the app (``create_app``); ``state`` documents the state file's format and computes
the schedules' timelines. Nothing is imported here, so reading one module does not build the app.
"""
