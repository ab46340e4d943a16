"""Answers with citations: the extractive answerer, the LLM answerer, the citation check, and
`answer_question`, which ties them together."""
