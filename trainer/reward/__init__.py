"""Encoder reward models: the model, the efficient batching, the four reward objectives and their runner."""
