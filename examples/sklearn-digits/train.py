"""Trains scikit-learn's SGDClassifier on the bundled digits data, epoch by epoch.

Takes its parameters as arguments, as Katib's trial templates pass them, and reports the
validation split's loss and accuracy after every epoch with the ferrotune SDK (collector
Push; pip install ./sdk/python). Run by hand, the same script prints
`epoch=N loss=X accuracy=Y` lines, the format Katib's StdOut collector reads.
"""
import argparse
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import ferrotune

p = argparse.ArgumentParser()
p.add_argument("--alpha", type=float, required=True)
p.add_argument("--eta0", type=float, required=True)
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--loss", choices=["log_loss", "hinge", "modified_huber"], required=True)
a = p.parse_args()

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
classes = np.unique(y)

clf = SGDClassifier(loss=a.loss, alpha=a.alpha, eta0=a.eta0, learning_rate="invscaling", random_state=0)
rng = np.random.default_rng(0)
print(f"trial {os.environ.get('TRIAL_NAME', '?')}: alpha={a.alpha} eta0={a.eta0} loss function {a.loss}", flush=True)
for epoch in range(1, a.epochs + 1):
    order = rng.permutation(len(X_train))
    clf.partial_fit(X_train[order], y_train[order], classes=classes)
    accuracy = clf.score(X_val, y_val)
    if hasattr(clf, "predict_proba") and a.loss != "hinge":
        val_loss = log_loss(y_val, np.clip(clf.predict_proba(X_val), 1e-9, 1), labels=classes)
    else:
        val_loss = 1.0 - accuracy
    ferrotune.report(step=epoch, loss=val_loss, accuracy=accuracy)
