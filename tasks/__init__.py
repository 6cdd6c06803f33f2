"""Units of work as plain typed functions: no Prefect here, so each is testable on its own."""
