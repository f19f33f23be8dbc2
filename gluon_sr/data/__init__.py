"""Training data: the LR degradation, shards (build and read), content photos for style."""
