"""Feeds: the feed list and OPML, polite fetching behind the network guard, parsing entries, feed
state and health.
"""
