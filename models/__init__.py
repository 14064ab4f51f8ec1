"""Speech and intent models: domains, recipes, engine, evaluation."""
