package io.denoise.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A comparison study in one request: a base recipe (any {@code POST /v1/jobs} body) and one or two axes, each a
 * field and the values it takes (AUTOMATIC1111's X/Y plot). Cells are numbered row-major: cell
 * {@code row × columns + column} takes x value {@code column} and y value {@code row}. The {@code prompt} axis is
 * a search and replace, as AUTOMATIC1111's "Prompt S/R": its first value must appear in the base prompt and each
 * value replaces it there. This class only shapes the study; every cell is then read and checked like any other
 * request ({@link RequestReader}, {@link RequestRules}), with {@link #blame} naming the axis value a broken rule
 * came from. Immutable: the base is copied in and every accessor that hands out JSON hands out a copy.
 */
public record SweepPlan(ObjectNode base, Axis x, Axis y) {

    public SweepPlan {
        base = base.deepCopy();
    }

    /** The base recipe (a copy). */
    @Override
    public ObjectNode base() {
        return base.deepCopy();
    }

    /** The fields an axis may vary, with the JSON type of their values. */
    public static final Map<String, ValueType> FIELDS = Map.of(
            "guidanceScale", ValueType.NUMBER, "seed", ValueType.SEED, "numInferenceSteps", ValueType.INTEGER,
            "scheduler", ValueType.TEXT, "strength", ValueType.NUMBER, "eta", ValueType.NUMBER,
            "negativePrompt", ValueType.TEXT, "prompt", ValueType.TEXT);

    /** What an axis's values are. */
    public enum ValueType { NUMBER, INTEGER, SEED, TEXT }

    /**
     * One axis.
     *
     * @param name   {@code x} or {@code y}, as errors name it
     * @param field  the request field it varies
     * @param values the values, JSON numbers or strings
     */
    public record Axis(String name, String field, List<JsonNode> values) {

        public Axis {
            values = List.copyOf(values);
        }

        /** The axis as titled on a grid. */
        public String title() {
            return field.equals("prompt") ? "prompt S/R" : field;
        }

        /**
         * Value {@code i} as written on a grid: a number in plain notation without trailing zeros ({@code 1}, not
         * {@code 1.0} or {@code 1E+1}), an empty string as {@code ""}, anything else as it is.
         */
        public String label(int i) {
            JsonNode v = values.get(i);
            if (v.isNumber()) {
                BigDecimal d = decimal(v);
                if (d != null) {
                    return d.signum() == 0 ? "0" : d.stripTrailingZeros().toPlainString();
                }
            }
            String text = v.asText();
            return text.isEmpty() ? "\"\"" : text;
        }

        /** The axis as JSON: {@code {"field": …, "values": […]}}. */
        public ObjectNode toJson() {
            ObjectNode node = JsonNodeFactory.instance.objectNode().put("field", field);
            node.putArray("values").addAll(values);
            return node;
        }
    }

    public int columns() {
        return x.values().size();
    }

    public int rows() {
        return y == null ? 1 : y.values().size();
    }

    public int cells() {
        return columns() * rows();
    }

    /** Cell {@code index}'s request body: the base with the axes' values applied. */
    public ObjectNode cell(int index) {
        if (index < 0 || index >= cells()) {
            throw new IndexOutOfBoundsException("cell " + index + " of a sweep of " + cells());
        }
        ObjectNode body = base.deepCopy();
        apply(body, x, index % columns());
        if (y != null) {
            apply(body, y, index / columns());
        }
        return body;
    }

    /** The study as JSON, as a grid's text chunk records it: {@code {"base": …, "x": …, "y": …}}. */
    public ObjectNode toJson() {
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        node.set("base", base.deepCopy());
        node.set("x", x.toJson());
        if (y != null) {
            node.set("y", y.toJson());
        }
        return node;
    }

    /**
     * A broken rule of cell {@code index}, named where the user can fix it: {@code x.values[i]} when the field is
     * the axis's, {@code base.<field>} otherwise. A base field's rule ends with the cell and its axis values, as a
     * rule may hold in some cells and not others ({@code strength} leaves no step in a cell of few steps).
     */
    public InvalidRequestException blame(int index, InvalidRequestException e) {
        for (Axis axis : axes()) {
            if (axis.field().equals(e.field())) {
                int i = axis == x ? index % columns() : index / columns();
                return new InvalidRequestException(axis.name() + ".values[" + i + "]",
                        "(" + axis.field() + " " + axis.label(i) + "): " + e.field() + " " + e.rule());
            }
        }
        return new InvalidRequestException("base." + e.field(), e.rule() + " (in cell " + index + ": "
                + describe(index) + ")");
    }

    /** Cell {@code index}'s axis values, e.g. {@code guidanceScale 2, scheduler ddim}. */
    public String describe(int index) {
        String s = x.field() + " " + x.label(index % columns());
        return y == null ? s : s + ", " + y.field() + " " + y.label(index / columns());
    }

    /** The axes: x, and y where there is one. */
    public List<Axis> axes() {
        return y == null ? List.of(x) : List.of(x, y);
    }

    private void apply(ObjectNode body, Axis axis, int i) {
        if (axis.field().equals("prompt")) {
            String search = axis.values().get(0).asText();
            body.put("prompt", body.path("prompt").asText().replace(search, axis.values().get(i).asText()));
        } else {
            body.set(axis.field(), axis.values().get(i));
        }
    }

    /**
     * Reads a sweep body {@code {"base": {…}, "x": {"field": …, "values": […]}, "y": {…}}} ({@code y} optional).
     *
     * @throws InvalidRequestException naming {@code base}, {@code x.field}, {@code y.values} … for a malformed study
     */
    public static SweepPlan read(JsonNode body, int maxCells) {
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException("body", "must be a JSON object with base, x and optionally y");
        }
        Set<String> known = Set.of("base", "x", "y");
        body.fieldNames().forEachRemaining(name -> {
            if (!known.contains(name)) {
                throw new InvalidRequestException(name.length() > 100 ? name.substring(0, 100) : name,
                        "is not a known field; known fields are [base, x, y]");
            }
        });
        JsonNode base = body.get("base");
        if (base == null || !base.isObject()) {
            throw new InvalidRequestException("base", "is required: a job request, as POST /v1/jobs takes");
        }
        Axis x = axis("x", body.get("x"), true);
        Axis y = axis("y", body.get("y"), false);
        if (y != null && y.field().equals(x.field())) {
            throw new InvalidRequestException("y.field", "must differ from x.field (" + x.field() + ")");
        }
        long cells = (long) x.values().size() * (y == null ? 1 : y.values().size());
        if (cells > maxCells) {
            throw new InvalidRequestException(y == null ? "x.values" : "y.values", "make " + cells
                    + " cells; a sweep has at most " + maxCells);
        }
        for (Axis axis : y == null ? List.of(x) : List.of(x, y)) {
            if (axis.field().equals("prompt")) {
                String search = axis.values().get(0).asText();
                if (search.isEmpty() || !base.path("prompt").asText().contains(search)) {
                    throw new InvalidRequestException(axis.name() + ".values[0]", "must appear in base.prompt: a "
                            + "prompt axis replaces its first value in the prompt with each of its values");
                }
            }
        }
        return new SweepPlan((ObjectNode) base.deepCopy(), x, y);
    }

    private static Axis axis(String name, JsonNode node, boolean required) {
        if (node == null || node.isNull()) {
            if (required) {
                throw new InvalidRequestException(name, "is required: {\"field\": …, \"values\": […]}");
            }
            return null;
        }
        if (!node.isObject()) {
            throw new InvalidRequestException(name, "must be an object {\"field\": …, \"values\": […]}");
        }
        node.fieldNames().forEachRemaining(key -> {
            if (!key.equals("field") && !key.equals("values")) {
                throw new InvalidRequestException(name + "." + (key.length() > 100 ? key.substring(0, 100) : key),
                        "is not a known field; known fields are [field, values]");
            }
        });
        JsonNode field = node.get("field");
        if (field == null || !field.isTextual() || !FIELDS.containsKey(field.textValue())) {
            throw new InvalidRequestException(name + ".field", "must be one of " + new TreeSet<>(FIELDS.keySet()));
        }
        JsonNode values = node.get("values");
        if (values == null || !values.isArray() || values.isEmpty()) {
            throw new InvalidRequestException(name + ".values", "must be a non-empty array");
        }
        ValueType type = FIELDS.get(field.textValue());
        List<JsonNode> list = new ArrayList<>();
        Map<Object, Integer> seen = new HashMap<>();
        for (int i = 0; i < values.size(); i++) {
            JsonNode v = values.get(i);
            boolean fits = switch (type) {
                case NUMBER -> v.isNumber();
                case INTEGER -> v.isIntegralNumber();
                case SEED -> v.isIntegralNumber() || v.isTextual();
                case TEXT -> v.isTextual();
            };
            if (!fits) {
                throw new InvalidRequestException(name + ".values[" + i + "]", "must be "
                        + (type == ValueType.TEXT ? "a string" : type == ValueType.SEED ? "an integer or a string of digits"
                        : type == ValueType.INTEGER ? "an integer" : "a number") + " for " + field.textValue());
            }
            Integer first = seen.putIfAbsent(sameness(type, v), i);
            if (first != null) {
                throw new InvalidRequestException(name + ".values[" + i + "]", "repeats " + name + ".values[" + first
                        + "] (" + v.asText() + ")");
            }
            list.add(v);
        }
        return new Axis(name, field.textValue(), list);
    }

    /** What makes two values of an axis the same value: 1 and 1.0 are one guidance scale, 7 and "007" one seed. */
    private static Object sameness(ValueType type, JsonNode v) {
        BigDecimal d = v.isNumber() ? decimal(v)
                : type == ValueType.SEED && v.asText().matches("[0-9]{1,20}") ? new BigDecimal(new BigInteger(v.asText()))
                : null;
        if (d == null) {
            return v.asText();
        }
        return d.signum() == 0 ? BigDecimal.ZERO : d.stripTrailingZeros();
    }

    /** A JSON number's exact value, or null for one that has none (NaN, infinity). */
    private static BigDecimal decimal(JsonNode v) {
        try {
            return v.decimalValue();
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * An axis from the command line: {@code field=v1,v2,…} (numbers for numeric fields, text otherwise; no value
     * may contain a comma there, and spaces around a value are dropped). Errors name the option: {@code --sweep}
     * for axis {@code x}, {@code --sweep-y} for {@code y}.
     */
    public static Axis parseOption(String name, String spec) {
        String option = name.equals("x") ? "--sweep" : "--sweep-" + name;
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new InvalidRequestException(option, "must be FIELD=V1,V2,… (fields: "
                    + new TreeSet<>(FIELDS.keySet()) + ")");
        }
        String field = spec.substring(0, eq).trim();
        ValueType type = FIELDS.get(field);
        if (type == null) {
            throw new InvalidRequestException(option, "cannot vary " + field + "; fields: "
                    + new TreeSet<>(FIELDS.keySet()));
        }
        ArrayNode values = JsonNodeFactory.instance.arrayNode();
        for (String raw : spec.substring(eq + 1).split(",", -1)) {
            String text = raw.trim();
            try {
                switch (type) {
                    case NUMBER -> values.add(new BigDecimal(text));
                    case INTEGER -> values.add(Integer.parseInt(text));
                    case SEED, TEXT -> values.add(text);
                }
            } catch (NumberFormatException e) {
                throw new InvalidRequestException(option, field + ": not "
                        + (type == ValueType.INTEGER ? "an integer" : "a number") + ": '" + text + "'");
            }
        }
        ObjectNode node = JsonNodeFactory.instance.objectNode().put("field", field);
        node.set("values", values);
        return axis(name, node, true);
    }
}
