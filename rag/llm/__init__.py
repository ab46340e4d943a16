"""The LLM as a component: the chat model built from settings (`build_llm`, `Components.llm`),
the one helper that runs prompt files through it (`ChatLLM.run`), and LLM failures with their
user-facing reasons. Newsdesk works without one: `Components.llm` is then None."""
