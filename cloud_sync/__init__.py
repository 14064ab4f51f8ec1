"""Hub<->cloud: the hub-side durable outbox and sync agent, and the multi-tenant cloud API."""
