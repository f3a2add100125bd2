"""Worker processes for heavy work (network inference, training): progress, cancel, fallbacks."""
