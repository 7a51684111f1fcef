package io.denoise.pipeline;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Just enough protobuf to edit ONNX files the way other exporters write them, without the onnx package: a message is
 * a list of fields, each kept as raw bytes, so every field not edited is written back unchanged. Field numbers are
 * onnx.proto3's (ModelProto.graph 7; GraphProto node 1, initializer 5, input 11, output 12; NodeProto input 1, output 2,
 * name 3, op_type 4, attribute 5; AttributeProto name 1, i 3, type 20; ValueInfoProto name 1, type 2;
 * TypeProto.tensor_type 1; Tensor elem_type 1, shape 2; TensorShapeProto dim 1; Dimension dim_value 1, dim_param 2;
 * TensorProto external_data 13; StringStringEntryProto key 1, value 2).
 */
final class OnnxProto {

    /** One field: varints keep their value, other wire types their bytes. */
    record Field(int number, int wire, long varint, byte[] bytes) {
        String text() {
            return new String(bytes, StandardCharsets.UTF_8);
        }

        static Field text(int number, String value) {
            return new Field(number, 2, 0, value.getBytes(StandardCharsets.UTF_8));
        }

        static Field message(int number, List<Field> fields) {
            return new Field(number, 2, 0, write(fields));
        }

        static Field varint(int number, long value) {
            return new Field(number, 0, value, null);
        }
    }

    private OnnxProto() {
    }

    static List<Field> parse(byte[] b) {
        List<Field> fields = new ArrayList<>();
        int[] pos = {0};
        while (pos[0] < b.length) {
            long tag = readVarint(b, pos);
            int number = (int) (tag >>> 3);
            int wire = (int) (tag & 7);
            switch (wire) {
                case 0 -> fields.add(new Field(number, 0, readVarint(b, pos), null));
                case 1, 5 -> {
                    int n = wire == 1 ? 8 : 4;
                    fields.add(new Field(number, wire, 0, java.util.Arrays.copyOfRange(b, pos[0], pos[0] + n)));
                    pos[0] += n;
                }
                case 2 -> {
                    int n = (int) readVarint(b, pos);
                    fields.add(new Field(number, 2, 0, java.util.Arrays.copyOfRange(b, pos[0], pos[0] + n)));
                    pos[0] += n;
                }
                default -> throw new IllegalArgumentException("unsupported wire type " + wire);
            }
        }
        return fields;
    }

    static byte[] write(List<Field> fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Field f : fields) {
            writeVarint(out, ((long) f.number() << 3) | f.wire());
            if (f.wire() == 0) {
                writeVarint(out, f.varint());
            } else {
                if (f.wire() == 2) {
                    writeVarint(out, f.bytes().length);
                }
                out.writeBytes(f.bytes());
            }
        }
        return out.toByteArray();
    }

    /** Rewrites every length-delimited field {@code number} of the message with {@code edit}. */
    static byte[] editEach(byte[] message, int number, UnaryOperator<byte[]> edit) {
        List<Field> fields = new ArrayList<>();
        for (Field f : parse(message)) {
            fields.add(f.number() == number && f.wire() == 2 ? new Field(number, 2, 0, edit.apply(f.bytes())) : f);
        }
        return write(fields);
    }

    static String name(byte[] message) {
        for (Field f : parse(message)) {
            if (f.number() == 1 && f.wire() == 2) {
                return f.text();
            }
        }
        return "";
    }

    /** Points every initializer stored in external file {@code from} at {@code to}. */
    static byte[] renameExternalData(byte[] model, String from, String to) {
        return editEach(model, 7, graph -> editEach(graph, 5, tensor -> editEach(tensor, 13, entry -> {
            List<Field> fields = parse(entry);
            boolean location = fields.stream().anyMatch(f -> f.number() == 1 && f.text().equals("location"));
            List<Field> out = new ArrayList<>();
            for (Field f : fields) {
                out.add(location && f.number() == 2 && f.text().equals(from) ? Field.text(2, to) : f);
            }
            return write(out);
        })));
    }

    /** Edits the type of graph input {@code input} with {@code edit} (TypeProto.Tensor's fields). */
    static byte[] editInputTensorType(byte[] model, String input, UnaryOperator<List<Field>> edit) {
        return editTensorType(model, 11, input, edit);
    }

    /** Edits the type of the graph's input (field 11) or output (12) {@code name} with {@code edit}. */
    private static byte[] editTensorType(byte[] model, int field, String name, UnaryOperator<List<Field>> edit) {
        return editEach(model, 7, graph -> editEach(graph, field, value -> !name(value).equals(name) ? value
                : editEach(value, 2, type -> editEach(type, 1, tensor -> write(edit.apply(parse(tensor)))))));
    }

    /**
     * Declares dimension {@code dim} of graph input ({@code output} false) or output {@code name} symbolic, named
     * {@code param} (TensorShapeProto dim 1; Dimension dim_value 1, dim_param 2), as exporters declare dynamic axes.
     */
    static byte[] symbolicDim(byte[] model, boolean output, String name, int dim, String param) {
        return editTensorType(model, output ? 12 : 11, name, fields -> {
            List<Field> out = new ArrayList<>();
            for (Field f : fields) {
                if (f.number() != 2) {
                    out.add(f);
                    continue;
                }
                List<Field> dims = new ArrayList<>();
                int i = 0;
                for (Field d : parse(f.bytes())) {
                    dims.add(d.number() == 1 && i++ == dim ? Field.message(1, List.of(Field.text(2, param))) : d);
                }
                out.add(Field.message(2, dims));
            }
            return out;
        });
    }

    /**
     * Makes graph input {@code input} int64, as Optimum exports the UNet's timestep: the input becomes int64 and a
     * Cast to float32 in front of the graph feeds every node that read it.
     */
    static byte[] int64Input(byte[] model, String input) {
        byte[] typed = editInputTensorType(model, input, fields -> {
            List<Field> out = new ArrayList<>();
            for (Field f : fields) {
                out.add(f.number() == 1 ? Field.varint(1, 7) : f);
            }
            return out;
        });
        String renamed = input + "_as_float";
        return editEach(typed, 7, graph -> {
            List<Field> out = new ArrayList<>();
            boolean inserted = false;
            for (Field f : parse(graph)) {
                if (f.number() == 1 && f.wire() == 2) {
                    if (!inserted) {
                        out.add(Field.message(1, List.of(Field.text(1, input), Field.text(2, renamed),
                                Field.text(3, input + "_cast"), Field.text(4, "Cast"),
                                Field.message(5, List.of(Field.text(1, "to"), Field.varint(3, 1), Field.varint(20, 2))))));
                        inserted = true;
                    }
                    List<Field> node = new ArrayList<>();
                    for (Field n : parse(f.bytes())) {
                        node.add(n.number() == 1 && n.text().equals(input) ? Field.text(1, renamed) : n);
                    }
                    out.add(Field.message(1, node));
                } else {
                    out.add(f);
                }
            }
            return write(out);
        });
    }

    /** Declares graph input {@code input} as a scalar (rank 0), as some exports declare the timestep. */
    static byte[] scalarInput(byte[] model, String input) {
        return editInputTensorType(model, input, fields -> {
            List<Field> out = new ArrayList<>();
            for (Field f : fields) {
                out.add(f.number() == 2 ? new Field(2, 2, 0, new byte[0]) : f);
            }
            return out;
        });
    }

    private static long readVarint(byte[] b, int[] pos) {
        long value = 0;
        for (int shift = 0; ; shift += 7) {
            byte x = b[pos[0]++];
            value |= (long) (x & 0x7f) << shift;
            if (x >= 0) {
                return value;
            }
        }
    }

    private static void writeVarint(ByteArrayOutputStream out, long value) {
        while ((value & ~0x7fL) != 0) {
            out.write((int) ((value & 0x7f) | 0x80));
            value >>>= 7;
        }
        out.write((int) value);
    }
}
