"""Near-duplicates: MinHash signatures and LSH buckets, contained copies, grouping and the
canonical choice.
"""
