"""Local files into items: finding and reading files, decoding, cleaning, article text from HTML,
language.
"""
