"""What one worker computes for a batch of files: parse, features and summaries across the
stages."""
