#!/usr/bin/env python3
"""Real files written by the save APIs of current ML libraries (issue 18 item 5: noise).

Developer tool, never run in CI: in a throwaway venv with the pins of requirements.txt (and,
with --torch, requirements-torch.txt), it fits small models and saves them exactly as users do
(`pickle.dump`, `joblib.dump`, `DataFrame.to_pickle`, `np.save`, `Word2Vec.save`,
`torch.save`, `save_pretrained`, ...). `scripts/realfiles/check` scans the result and prints,
per library, how many files aigis rates medium or worse and why. None of these files is
malicious: every medium is noise a security team would learn to ignore, every high is a false
positive.

  python scripts/realfiles/make_real_files.py --out target/realfiles [--only pandas,sklearn]

Each library's files go to OUT/<library>/; OUT/manifest-<group>.jsonl records, per file, the call that
made it and the library version. Nothing random: every generator is seeded.
"""
import argparse
import bz2
import gzip
import importlib
import importlib.metadata as md
import io
import json
import lzma
import os
import pickle
import sys
import traceback
import warnings

warnings.filterwarnings("ignore")

OUT = None
ROWS = []


def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def emit(lib, name, data, made_by):
    path = os.path.join(OUT, lib, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    ROWS.append({"file": f"{lib}/{name}", "made_by": made_by})


def record(lib, rel, made_by):
    """A file (or folder of files) a library's own save call wrote under OUT/lib/rel."""
    ROWS.append({"file": f"{lib}/{rel}", "made_by": made_by})


def pickles(lib, stem, obj, what, protocols=(2, 4, 5)):
    for proto in protocols:
        emit(lib, f"{stem}_p{proto}.pkl", pickle.dumps(obj, protocol=proto),
             f"pickle.dumps({what}, protocol={proto})")


def joblibs(lib, stem, obj, what):
    import joblib
    for compress in (0, 3):
        path = os.path.join(OUT, lib, f"{stem}_c{compress}.joblib")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        joblib.dump(obj, path, compress=compress)
        record(lib, f"{stem}_c{compress}.joblib", f"joblib.dump({what}, compress={compress})")


# --------------------------------------------------------------------------------------------
def make_numpy():
    import numpy as np
    rng = np.random.default_rng(0)
    lib = "numpy"
    arrays = {
        "float32": rng.standard_normal((16, 8)).astype(np.float32),
        "int64": np.arange(100, dtype=np.int64),
        "bool": rng.random(20) > 0.5,
        "complex": (rng.standard_normal(8) + 1j).astype(np.complex128),
        "structured": np.array([(1, 2.0, b"ab")], dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S2")]),
        "datetime": np.array(["2026-01-01", "NaT"], dtype="datetime64[ns]"),
        "timedelta": np.array([1, 2], dtype="timedelta64[s]"),
        "unicode": np.array(["tok", "vocab"]),
        "fortran": np.asfortranarray(rng.standard_normal((4, 5))),
        "object_str": np.array(["a", None, 3], dtype=object),
        "masked": np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]),
        "matrix": np.matrix([[1, 2], [3, 4]]),
        "float16": rng.standard_normal(10).astype(np.float16),
        "scalar": np.float64(3.5),
        "int_scalar": np.int32(7),
    }
    for name, a in arrays.items():
        pickles(lib, name, a, f"<numpy {name}>")
        if isinstance(a, np.ndarray) and not isinstance(a, np.matrix):
            buf = io.BytesIO()
            np.save(buf, np.asarray(a), allow_pickle=True)
            emit(lib, f"{name}.npy", buf.getvalue(), f"np.save(<{name}>, allow_pickle=True)")
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items() if isinstance(v, np.ndarray)})
    emit(lib, "all.npz", buf.getvalue(), "np.savez(**arrays)")
    buf = io.BytesIO()
    np.savez_compressed(buf, w=arrays["float32"], b=arrays["int64"])
    emit(lib, "compressed.npz", buf.getvalue(), "np.savez_compressed(w=, b=)")
    pickles(lib, "generator", np.random.default_rng(1), "np.random.default_rng(1)")
    pickles(lib, "randomstate", np.random.RandomState(1), "np.random.RandomState(1)")
    pickles(lib, "dtypes", [np.dtype("f4"), np.dtype([("x", "i2")]), np.dtype("M8[D]")],
            "<list of dtypes>")
    pickles(lib, "ufuncs", [np.log1p, np.exp, np.add], "[np.log1p, np.exp, np.add]")
    return version("numpy")


def make_pandas():
    import numpy as np
    import pandas as pd
    lib = "pandas"
    rng = np.random.default_rng(0)
    n = 12
    df = pd.DataFrame({
        "int": np.arange(n),
        "float": rng.standard_normal(n),
        "str": [f"s{i}" for i in range(n)],
        "cat": pd.Categorical(["a", "b", "c"] * (n // 3)),
        "when": pd.date_range("2026-01-01", periods=n, freq="D"),
        "when_tz": pd.date_range("2026-01-01", periods=n, freq="h", tz="Europe/Paris"),
        "delta": pd.to_timedelta(np.arange(n), unit="s"),
        "nullable_int": pd.array([1, None] * (n // 2), dtype="Int64"),
        "nullable_float": pd.array([1.5, None] * (n // 2), dtype="Float64"),
        "nullable_bool": pd.array([True, None] * (n // 2), dtype="boolean"),
        "period": pd.period_range("2026-01", periods=n, freq="M"),
        "interval": pd.interval_range(0, n),
        "sparse": pd.arrays.SparseArray([0, 0, 1] * (n // 3)),
        "obj": [None, {"k": 1}, [1, 2], "x"] * (n // 4),
    })
    df.loc[3, "when"] = pd.NaT
    frames = {
        "frame": df,
        "series_str": pd.Series(["a", None, "c"], dtype="string"),
        "series_str_python": pd.Series(["a", None], dtype=pd.StringDtype("python")),
        "multiindex": df.set_index(["cat", "int"]),
        "datetimeindex": pd.Series(range(n), index=pd.date_range("2026", periods=n, freq="W")),
        "timestamp": pd.Timestamp("2026-03-01 12:00", tz="UTC"),
        "nat": pd.NaT,
        "timedelta": pd.Timedelta("1 day"),
        "period_scalar": pd.Period("2026-05", freq="M"),
        "categorical_dtype": pd.CategoricalDtype(["x", "y"], ordered=True),
        "rangeindex": pd.RangeIndex(0, 10, 2),
        "groupby_result": df.groupby("cat", observed=True)["float"].agg(["mean", "sum"]),
        "offset": pd.offsets.BusinessDay(2),
    }
    try:
        import pyarrow  # noqa: F401
        frames["arrow_str"] = pd.Series(["a", "b", None], dtype="string[pyarrow]")
        frames["arrow_dtype"] = pd.Series([1, 2, None], dtype="int64[pyarrow]")
    except ImportError:
        pass
    for name, obj in frames.items():
        pickles(lib, name, obj, f"<pandas {name}>")
    for comp, ext in (("gzip", "gz"), ("bz2", "bz2"), ("xz", "xz"), ("zip", "zip")):
        path = os.path.join(OUT, lib, f"frame.pkl.{ext}")
        df.to_pickle(path, compression=comp)
        record(lib, f"frame.pkl.{ext}", f"DataFrame.to_pickle(compression={comp!r})")
    df.to_pickle(os.path.join(OUT, lib, "frame_to_pickle.pkl"))
    record(lib, "frame_to_pickle.pkl", "DataFrame.to_pickle()")
    return version("pandas")


def make_scipy():
    import numpy as np
    import scipy.sparse as sp
    from scipy import interpolate, spatial, stats
    lib = "scipy"
    rng = np.random.default_rng(0)
    dense = (rng.random((6, 6)) > 0.7).astype(np.float64)
    objs = {
        "csr_matrix": sp.csr_matrix(dense), "csc_matrix": sp.csc_matrix(dense),
        "coo_matrix": sp.coo_matrix(dense), "lil_matrix": sp.lil_matrix(dense),
        "dok_matrix": sp.dok_matrix(dense), "bsr_matrix": sp.bsr_matrix(dense),
        "dia_matrix": sp.dia_matrix(dense), "csr_array": sp.csr_array(dense),
        "coo_array": sp.coo_array(dense),
        "kdtree": spatial.KDTree(rng.random((20, 2))),
        "ckdtree": spatial.cKDTree(rng.random((20, 2))),
        "frozen_norm": stats.norm(0, 1),
        "interp1d": interpolate.interp1d([0, 1, 2], [0, 1, 4]),
        "cubic_spline": interpolate.CubicSpline([0, 1, 2], [0, 1, 4]),
        "rotation": spatial.transform.Rotation.from_euler("z", 30, degrees=True),
    }
    for name, obj in objs.items():
        pickles(lib, name, obj, f"<scipy {name}>")
    buf = io.BytesIO()
    sp.save_npz(buf, sp.csr_matrix(dense))
    emit(lib, "sparse.npz", buf.getvalue(), "scipy.sparse.save_npz(csr)")
    return version("scipy")


def make_sklearn():
    import numpy as np
    import pandas as pd
    from sklearn import (calibration, cluster, compose, decomposition, discriminant_analysis,
                         ensemble, feature_extraction, feature_selection, gaussian_process,
                         impute, isotonic, kernel_approximation, linear_model, manifold,
                         mixture, model_selection, naive_bayes, neighbors, neural_network,
                         pipeline, preprocessing, svm, tree)
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    lib = "sklearn"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    yr = X @ np.array([1.0, -2.0, 0.5, 0.0])
    docs = ["the cat sat", "the dog ran", "a cat and a dog", "models load code"] * 5
    ydocs = [0, 1, 0, 1] * 5
    frame = pd.DataFrame({"num": rng.standard_normal(20), "cat": ["a", "b"] * 10,
                          "text": docs})
    models = {
        "linear_regression": (linear_model.LinearRegression(), X, yr),
        "ridge": (linear_model.Ridge(), X, yr),
        "lasso": (linear_model.Lasso(), X, yr),
        "logistic": (linear_model.LogisticRegression(), X, y),
        "sgd": (linear_model.SGDClassifier(random_state=0), X, y),
        "svc": (svm.SVC(probability=True, random_state=0), X, y),
        "svr": (svm.SVR(), X, yr),
        "linear_svc": (svm.LinearSVC(), X, y),
        "knn_kd": (neighbors.KNeighborsClassifier(algorithm="kd_tree"), X, y),
        "knn_ball": (neighbors.KNeighborsClassifier(algorithm="ball_tree"), X, y),
        "knn_brute": (neighbors.KNeighborsClassifier(algorithm="brute"), X, y),
        "lof": (neighbors.LocalOutlierFactor(novelty=True), X, None),
        "decision_tree": (tree.DecisionTreeClassifier(random_state=0), X, y),
        "random_forest": (ensemble.RandomForestClassifier(n_estimators=5, random_state=0), X, y),
        "extra_trees": (ensemble.ExtraTreesRegressor(n_estimators=5, random_state=0), X, yr),
        "gradient_boosting": (ensemble.GradientBoostingClassifier(n_estimators=5), X, y),
        "hist_gb_clf": (ensemble.HistGradientBoostingClassifier(max_iter=5), X, y),
        "hist_gb_reg": (ensemble.HistGradientBoostingRegressor(max_iter=5, loss="poisson"),
                        X, np.abs(yr)),
        "adaboost": (ensemble.AdaBoostClassifier(n_estimators=5), X, y),
        "bagging": (ensemble.BaggingClassifier(n_estimators=3), X, y),
        "isolation_forest": (ensemble.IsolationForest(n_estimators=5, random_state=0), X, None),
        "voting": (ensemble.VotingClassifier([("lr", linear_model.LogisticRegression()),
                                              ("nb", naive_bayes.GaussianNB())]), X, y),
        "stacking": (ensemble.StackingClassifier([("dt", tree.DecisionTreeClassifier())]), X, y),
        "kmeans": (cluster.KMeans(3, n_init=2, random_state=0), X, None),
        "minibatch_kmeans": (cluster.MiniBatchKMeans(3, n_init=2, random_state=0), X, None),
        "dbscan": (cluster.DBSCAN(), X, None),
        "agglomerative": (cluster.AgglomerativeClustering(3), X, None),
        "pca": (decomposition.PCA(2), X, None),
        "truncated_svd": (decomposition.TruncatedSVD(2), X, None),
        "nmf": (decomposition.NMF(2, max_iter=50), np.abs(X), None),
        "kernel_pca": (decomposition.KernelPCA(2, kernel="rbf"), X, None),
        "lda": (discriminant_analysis.LinearDiscriminantAnalysis(), X, y),
        "qda": (discriminant_analysis.QuadraticDiscriminantAnalysis(), X, y),
        "gaussian_nb": (naive_bayes.GaussianNB(), X, y),
        "mlp": (neural_network.MLPClassifier((8,), max_iter=20, random_state=0), X, y),
        "gaussian_process": (gaussian_process.GaussianProcessRegressor(
            gaussian_process.kernels.RBF() + gaussian_process.kernels.WhiteKernel()), X, yr),
        "gaussian_mixture": (mixture.GaussianMixture(2, random_state=0), X, None),
        "isotonic": (isotonic.IsotonicRegression(), X[:, 0], yr),
        "standard_scaler": (preprocessing.StandardScaler(), X, None),
        "minmax_scaler": (preprocessing.MinMaxScaler(), X, None),
        "robust_scaler": (preprocessing.RobustScaler(), X, None),
        "quantile": (preprocessing.QuantileTransformer(n_quantiles=10), X, None),
        "poly": (preprocessing.PolynomialFeatures(2), X, None),
        "onehot": (preprocessing.OneHotEncoder(), frame[["cat"]], None),
        "ordinal": (preprocessing.OrdinalEncoder(), frame[["cat"]], None),
        "label_encoder": (preprocessing.LabelEncoder(), ["x", "y", "x"], None),
        "function_transformer": (preprocessing.FunctionTransformer(np.log1p, np.expm1),
                                 np.abs(X), None),
        "simple_imputer": (impute.SimpleImputer(), X, None),
        "knn_imputer": (impute.KNNImputer(), X, None),
        "iterative_imputer": (impute.IterativeImputer(max_iter=2), X, None),
        "select_kbest": (feature_selection.SelectKBest(feature_selection.f_classif, k=2), X, y),
        "rfe": (feature_selection.RFE(linear_model.LogisticRegression(), n_features_to_select=2),
                X, y),
        "rbf_sampler": (kernel_approximation.RBFSampler(random_state=0), X, None),
        "isomap": (manifold.Isomap(n_neighbors=5), X, None),
        "calibrated": (calibration.CalibratedClassifierCV(naive_bayes.GaussianNB()), X, y),
        "grid_search": (model_selection.GridSearchCV(linear_model.Ridge(),
                                                     {"alpha": [0.1, 1.0]}), X, yr),
        "tfidf": (feature_extraction.text.TfidfVectorizer(), docs, None),
        "count_vectorizer": (feature_extraction.text.CountVectorizer(ngram_range=(1, 2)),
                             docs, None),
        "hashing_vectorizer": (feature_extraction.text.HashingVectorizer(n_features=64),
                               docs, None),
        "dict_vectorizer": (feature_extraction.DictVectorizer(), [{"a": 1}, {"b": 2}], None),
        "text_pipeline": (pipeline.make_pipeline(feature_extraction.text.TfidfVectorizer(),
                                                 linear_model.LogisticRegression()),
                          docs, ydocs),
        "column_transformer": (pipeline.Pipeline([
            ("pre", compose.ColumnTransformer([
                ("num", preprocessing.StandardScaler(), ["num"]),
                ("cat", preprocessing.OneHotEncoder(handle_unknown="ignore"), ["cat"]),
                ("txt", feature_extraction.text.TfidfVectorizer(), "text")])),
            ("clf", ensemble.RandomForestClassifier(n_estimators=3, random_state=0))]),
            frame, ydocs),
        "target_transformed": (compose.TransformedTargetRegressor(
            linear_model.LinearRegression(), func=np.log1p, inverse_func=np.expm1),
            X, np.abs(yr)),
    }
    for name, (model, data, target) in models.items():
        try:
            model.fit(data) if target is None else model.fit(data, target)
        except Exception:
            print(f"sklearn {name}: fit failed\n{traceback.format_exc()}", file=sys.stderr)
            continue
        pickles(lib, name, model, f"<fitted sklearn {type(model).__name__}>", protocols=(4, 5))
        joblibs(lib, name, model, f"<fitted sklearn {type(model).__name__}>")
    return version("scikit-learn")


def make_boosters():
    import numpy as np
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] > 0).astype(int)
    versions = {}
    try:
        import xgboost as xgb
        clf = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)
        pickles("xgboost", "xgb_classifier", clf, "<fitted XGBClassifier>", protocols=(4, 5))
        joblibs("xgboost", "xgb_classifier", clf, "<fitted XGBClassifier>")
        pickles("xgboost", "booster", clf.get_booster(), "<xgboost Booster>", protocols=(4,))
        for ext in ("json", "ubj"):
            p = os.path.join(OUT, "xgboost", f"model.{ext}")
            clf.save_model(p)
            record("xgboost", f"model.{ext}", f"XGBClassifier.save_model(.{ext})")
        versions["xgboost"] = version("xgboost")
    except ImportError:
        pass
    try:
        import lightgbm as lgb
        clf = lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
        pickles("lightgbm", "lgbm_classifier", clf, "<fitted LGBMClassifier>", protocols=(4, 5))
        joblibs("lightgbm", "lgbm_classifier", clf, "<fitted LGBMClassifier>")
        p = os.path.join(OUT, "lightgbm", "model.txt")
        clf.booster_.save_model(p)
        record("lightgbm", "model.txt", "Booster.save_model()")
        versions["lightgbm"] = version("lightgbm")
    except ImportError:
        pass
    try:
        import catboost as cb
        clf = cb.CatBoostClassifier(iterations=3, verbose=False, train_dir="/tmp/catboost_info")
        clf.fit(X, y)
        pickles("catboost", "catboost_classifier", clf, "<fitted CatBoostClassifier>",
                protocols=(4,))
        for fmt, ext in (("cbm", "cbm"), ("json", "json"), ("onnx", "onnx")):
            p = os.path.join(OUT, "catboost", f"model.{ext}")
            clf.save_model(p, format=fmt)
            record("catboost", f"model.{ext}", f"CatBoostClassifier.save_model(format={fmt!r})")
        versions["catboost"] = version("catboost")
    except ImportError:
        pass
    return versions


def make_gensim():
    from gensim import corpora, models
    from gensim.models import Doc2Vec, FastText, KeyedVectors, Word2Vec
    from gensim.models.doc2vec import TaggedDocument
    lib = "gensim"
    sentences = [["the", "cat", "sat"], ["the", "dog", "ran"], ["models", "load", "code"]] * 20
    d = os.path.join(OUT, lib)
    os.makedirs(d, exist_ok=True)
    w2v = Word2Vec(sentences, vector_size=16, min_count=1, seed=1, workers=1)
    w2v.save(os.path.join(d, "word2vec.model"))
    record(lib, "word2vec.model", "Word2Vec.save()")
    w2v.wv.save(os.path.join(d, "vectors.kv"))
    record(lib, "vectors.kv", "KeyedVectors.save()")
    w2v.wv.save_word2vec_format(os.path.join(d, "vectors.bin"), binary=True)
    record(lib, "vectors.bin", "KeyedVectors.save_word2vec_format(binary=True)")
    ft = FastText(sentences, vector_size=8, min_count=1, seed=1, workers=1)
    ft.save(os.path.join(d, "fasttext.model"))
    record(lib, "fasttext.model", "FastText.save()")
    docs = [TaggedDocument(s, [i]) for i, s in enumerate(sentences)]
    Doc2Vec(docs, vector_size=8, min_count=1, seed=1, workers=1).save(os.path.join(d, "doc2vec.model"))
    record(lib, "doc2vec.model", "Doc2Vec.save()")
    dictionary = corpora.Dictionary(sentences)
    dictionary.save(os.path.join(d, "dictionary.dict"))
    record(lib, "dictionary.dict", "Dictionary.save()")
    bow = [dictionary.doc2bow(s) for s in sentences]
    models.TfidfModel(bow).save(os.path.join(d, "tfidf.model"))
    record(lib, "tfidf.model", "TfidfModel.save()")
    models.LdaModel(bow, num_topics=2, id2word=dictionary, random_state=1).save(
        os.path.join(d, "lda.model"))
    record(lib, "lda.model", "LdaModel.save()")
    models.Phrases(sentences, min_count=1).save(os.path.join(d, "phrases.model"))
    record(lib, "phrases.model", "Phrases.save()")
    _ = KeyedVectors
    return version("gensim")


def make_statsmodels():
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from statsmodels.tsa.arima.model import ARIMA
    lib = "statsmodels"
    rng = np.random.default_rng(0)
    X = sm.add_constant(rng.standard_normal((50, 2)))
    y = X @ np.array([1.0, 2.0, -1.0]) + rng.standard_normal(50)
    d = os.path.join(OUT, lib)
    os.makedirs(d, exist_ok=True)
    results = {
        "ols": sm.OLS(y, X).fit(),
        "glm": sm.GLM((y > 0).astype(float), X, family=sm.families.Binomial()).fit(),
        "formula_ols": smf.ols("y ~ a + b", pd.DataFrame({"y": y, "a": X[:, 1], "b": X[:, 2]})).fit(),
        "arima": ARIMA(rng.standard_normal(60).cumsum(), order=(1, 0, 0)).fit(),
    }
    for name, res in results.items():
        res.save(os.path.join(d, f"{name}.pickle"))
        record(lib, f"{name}.pickle", f"<{name} results>.save()")
        res.save(os.path.join(d, f"{name}_small.pickle"), remove_data=True)
        record(lib, f"{name}_small.pickle", f"<{name} results>.save(remove_data=True)")
    return version("statsmodels")


def make_spacy():
    import spacy
    lib = "spacy"
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    d = os.path.join(OUT, lib, "blank_en")
    os.makedirs(os.path.dirname(d), exist_ok=True)
    nlp.to_disk(d)
    record(lib, "blank_en", "spacy.blank('en').to_disk()")
    emit(lib, "nlp.bytes", nlp.to_bytes(), "nlp.to_bytes()")
    doc = nlp("The cat sat. The dog ran.")
    from spacy.tokens import DocBin
    emit(lib, "docs.spacy", DocBin(docs=[doc]).to_bytes(), "DocBin.to_bytes()")
    pickles(lib, "doc", doc, "<spaCy Doc>", protocols=(4,))
    return version("spacy")


def make_torch():
    import torch
    from torch import nn
    lib = "torch"
    torch.manual_seed(0)
    d = os.path.join(OUT, lib)
    os.makedirs(d, exist_ok=True)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.LazyLinear(2) if False else nn.Linear(4 * 6 * 6, 2))
    sd = net.state_dict()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10)
    saves = {
        "state_dict.pt": sd,
        "checkpoint.pth": {"epoch": 3, "model": sd, "optimizer": opt.state_dict(),
                           "scheduler": sched.state_dict(), "rng": torch.get_rng_state(),
                           "args": {"lr": 1e-3, "name": "run"}},
        "bf16.pt": {k: v.to(torch.bfloat16) for k, v in sd.items() if v.is_floating_point()},
        "half.pt": {k: v.half() for k, v in sd.items() if v.is_floating_point()},
        "sparse.pt": {"coo": torch.eye(4).to_sparse(), "csr": torch.eye(4).to_sparse_csr()},
        "complex.pt": {"c": torch.randn(3, dtype=torch.complex64)},
        "int8.pt": {"q": torch.randint(-8, 8, (10,), dtype=torch.int8)},
        "quantized.pt": {"q": torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.qint8)},
        "views.pt": (lambda t: {"a": t, "b": t[1:], "c": t.view(2, 5)})(torch.randn(10)),
        "generator.pt": {"gen": torch.Generator().manual_seed(1).get_state()},
        "sizes.pt": {"size": torch.Size([2, 3]), "dtype": torch.float32,
                     "device": torch.device("cpu")},
        "full_module.pt": net,
        "scaler.pt": torch.amp.GradScaler("cpu").state_dict() if hasattr(torch, "amp") else {},
        "float8.pt": {"f8": torch.randn(4).to(torch.float8_e4m3fn)},
        "nested_containers.pt": {"list": [torch.ones(2)], "tuple": (torch.zeros(1), 3),
                                 "none": None, "ordered": sd},
    }
    for name, obj in saves.items():
        torch.save(obj, os.path.join(d, name))
        record(lib, name, f"torch.save(<{name}>)")
    torch.save(sd, os.path.join(d, "legacy.pt"), _use_new_zipfile_serialization=False)
    record(lib, "legacy.pt", "torch.save(sd, _use_new_zipfile_serialization=False)")
    scripted = torch.jit.script(net)
    torch.jit.save(scripted, os.path.join(d, "scripted.pt"))
    record(lib, "scripted.pt", "torch.jit.save(torch.jit.script(net))")
    traced = torch.jit.trace(net, torch.randn(1, 3, 8, 8))
    torch.jit.save(traced, os.path.join(d, "traced.pt"))
    record(lib, "traced.pt", "torch.jit.save(torch.jit.trace(net))")
    try:
        ep = torch.export.export(net.eval(), (torch.randn(1, 3, 8, 8),))
        torch.export.save(ep, os.path.join(d, "exported.pt2"))
        record(lib, "exported.pt2", "torch.export.save(torch.export.export(net))")
    except Exception:
        print(f"torch.export failed\n{traceback.format_exc()}", file=sys.stderr)
    return version("torch")


def make_transformers():
    import torch
    from transformers import (BertConfig, BertForSequenceClassification, GPT2Config,
                              GPT2LMHeadModel, TrainingArguments)
    lib = "transformers"
    d = os.path.join(OUT, lib)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(0)
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=37, vocab_size=99)
    bert = BertForSequenceClassification(BertConfig(**small, max_position_embeddings=64))
    bert.save_pretrained(os.path.join(d, "bert"), safe_serialization=False)
    record(lib, "bert", "BertForSequenceClassification.save_pretrained(safe_serialization=False)")
    bert.save_pretrained(os.path.join(d, "bert_safe"))
    record(lib, "bert_safe", "BertForSequenceClassification.save_pretrained()")
    gpt = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=99,
                                     n_positions=64))
    gpt.save_pretrained(os.path.join(d, "gpt2"), safe_serialization=False)
    record(lib, "gpt2", "GPT2LMHeadModel.save_pretrained(safe_serialization=False)")
    args = TrainingArguments(output_dir="/tmp/trainer-out", report_to=[],
                             eval_strategy="steps", save_strategy="epoch",
                             lr_scheduler_type="cosine")
    torch.save(args, os.path.join(d, "training_args.bin"))
    record(lib, "training_args.bin", "torch.save(TrainingArguments(...)) as Trainer does")
    torch.save({"model": bert.state_dict()}, os.path.join(d, "optimizer_like.pt"))
    record(lib, "optimizer_like.pt", "torch.save({'model': state_dict})")
    try:
        from transformers import Trainer, TrainerState  # noqa: F401
        state = TrainerState(global_step=3)
        state.save_to_json(os.path.join(d, "trainer_state.json"))
        record(lib, "trainer_state.json", "TrainerState.save_to_json()")
    except Exception:
        pass
    return version("transformers")


def make_timm():
    import timm
    import torch
    lib = "timm"
    d = os.path.join(OUT, lib)
    os.makedirs(d, exist_ok=True)
    m = timm.create_model("resnet18", pretrained=False, num_classes=3)
    torch.save(m.state_dict(), os.path.join(d, "resnet18.pth"))
    record(lib, "resnet18.pth", "torch.save(timm resnet18 state_dict)")
    torch.save({"state_dict": m.state_dict(), "arch": "resnet18", "epoch": 1,
                "optimizer": torch.optim.SGD(m.parameters(), lr=0.1).state_dict()},
               os.path.join(d, "checkpoint.pth.tar"))
    record(lib, "checkpoint.pth.tar", "timm train.py checkpoint layout")
    return version("timm")


GROUPS = {
    "numpy": make_numpy, "pandas": make_pandas, "scipy": make_scipy, "sklearn": make_sklearn,
    "boosters": make_boosters, "gensim": make_gensim, "statsmodels": make_statsmodels,
    "spacy": make_spacy, "torch": make_torch, "transformers": make_transformers,
    "timm": make_timm,
}


def main():
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="target/realfiles")
    ap.add_argument("--only", default="", help="comma-separated groups: " + ",".join(GROUPS))
    args = ap.parse_args()
    OUT = args.out
    os.makedirs(OUT, exist_ok=True)
    only = [g for g in args.only.split(",") if g] or list(GROUPS)
    for group in only:
        ROWS.clear()
        versions = {"python": sys.version.split()[0]}
        try:
            got = GROUPS[group]()
        except ImportError as e:
            print(f"{group}: skipped ({e})", file=sys.stderr)
            continue
        except Exception:
            print(f"{group}: failed\n{traceback.format_exc()}", file=sys.stderr)
            continue
        if isinstance(got, dict):
            versions.update(got)
        elif got:
            versions[group] = got
        # One manifest per group, so that --only regenerates a group without losing the rest.
        with open(os.path.join(OUT, f"manifest-{group}.jsonl"), "w") as f:
            f.write(json.dumps({"versions": versions}) + "\n")
            for row in ROWS:
                f.write(json.dumps(row) + "\n")
        print(f"{group}: {len(ROWS)} files under {OUT}; {versions}")


if __name__ == "__main__":
    main()
