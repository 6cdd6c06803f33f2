"""Helpers below every stage: languages, text decoding, dates, tokens and shingles, names across
languages, outlets.
"""
