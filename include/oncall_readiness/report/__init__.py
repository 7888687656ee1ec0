"""Reports rendered from the warehouse: the static scorecard page (``html``), the weekly
scorecard emails (``email``, ``weekly``, ``chart``, ``ledger``, ``delivery``) and the data of
the Readiness page in the Airflow UI (``page``)."""
