"""ARMA hub: the gateway daemon (device links, registry, voice pipeline, local API)."""
