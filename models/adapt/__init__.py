"""Acoustic adaptation of the Whisper encoder to the synthetic voices (LoRA; docs/speech.md)."""
