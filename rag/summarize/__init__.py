"""Summaries of one article, a topic or a window: extractive, or LLM with checked citations."""
