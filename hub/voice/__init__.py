"""The hub's voice path: audio sessions from any device link, recognition, dialogue, actions,
spoken replies. Inference and synthesis run in worker threads, never on the event loop."""
