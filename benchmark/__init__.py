"""The harness of the cross-modal hashing loss benchmark: CLI, data, metrics, training, runner, reports."""
