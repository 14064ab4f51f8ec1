from tests.models.asr.speech_fixtures import built_model, recognizer

__all__ = ["built_model", "recognizer"]
