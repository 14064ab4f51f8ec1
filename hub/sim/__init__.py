"""Device simulator: `SimDevice` behaves on MQTT as the ARMA firmware does (Last Will, retained
status, telemetry, button events, real-time audio sessions, command acks); `arma-sim` runs a
fleet of them. Reused by tests, benchmarks and the launcher."""
