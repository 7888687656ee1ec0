"""An emulator of Backstage's catalog API (``GET /api/catalog/entities/by-query``), serving a catalog's files."""
