"""Train a breast cancer classifier; write model.pkl and metrics.json into the model output folder."""

import argparse
import csv
import json
import pickle
from pathlib import Path

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ALGORITHMS = {
    "logistic_regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "majority": lambda: DummyClassifier(strategy="most_frequent"),
}


def load(path: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    data = np.array(rows[1:], dtype=float)
    return data[:, :-1], data[:, -1].astype(int)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--algorithm", choices=sorted(ALGORITHMS), required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()

    X, y = load(args.train)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    model = ALGORITHMS[args.algorithm]()
    model.fit(X_fit, y_fit)
    accuracy = float((model.predict(X_val) == y_val).mean())
    print(f"algorithm={args.algorithm} validation_accuracy={accuracy:.4f} rows={len(y)}")

    out = Path(args.model)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "model.pkl").open("wb") as fh:
        pickle.dump(model, fh)
    (out / "metrics.json").write_text(json.dumps({"validation_accuracy": accuracy, "algorithm": args.algorithm}))


if __name__ == "__main__":
    main()
