"""The intent model is a real int8 ONNX graph that onnxruntime runs, and it is retrained
from the catalog: a product added by the tenant is understood even in words no template has.

Breaking attempts: reading the weights' element type from the file itself, a save/load round
trip through disk, comparing onnxruntime's output with a numpy re-computation from the int8
weights, and a catalog entry the default domain has never seen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from models.domain import DOMAINS_DIR, CompiledDomain, compile_domain, load_domain
from models.nlu.classifier import NONE_LABEL, IntentModel
from models.nlu.features import DIM, featurize
from tests.models.nlu.conftest import NOW


def test_model_is_int8_and_runs_in_onnxruntime(
    domain: Callable[[str], CompiledDomain], tmp_path: Path
) -> None:
    c = domain("shop_tr")
    assert c.intent_model is not None
    path = tmp_path / "intent.onnx"
    c.intent_model.save(path)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    weights = {i.name: i for i in model.graph.initializer}
    assert weights["w_int8"].data_type == onnx.TensorProto.INT8
    float_weights = [
        i
        for i in model.graph.initializer
        if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 2
    ]
    assert float_weights == []  # no float copy of the weight matrix rides along
    assert path.stat().st_size < 40 * DIM  # int8 DIM x classes, far below float32

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = featurize([c.words("iki tane şampuan istiyorum")])
    probs = session.run(["probs"], {"features": x})[0]
    labels = IntentModel.load(path).labels
    assert set(labels) == {*c.intents, NONE_LABEL}
    assert labels[int(np.argmax(probs))] == "OrderProduct"
    # the same numbers from the int8 weights by hand
    wq = numpy_helper.to_array(weights["w_int8"]).astype(np.float32)
    scale = numpy_helper.to_array(weights["w_scale"])
    bias = numpy_helper.to_array(weights["bias"])
    logits = x @ (wq * scale) + bias
    manual = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(probs, manual, rtol=2e-3, atol=1e-5)


def test_catalog_change_retrains_grammar_and_model() -> None:
    catalog = {
        "products": [
            {"id": "argan", "name": "argan yağı"},
            {"id": "kil", "name": "kil maskesi"},
            "şampuan",
        ]
    }
    c = compile_domain(load_domain(DOMAINS_DIR / "shop_tr.yaml", catalog=catalog))
    exact = c.understand("üç tane argan yağı istiyorum", NOW)
    assert (exact.intent, exact.slots, exact.in_grammar) == (
        "OrderProduct",
        {"quantity": "3", "product": "argan"},
        True,
    )
    loose = c.understand("argan yağından iki tane alabilir miyim acaba", NOW)
    assert not loose.in_grammar
    assert (loose.intent, loose.slots) == ("OrderProduct", {"product": "argan", "quantity": "2"})
    assert c.understand("nemlendirici krem stokta var mı", NOW).slots == {}


def test_training_is_deterministic_for_a_seed() -> None:
    c = compile_domain(load_domain(DOMAINS_DIR / "calibration_en.yaml"), train_intent_model=False)
    c.train_intent_model(seed=3)
    first = c.intent_model
    c.train_intent_model(seed=3)
    assert first is not None and c.intent_model is not None
    assert first.model_bytes == c.intent_model.model_bytes
    c.train_intent_model(seed=4)
    assert first.model_bytes != c.intent_model.model_bytes
