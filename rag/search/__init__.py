"""The read path: filters, hybrid retrieval (dense + keyword, fused), late-interaction
re-ranking, article lookup, and the LangChain retriever."""
