"""The database as the stages use it: the single writer, runs, run slots, queries, the search index
and the item models.
"""
