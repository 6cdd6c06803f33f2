"""Search in every language: the query parser and the ranked, story-grouped results."""
