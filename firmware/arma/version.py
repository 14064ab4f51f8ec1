# Application version; an OTA manifest ships a new copy of this file with its version.
VERSION = "1.0.0"
