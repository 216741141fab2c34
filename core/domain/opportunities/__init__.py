"""Opportunity rules: the pipeline's stages and moves, the card's timeline, goals."""
