"""Intent model and out-of-grammar slot filling.

Owns the hashed word/char n-gram features (`features`), the int8 ONNX linear intent
classifier trained with numpy from a domain's sampled sentences and run with onnxruntime
(`classifier`), the noise augmentation used in training (`augment`), and fuzzy slot
extraction from transcripts that the domain grammar does not parse (`slots`).
"""
