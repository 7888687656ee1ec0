"""Sources: clients for the systems teams already use, normalising raw payloads into facts tables."""
