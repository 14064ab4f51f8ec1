"""Installer tooling: device identity, images, flashing, Improv Wi-Fi, enrolment."""
