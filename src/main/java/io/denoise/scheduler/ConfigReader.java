package io.denoise.scheduler;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Typed access to a parsed {@code scheduler_config.json} (values as a JSON parser yields them); every error names
 * the key. Immutable.
 */
record ConfigReader(Map<String, ?> json) {

    Object raw(String key) {
        return json.get(key);
    }

    String string(String key) {
        Object v = raw(key);
        if (v == null || v instanceof String) {
            return (String) v;
        }
        throw wrongType(key, "a string", v);
    }

    boolean bool(String key, boolean fallback) {
        Boolean b = optionalBool(key);
        return b == null ? fallback : b;
    }

    Boolean optionalBool(String key) {
        Object v = raw(key);
        if (v == null || v instanceof Boolean) {
            return (Boolean) v;
        }
        throw wrongType(key, "a boolean", v);
    }

    Double number(String key) {
        Object v = raw(key);
        if (v == null) {
            return null;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw wrongType(key, "a number", v);
    }

    int integer(String key, int fallback) {
        Object v = raw(key);
        return v == null ? fallback : toInt(key, v);
    }

    List<Double> numbers(String key) {
        List<?> list = list(key);
        if (list == null) {
            return null;
        }
        List<Double> out = new ArrayList<>(list.size());
        for (Object o : list) {
            if (!(o instanceof Number n)) {
                throw wrongType(key, "a list of numbers", list);
            }
            out.add(n.doubleValue());
        }
        return Collections.unmodifiableList(out);
    }

    List<Integer> integers(String key) {
        List<?> list = list(key);
        if (list == null) {
            return List.of();
        }
        List<Integer> out = new ArrayList<>(list.size());
        for (Object o : list) {
            out.add(toInt(key, o));
        }
        return out;
    }

    <E extends Enum<E> & SchedulerConfig.ConfigValue> E choice(String key, Class<E> type, E fallback) {
        return choice(key, string(key), type, fallback);
    }

    static <E extends Enum<E> & SchedulerConfig.ConfigValue> E choice(String key, String value, Class<E> type, E fallback) {
        if (value == null) {
            return fallback;
        }
        for (E e : type.getEnumConstants()) {
            if (e.configValue().equals(value)) {
                return e;
            }
        }
        List<String> names = Arrays.stream(type.getEnumConstants()).map(SchedulerConfig.ConfigValue::configValue)
                .collect(Collectors.toList());
        throw new IllegalArgumentException(SchedulerConfig.unsupported(key, value, names));
    }

    private List<?> list(String key) {
        Object v = raw(key);
        if (v == null || v instanceof List) {
            return (List<?>) v;
        }
        throw wrongType(key, "a list", v);
    }

    private static int toInt(String key, Object v) {
        if (v instanceof Number n) {
            double d = n.doubleValue();
            if (d == Math.rint(d) && Math.abs(d) <= Integer.MAX_VALUE) {
                return (int) d;
            }
        }
        throw wrongType(key, "an integer", v);
    }

    private static IllegalArgumentException wrongType(String key, String expected, Object v) {
        return new IllegalArgumentException(key + ": expected " + expected + ", got " + v);
    }
}
