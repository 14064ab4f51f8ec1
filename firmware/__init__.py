"""ARMA device firmware (MicroPython) and the wire-protocol codec shared with the hub."""
