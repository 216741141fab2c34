"""The opportunities module: the pipeline, an opportunity's card, goals and follow-ups."""
