"""Portable packages of a model version for stacks that do not run the platform: an MLflow
pyfunc (the whole scoring core, for `mlflow models serve` or any MLflow client) and an ONNX
graph of the fitted pipeline (for onnxruntime in Java, C#, JavaScript, ...)."""
