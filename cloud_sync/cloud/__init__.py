"""The compact multi-tenant cloud API (FastAPI + SQLAlchemy 2): tenants, keys, hubs, devices,
offerings, appointments, orders, event ingest, sync documents and reports."""
