"""Scoring script: the init()/run() contract of Azure ML online deployments."""

import json
import os
import pickle
from pathlib import Path

model = None


def init() -> None:
    global model
    # AZUREML_MODEL_DIR holds the registered model folder ("model/" from the training job's output)
    found = sorted(Path(os.environ["AZUREML_MODEL_DIR"]).rglob("model.pkl"))
    with found[0].open("rb") as fh:
        model = pickle.load(fh)


def run(raw_data: str) -> dict:
    data = json.loads(raw_data)["data"]
    predictions = model.predict(data)
    return {"predictions": [int(p) for p in predictions]}
