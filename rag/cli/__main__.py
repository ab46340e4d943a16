"""`python -m rag.cli`: the same as the `newsdesk` command."""

from rag.cli import main

main()
