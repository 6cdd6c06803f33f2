"""What readers get: digests as Markdown, HTML and JSON from templates, and topics."""
