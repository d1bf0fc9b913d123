"""Model manifests and the code that materialises the embedded default models."""
