"""Explanations beyond one decision's reason codes: the global explanation of a model and the
faithfulness of its stated reasons."""
