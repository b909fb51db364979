"""Writes train.csv and eval.csv from scikit-learn's bundled breast cancer data set (no download).

The CSVs are committed; run this again only to change the split:  python data/make_data.py
"""

import csv
from pathlib import Path

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

here = Path(__file__).parent
data = load_breast_cancer()
X_train, X_eval, y_train, y_eval = train_test_split(
    data.data, data.target, test_size=0.3, random_state=42, stratify=data.target
)
header = [name.replace(" ", "_") for name in data.feature_names] + ["target"]
for name, X, y in (("train", X_train, y_train), ("eval", X_eval, y_eval)):
    with (here / f"{name}.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row, label in zip(X, y, strict=True):
            writer.writerow([f"{v:.6g}" for v in row] + [int(label)])
print("wrote", here / "train.csv", "and", here / "eval.csv")
