"""Stories: reports of one event linked across outlets and languages, their signals and their
summaries.
"""
