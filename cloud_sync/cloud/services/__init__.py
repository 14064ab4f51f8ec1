"""Business rules shared by the REST routes and event ingest (one implementation for both)."""
