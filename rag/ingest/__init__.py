"""The write path: fetch (behind the address guard), decode, one module per input format,
chunking, near-duplicate detection, and the crash-safe write pipeline."""
