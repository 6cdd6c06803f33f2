"""Extractive summaries: sentences, the summarisers (LexRank, fusion), and their evaluation."""
