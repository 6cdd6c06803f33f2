"""Prefect flows, task policy, deployments and the CLI: orchestration only, no business logic."""
