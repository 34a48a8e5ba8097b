"""Validation throughput: seconds to validate random plans of 1k, 10k and 50k tasks."""
