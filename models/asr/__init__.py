"""Speech recognition: Whisper base exported to int8 ONNX without torch (recipe, reader of
the CTranslate2 source weights, numpy reference), log-mel features, and decoding constrained
to a domain's word graph."""
