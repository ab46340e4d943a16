"""Daily briefings: stories (clustering), opinion and figures, where outlets differ, Markdown."""
