"""The durable recovery workflow, its engine and its pure decisions."""
