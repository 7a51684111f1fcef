"""float32 -> float16 conversion of an exported ONNX graph.

Every float tensor (graph inputs and outputs, weights, constants,
activations) becomes float16, except where half precision hurts:

* InstanceNormalization (GroupNorm), LayerNormalization and Softmax run in
  float32 with Casts around them (their scale/bias stay float32);
* the sinusoidal timestep embedding (everything computed from the `timestep`
  input before the first MatMul/Gemm) stays float32, as diffusers computes it,
  because t * frequency for t up to 999 is far too coarse in float16;
* Resize's roi/scales inputs stay float32 (the ONNX spec requires it).

Integer inputs (`timestep` int64, `input_ids` int32) are untouched.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16
KEEP_FP32_OPS = {"InstanceNormalization", "LayerNormalization", "Softmax"}
FP32_INPUTS = {"Resize": {1, 2}}


def _timestep_closure(graph):
    consumers = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    keep, todo = set(), [i.name for i in graph.input if i.name == "timestep"]
    while todo:
        for n in consumers.get(todo.pop(), []):
            if n.op_type in ("MatMul", "Gemm") or id(n) in keep:
                continue
            keep.add(id(n))
            todo.extend(n.output)
    return keep


def _toposort(nodes, available):
    available = set(available)
    out, pending = [], list(nodes)
    while pending:
        rest = []
        for n in pending:
            if all(i == "" or i in available for i in n.input):
                out.append(n)
                available.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise RuntimeError("graph has a cycle or a missing input: " + rest[0].name)
        pending = rest
    return out


def convert(src, dst):
    model = onnx.shape_inference.infer_shapes(onnx.load(src))
    g = model.graph
    types = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        types[vi.name] = vi.type.tensor_type.elem_type
    inits = {i.name: i for i in g.initializer}
    for i in g.initializer:
        types[i.name] = i.data_type
    constants = {}
    for n in g.node:
        if n.op_type == "Constant":
            t = helper.get_attribute_value(n.attribute[0])
            if isinstance(t, onnx.TensorProto):
                types[n.output[0]] = t.data_type
                constants[n.output[0]] = n
    for n in g.node:
        for o in n.output:
            if o and o not in types:
                raise RuntimeError(f"no type for {o} ({n.op_type}); shape inference incomplete")

    for n in g.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in n.attribute):
            raise RuntimeError(f"{n.op_type} {n.name}: subgraphs are not supported")
    fp32_nodes = {id(n) for n in g.node if n.op_type in KEEP_FP32_OPS} | _timestep_closure(g)
    graph_inputs = {i.name for i in g.input}
    producer = {o: n for n in g.node for o in n.output}

    # float graph outputs computed in float32: compute into a renamed tensor, cast at the end
    new_nodes = []
    for o in g.output:
        if types.get(o.name) == FLOAT and id(producer[o.name]) in fp32_nodes:
            inner = o.name + "__fp32"
            for n in g.node:
                n.output[:] = [inner if x == o.name else x for x in n.output]
                n.input[:] = [inner if x == o.name else x for x in n.input]
            types[inner] = FLOAT
            producer[inner] = producer.pop(o.name)
            new_nodes.append(helper.make_node("Cast", [inner], [o.name], to=HALF, name=o.name + "_to_fp16"))

    def domain(name):
        """'fp16', 'fp32' or 'flex' (weights and constants) for a float tensor."""
        if name in inits or name in constants:
            return "flex"
        if name in graph_inputs:
            return "fp16"
        return "fp32" if id(producer[name]) in fp32_nodes else "fp16"

    casts, flex_versions = {}, {}

    def get(name, want):
        d = domain(name)
        if d == "flex":
            key = (name, want)
            if key not in flex_versions:
                flex_versions[key] = name if want == "fp32" else name + "__fp16"
            return flex_versions[key]
        if d == want:
            return name
        key = (name, want)
        if key not in casts:
            out = f"{name}__{want}"
            new_nodes.append(helper.make_node("Cast", [name], [out], to=FLOAT if want == "fp32" else HALF,
                                              name=out + "_cast"))
            casts[key] = out
        return casts[key]

    for n in g.node:
        in_fp32 = id(n) in fp32_nodes
        if n.op_type == "Constant" and n.output[0] in constants:
            continue
        for idx, name in enumerate(n.input):
            if name and types.get(name) == FLOAT:
                want = "fp32" if in_fp32 or idx in FP32_INPUTS.get(n.op_type, ()) else "fp16"
                n.input[idx] = get(name, want)
        if not in_fp32:
            for a in n.attribute:
                if n.op_type == "Cast" and a.name == "to" and a.i == FLOAT:
                    a.i = HALF
                if n.op_type == "ConstantOfShape" and a.name == "value" and a.t.data_type == FLOAT:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))

    # float16 copies of weights / constants that fp16 nodes use; drop unused float32 originals
    used32 = {name for (name, want), v in flex_versions.items() if want == "fp32"}
    for (name, want), new in flex_versions.items():
        if want != "fp16":
            continue
        if name in inits:
            arr = numpy_helper.to_array(inits[name]).astype(np.float16)
            g.initializer.append(numpy_helper.from_array(arr, new))
        else:
            t = helper.get_attribute_value(constants[name].attribute[0])
            arr = numpy_helper.to_array(t).astype(np.float16)
            new_nodes.append(helper.make_node("Constant", [], [new], value=numpy_helper.from_array(arr, new),
                                              name=new + "_const"))
    for name in [i.name for i in g.initializer]:
        if types.get(name) == FLOAT and name in inits and name not in used32:
            g.initializer.remove(inits[name])
    keep_nodes = [n for n in g.node if not (n.op_type == "Constant" and n.output[0] in constants
                                            and types[n.output[0]] == FLOAT and n.output[0] not in used32)]

    for vi in list(g.input) + list(g.output):
        if vi.type.tensor_type.elem_type == FLOAT:
            vi.type.tensor_type.elem_type = HALF
    del g.value_info[:]
    available = graph_inputs | {i.name for i in g.initializer}
    nodes = _toposort(keep_nodes + new_nodes, available)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, dst)


if __name__ == "__main__":
    import argparse
    import os
    import shutil
    ap = argparse.ArgumentParser(description="float16 copy of an exported model folder")
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    shutil.copytree(a.src, a.dst, dirs_exist_ok=True)
    for part in ("text_encoder", "unet", "vae_decoder", "vae_encoder"):
        convert(os.path.join(a.src, part, "model.onnx"), os.path.join(a.dst, part, "model.onnx"))
