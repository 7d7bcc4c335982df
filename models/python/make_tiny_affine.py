"""Writes models/onnx/tiny-affine.onnx: y = x @ W + b, a smoke-test model for the ONNX Runtime loader.

The weights are fixed integers so the expected output can be checked by hand:
x = [1, 2, 3, 4] gives y = [6, 4, 8]. Run from the repository root:

    python3 models/python/make_tiny_affine.py
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

W = np.array([[1, 0, 0.5], [0, 1, 0], [1, 1, 1], [0.5, 0, 1]], dtype=np.float32)
B = np.array([0, -1, 0.5], dtype=np.float32)


def main() -> None:
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["y"]),
        ],
        "tiny_affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, "models/onnx/tiny-affine.onnx")
    x = np.array([[1, 2, 3, 4]], dtype=np.float32)
    print("expected y for x=[1,2,3,4]:", (x @ W + B).tolist())


if __name__ == "__main__":
    main()
