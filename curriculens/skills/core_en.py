"""The core-en suite: English template skills that work with any Hugging Face tokenizer."""
