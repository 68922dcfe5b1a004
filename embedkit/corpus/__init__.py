"""The corpus pipeline: streaming readers, tokenizer, vocabulary, and the encoded corpus."""
