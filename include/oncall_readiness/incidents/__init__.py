"""What incidents cost: the loss model (``cost``; its warehouse tables are declared in ``schema``), and
the ``incident_cost_watch`` that posts the running estimate on open incidents (``watch``, with the
notes ledger in ``ledger`` and PagerDuty's notes API in ``notes``). See docs/incidents.md.
"""
