"""Pure helpers every stage may use: sentences, words (one stop-word list, stemming), TF-IDF,
dates, URLs, hashes. Imports nothing else of Newsdesk."""
