"""Errors the trainer raises for bad input; the web app shows their message to the user."""


class TrainerError(Exception):
    """Base class: something about the request (objective, config, data, model) is wrong."""


class UnknownObjectiveError(TrainerError):
    """The objective name is not one of `trainer.objectives`."""


class ConfigError(TrainerError):
    """A config key is unknown or a value is out of range."""


class DatasetError(TrainerError):
    """A dataset file is missing, is not JSONL, lacks a column, or has too few rows."""


class ModelLoadError(TrainerError):
    """A base model or reward model could not be loaded from local files (the trainer never downloads)."""
