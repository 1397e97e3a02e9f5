"""Desk's natural-language understanding: read labelled data, train, load, parse, evaluate.

    from nlu import train, load_model
    path, _ = train("data/nlu.yml")
    model = load_model(path)
    model.parse("where is my order?")   # Rasa's parse shape
"""

from nlu.model import NLUModel, load_model, train, train_pipeline
from nlu.readers import TrainingDataError, load_data
from nlu.training_data import Entity, Example, TrainingData

__all__ = [
    "Entity",
    "Example",
    "NLUModel",
    "TrainingData",
    "TrainingDataError",
    "load_data",
    "load_model",
    "train",
    "train_pipeline",
]
